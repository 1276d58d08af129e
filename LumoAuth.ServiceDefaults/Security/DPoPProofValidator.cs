using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LumoAuth.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using StackExchange.Redis;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>What a request's DPoP proof showed: nothing (no proof), the JWK thumbprint of its key, or why it was refused.</summary>
public readonly record struct DPoPCheck(string? Thumbprint, string? Error, string? Description, string? Nonce = null)
{
    public static DPoPCheck None => default;

    public bool HasProof => Thumbprint is not null;

    public bool Failed => Error is not null;

    public static DPoPCheck Refused(string description, string error = DPoPProofValidator.InvalidProof) => new(null, error, description);
}

/// <summary>
/// Checks DPoP proofs (RFC 9449 §4.3) for the token endpoint and for every service that accepts DPoP-bound access tokens:
/// one proof, <c>typ</c> <c>dpop+jwt</c>, an advertised asymmetric <c>alg</c>, a public <c>jwk</c> that verifies the
/// signature, <c>htm</c>/<c>htu</c> naming this request, an <c>iat</c> of the last minute, a <c>jti</c> of at least 16
/// characters seen only once (Redis, shared by replicas; while Redis is unreachable, this process's own memory, so an
/// outage stops no DPoP traffic and a replay to the same replica is still caught), and, with an access token,
/// <c>ath</c> = its SHA-256. The caller says what URL the client addressed, since behind the gateway only the tenant's
/// public issuer tells it.
/// </summary>
public sealed partial class DPoPProofValidator(IConnectionMultiplexer redis, TimeProvider time, ILogger<DPoPProofValidator> logger)
{
    public const string HeaderName = "DPoP";
    public const string AuthorizationScheme = "DPoP";
    public const string InvalidProof = "invalid_dpop_proof";
    public const string UseNonce = "use_dpop_nonce";
    public const string NonceHeaderName = "DPoP-Nonce";
    public const string ProofType = "dpop+jwt";

    /// <summary>What discovery advertises as <c>dpop_signing_alg_values_supported</c>, and all that is accepted.</summary>
    public static readonly string[] Algorithms = [SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSha256];

    /// <summary>How old a proof may be; a little leeway the other way for clocks ahead of ours.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan FutureLeeway = TimeSpan.FromSeconds(5);
    private const int MinJtiLength = 16;
    private const int MaxJtiLength = 200;
    private const int MaxProofLength = 8 * 1024;
    private const int MinRsaKeyBits = 2048;

    private static readonly JsonWebTokenHandler Handler = new() { MapInboundClaims = false };
    private static readonly TimeSpan ReplayMemory = MaxAge + FutureLeeway + FutureLeeway;
    private const int LocalPruneThreshold = 10_000;

    /// <summary>Proofs seen while Redis was unreachable, with the time each may be forgotten (Unix ms).</summary>
    private readonly ConcurrentDictionary<string, long> _seenLocally = new(StringComparer.Ordinal);

    /// <summary>
    /// Checks the request's proof against its method and <paramref name="target"/>, and against
    /// <paramref name="accessToken"/> when one is presented with it. <see cref="DPoPCheck.None"/> when there is no proof.
    /// </summary>
    public async ValueTask<DPoPCheck> CheckAsync(HttpRequest request, Guid tenantId, PublicTarget target, string? accessToken, CancellationToken cancellationToken)
    {
        var headers = request.Headers[HeaderName];
        if (headers.Count == 0)
        {
            return DPoPCheck.None;
        }

        if (headers.Count > 1 || headers[0] is not { Length: > 0 and <= MaxProofLength } proof || proof.Contains(','))
        {
            return DPoPCheck.Refused("Send exactly one DPoP proof.");
        }

        var shape = ReadShape(proof);
        if (shape.Failed)
        {
            return shape.Check;
        }

        var result = await Handler.ValidateTokenAsync(proof, new TokenValidationParameters
        {
            IssuerSigningKey = shape.Key,
            ValidAlgorithms = Algorithms,
            ValidTypes = [ProofType],
            ValidateIssuer = false,
            ValidateAudience = false,
            ValidateLifetime = false,
            RequireExpirationTime = false,
            RequireSignedTokens = true,
            TryAllIssuerSigningKeys = true,
        });
        if (!result.IsValid || result.SecurityToken is not JsonWebToken token)
        {
            return DPoPCheck.Refused("The DPoP proof's signature does not verify with its key.");
        }

        var claims = CheckClaims(token, request.Method, target, accessToken);
        if (claims.Failed)
        {
            return claims;
        }

        var thumbprint = Base64UrlEncoder.Encode(shape.Key!.ComputeJwkThumbprint());
        return await IsFirstUseAsync(tenantId, thumbprint, token.Id)
            ?? new DPoPCheck(thumbprint, null, null, token.TryGetPayloadValue<string>("nonce", out var nonce) ? nonce : null);
    }

    /// <summary>Whether an <c>Authorization</c> header presents its token with the DPoP scheme (RFC 9449 §7.1).</summary>
    public static bool UsesDPoPScheme(HttpRequest request) =>
        request.Headers.Authorization.ToString().StartsWith(AuthorizationScheme + " ", StringComparison.OrdinalIgnoreCase);

    /// <summary>The token an <c>Authorization: DPoP …</c> header presents.</summary>
    public static string TokenOf(HttpRequest request) => request.Headers.Authorization.ToString()[(AuthorizationScheme.Length + 1)..].Trim();

    /// <summary>A resource server's challenge to a refused DPoP presentation, naming the accepted algorithms (§7.1).</summary>
    public static string Challenge(string? error) => error is null
        ? $"{AuthorizationScheme} algs=\"{string.Join(' ', Algorithms)}\""
        : $"{AuthorizationScheme} error=\"{error}\", algs=\"{string.Join(' ', Algorithms)}\"";

    /// <summary>The SHA-256 of an access token as a proof's <c>ath</c> carries it.</summary>
    public static string AccessTokenHash(string accessToken) =>
        Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(accessToken)));

    /// <summary>The <c>cnf.jkt</c> of an access token's claims, if it is bound to a DPoP key.</summary>
    public static string? BoundThumbprint(string? confirmation)
    {
        if (string.IsNullOrEmpty(confirmation))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(confirmation);
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("jkt", out var jkt) && jkt.ValueKind == JsonValueKind.String
                ? jkt.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Whether two thumbprints are the same key.</summary>
    public static bool SameKey(string? expected, string? actual) =>
        expected is not null && actual is not null
        && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(actual));

    private readonly record struct Shape(JsonWebKey? Key, DPoPCheck Check)
    {
        public bool Failed => Check.Failed;
    }

    /// <summary>The header's own rules: type, algorithm, and a public key that fits the algorithm.</summary>
    private static Shape ReadShape(string proof)
    {
        JsonWebToken token;
        JsonWebKey key;
        try
        {
            token = new JsonWebToken(proof);
            using var header = JsonDocument.Parse(Base64UrlEncoder.Decode(token.EncodedHeader));
            if (!header.RootElement.TryGetProperty("jwk", out var jwk) || jwk.ValueKind != JsonValueKind.Object)
            {
                return new(null, DPoPCheck.Refused("The DPoP proof must carry its public key as 'jwk'."));
            }

            key = new JsonWebKey(jwk.GetRawText());
        }
        catch (Exception e) when (e is ArgumentException or FormatException or JsonException or SecurityTokenException)
        {
            return new(null, DPoPCheck.Refused("The DPoP proof is not a well-formed JWT."));
        }

        if (!string.Equals(token.Typ, ProofType, StringComparison.OrdinalIgnoreCase))
        {
            return new(null, DPoPCheck.Refused("The DPoP proof's 'typ' must be 'dpop+jwt'."));
        }

        if (!Algorithms.Contains(token.Alg, StringComparer.Ordinal))
        {
            return new(null, DPoPCheck.Refused($"The DPoP proof's 'alg' must be one of {string.Join(", ", Algorithms)}."));
        }

        if (key.HasPrivateKey || !string.IsNullOrEmpty(key.D))
        {
            return new(null, DPoPCheck.Refused("The DPoP proof's 'jwk' must not contain a private key."));
        }

        var fits = token.Alg == SecurityAlgorithms.EcdsaSha256
            ? key.Kty == JsonWebAlgorithmsKeyTypes.EllipticCurve && key.Crv == JsonWebKeyECTypes.P256 && !string.IsNullOrEmpty(key.X) && !string.IsNullOrEmpty(key.Y)
            : key.Kty == JsonWebAlgorithmsKeyTypes.RSA && !string.IsNullOrEmpty(key.E) && Base64UrlLength(key.N) * 8 >= MinRsaKeyBits;
        if (!fits)
        {
            return new(null, DPoPCheck.Refused("The DPoP proof's 'jwk' does not fit its 'alg' (P-256 for ES256, RSA of 2048 bits or more otherwise)."));
        }

        // The signature is checked with, and the thumbprint taken of, the same key: only the members the thumbprint covers
        // (RFC 7638). Nothing else a jwk may carry (an x5c certificate, say) can then take part in verifying it, whatever
        // the token library would make of it.
        var bare = key.Kty == JsonWebAlgorithmsKeyTypes.EllipticCurve
            ? new JsonWebKey { Kty = key.Kty, Crv = key.Crv, X = key.X, Y = key.Y }
            : new JsonWebKey { Kty = key.Kty, N = key.N, E = key.E };
        return new(bare, DPoPCheck.None);
    }

    private DPoPCheck CheckClaims(JsonWebToken token, string method, PublicTarget target, string? accessToken)
    {
        if (!token.TryGetPayloadValue<string>("jti", out var jti) || jti is not { Length: >= MinJtiLength and <= MaxJtiLength })
        {
            return DPoPCheck.Refused($"The DPoP proof needs a 'jti' of {MinJtiLength} to {MaxJtiLength} characters.");
        }

        if (!token.TryGetPayloadValue<string>("htm", out var htm) || !string.Equals(htm, method, StringComparison.Ordinal))
        {
            return DPoPCheck.Refused($"The DPoP proof's 'htm' must be '{method}'.");
        }

        if (!token.TryGetPayloadValue<string>("htu", out var htu) || !target.Matches(uri => SameTarget(htu, uri)))
        {
            return DPoPCheck.Refused($"The DPoP proof's 'htu' must be '{target.Uri}'.");
        }

        if (!token.TryGetPayloadValue<long>("iat", out var iat))
        {
            return DPoPCheck.Refused("The DPoP proof needs an 'iat'.");
        }

        var age = time.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(iat, 0, 253_402_300_799));
        if (age > MaxAge || age < -FutureLeeway)
        {
            return DPoPCheck.Refused($"The DPoP proof must be created within {MaxAge.TotalSeconds:0} seconds of its use.");
        }

        if (accessToken is not null
            && (!token.TryGetPayloadValue<string>("ath", out var ath) || !SameKey(AccessTokenHash(accessToken), ath)))
        {
            return DPoPCheck.Refused("The DPoP proof's 'ath' must be the SHA-256 hash of the access token.");
        }

        return DPoPCheck.None;
    }

    /// <summary>RFC 9449 §4.3: compared without query and fragment, after the usual normalisation of scheme, host and port.</summary>
    private static bool SameTarget(string htu, string targetUri) =>
        Uri.TryCreate(htu, UriKind.Absolute, out var presented)
        && Uri.TryCreate(targetUri, UriKind.Absolute, out var expected)
        && string.Equals(presented.GetLeftPart(UriPartial.Path), expected.GetLeftPart(UriPartial.Path), StringComparison.Ordinal);

    /// <summary>A proof is good for one request: its key and jti are remembered as long as it could be accepted.</summary>
    private async ValueTask<DPoPCheck?> IsFirstUseAsync(Guid tenantId, string thumbprint, string jti)
    {
        var key = $"lumoauth:dpop-jti:{tenantId:N}:{thumbprint}:{jti}";
        bool first;
        try
        {
            first = await redis.GetDatabase().StringSetAsync(key, "1", ReplayMemory, When.NotExists);
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            LogUnavailable(logger, ex);
            first = FirstSeenLocally(key);
        }

        return first ? null : DPoPCheck.Refused("The DPoP proof has already been used.");
    }

    private bool FirstSeenLocally(string key)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (_seenLocally.Count > LocalPruneThreshold)
        {
            foreach (var (seen, forgetAt) in _seenLocally)
            {
                if (forgetAt <= now)
                {
                    _seenLocally.TryRemove(seen, out _);
                }
            }
        }

        return _seenLocally.TryAdd(key, now + (long)ReplayMemory.TotalMilliseconds)
            || (_seenLocally.TryGetValue(key, out var until) && until <= now && _seenLocally.TryUpdate(key, now + (long)ReplayMemory.TotalMilliseconds, until));
    }

    private static int Base64UrlLength(string? value) => string.IsNullOrEmpty(value) ? 0 : value.TrimEnd('=').Length * 3 / 4;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unreachable: DPoP proof replays are checked in this process's memory only")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}
