using System.Collections.Concurrent;
using System.Security.Cryptography;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using StackExchange.Redis;

namespace LumoAuth.Agents.Features.AAuth;

/// <summary>Whether AAuth parties' key sets and identifiers may be on loopback and private addresses: off in production (SSRF), on for tests.</summary>
public sealed class AAuthOptions
{
    public const string SectionName = "Agents:AAuth";

    public bool AllowPrivateTargets { get; set; }
}

/// <summary>
/// A request whose signature verified: the key that made it, that key's thumbprint (what tokens are bound to), and the
/// bytes it signed.
/// </summary>
public sealed record SignedCaller(JsonWebKey Key, string Thumbprint, MessageSignature Signature, byte[] SignedBase)
{
    /// <summary>
    /// What the replay memory keeps: the key and what it signed, not the signature's bytes, which ECDSA lets a copier
    /// rewrite (s for n − s) into a second valid signature of the same request.
    /// </summary>
    public string Fingerprint() => Convert.ToHexString(SHA256.HashData([.. System.Text.Encoding.ASCII.GetBytes(Thumbprint + "\n"), .. SignedBase]));
}

/// <summary>
/// Checks that a request is signed (RFC 9421) by a key of the party it claims to be: the signature covers the method, the
/// URL the caller addressed and, with a body, a <c>Content-Digest</c> (RFC 9530) that matches it; it was made within
/// <see cref="MaxAge"/>; it verifies with one of the candidate keys; and it is seen once (a copy is refused for
/// <see cref="ReplayMemory"/>).
/// </summary>
public sealed partial class AAuthCallers(
    OpenIdProviders providers, IConnectionMultiplexer redis, TimeProvider time, IOptions<LumoAuthOptions> lumo, ILogger<AAuthCallers> logger)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan FutureLeeway = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan ReplayMemory = TimeSpan.FromMinutes(10);

    /// <summary>At most this many of a party's keys are tried for one signature.</summary>
    private const int MaxKeysTried = 20;

    private readonly ConcurrentDictionary<string, long> _seenLocally = new(StringComparer.Ordinal);

    /// <summary>The request's signature if its shape, age, coverage and digest are right; else why not.</summary>
    public (MessageSignature? Signature, string? Problem) Read(HttpRequest request, ReadOnlySpan<byte> body)
    {
        var (signature, problem) = MessageSignature.Read(request);
        if (signature is null)
        {
            return (null, problem);
        }

        var covered = signature.Covered;
        if (!covered.Contains("@method") || !(covered.Contains("@target-uri") || (covered.Contains("@authority") && covered.Contains("@path"))))
        {
            return (null, "The signature must cover @method and @target-uri.");
        }

        if (signature.Created is not { } created)
        {
            return (null, "The signature must say when it was made ('created').");
        }

        var now = time.GetUtcNow();
        var made = DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(created, 0, 253_402_300_799));
        if (made < now - MaxAge || made > now + FutureLeeway)
        {
            return (null, "The signature is stale: its 'created' time is too far from now.");
        }

        // A signer's own end to its signature (RFC 9421 §2.3 expires), when it names one.
        if (signature.Expires is { } expires && DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(expires, 0, 253_402_300_799)) < now)
        {
            return (null, "The signature has expired ('expires').");
        }

        if (signature.Algorithm is { } algorithm && !SigningKeys.MessageAlgorithms.Contains(algorithm))
        {
            return (null, $"The signature algorithm must be one of {string.Join(", ", SigningKeys.MessageAlgorithms)}.");
        }

        if (body.Length > 0 || request.Headers.ContainsKey("Content-Digest"))
        {
            if (!covered.Contains("content-digest"))
            {
                return (null, "A request with a body must sign its Content-Digest.");
            }

            if (!DigestMatches(request.Headers["Content-Digest"].ToString(), body))
            {
                return (null, "The Content-Digest does not match the body (sha-256 or sha-512, RFC 9530).");
            }
        }

        return (signature, null);
    }

    /// <summary>
    /// The key among <paramref name="candidates"/> that made the signature (the one its <c>keyid</c> fragment names, when
    /// it names one), or why none did.
    /// </summary>
    public (SignedCaller? Caller, string? Problem) Verify(HttpRequest request, TenantInfo tenant, MessageSignature signature, IEnumerable<JsonWebKey> candidates)
    {
        var target = PublicTarget.Of(request, lumo.Value, tenant);
        var kid = KeyIdFragment(signature.KeyId);
        var all = candidates.Take(MaxKeysTried).ToList();
        // A named key is that key (a key without an id counts only when it is the party's one key).
        var keys = kid is null ? all : all.Where(k => k.Kid == kid || (k.Kid is null && all.Count == 1)).ToList();
        // A set of several keys is searched by key id only: trying each on every request would let a caller make us work.
        if (kid is null && keys.Count > 1)
        {
            return (null, "Name the key that signed: the signature's keyid must end with #kid (the caller has several keys).");
        }

        // The signed URL is the one addressed, query included (RFC 9421 §2.2.2).
        var query = request.QueryString.Value ?? string.Empty;
        foreach (var key in keys)
        {
            var algorithm = signature.Algorithm ?? SigningKeys.DefaultAlgorithm(key);
            if (algorithm is null)
            {
                continue;
            }

            foreach (var uri in new[] { target.Uri, target.Alternate })
            {
                if (uri is null || signature.BaseOf(request, uri + query) is not ({ } signed, null))
                {
                    continue;
                }

                if (SigningKeys.Verify(key, algorithm, signed, signature.Value))
                {
                    return (new SignedCaller(key, SigningKeys.Thumbprint(key), signature, signed), null);
                }
            }
        }

        return (null, "Signature verification failed: no key of the caller verifies it over this request.");
    }

    /// <summary>
    /// The keys registered for a party: inline, or fetched from its key set URL, or — neither given — from the key set its
    /// own metadata names (<see cref="AgentMetadataUrl"/>, <see cref="ResourceMetadataUrl"/>); again when
    /// <paramref name="refetch"/>, for a key the cached set lacks. Empty when they cannot be had.
    /// </summary>
    public async Task<IReadOnlyList<JsonWebKey>> KeysOfAsync(string? jwks, string? jwksUri, string metadataUrl, bool refetch, CancellationToken cancellationToken)
    {
        if (jwks is not null)
        {
            return new JsonWebKeySet(jwks).Keys.Where(SigningKeys.IsUsablePublicKey).ToList();
        }

        jwksUri ??= await providers.JwksUriOfAsync(metadataUrl, refetch, cancellationToken);
        if (jwksUri is null)
        {
            return [];
        }

        var keys = await providers.KeySetAsync(jwksUri, refetch, cancellationToken);
        return keys?.OfType<JsonWebKey>().Where(SigningKeys.IsUsablePublicKey).Take(MaxKeysTried).ToList() ?? [];
    }

    /// <summary>Whether this signature is new; a copy is refused. Without Redis, this process's memory answers.</summary>
    public async Task<bool> IsFirstUseAsync(Guid tenantId, SignedCaller caller)
    {
        var key = $"lumoauth:aauth-sig:{tenantId:N}:{caller.Fingerprint()}";
        try
        {
            return await redis.GetDatabase().StringSetAsync(key, "1", ReplayMemory, When.NotExists);
        }
        catch (Exception exception) when (exception is RedisException or RedisTimeoutException)
        {
            LogUnavailable(logger, exception);
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            if (_seenLocally.Count > 10_000)
            {
                foreach (var expired in _seenLocally.Where(e => e.Value <= now))
                {
                    _seenLocally.TryRemove(expired.Key, out _);
                }
            }

            return _seenLocally.TryAdd(key, now + (long)ReplayMemory.TotalMilliseconds);
        }
    }

    /// <summary>Where an agent publishes its metadata (the docs' document "hosted by the agent").</summary>
    public static string AgentMetadataUrl(string identifier) => identifier.TrimEnd('/') + "/.well-known/aauth-agent";

    /// <summary>Where a resource publishes its metadata (the docs' document "hosted by the resource").</summary>
    public static string ResourceMetadataUrl(string identifier) => identifier.TrimEnd('/') + "/.well-known/aauth-resource";

    /// <summary>The party a <c>keyid</c> names: the URL before its <c>#</c>.</summary>
    public static string? PartyOf(string? keyId) => keyId is { Length: > 0 } id ? (id.IndexOf('#') is var hash and >= 0 ? id[..hash] : id) : null;

    private static string? KeyIdFragment(string? keyId) => keyId?.IndexOf('#') is { } hash and >= 0 && hash < keyId.Length - 1 ? keyId[(hash + 1)..] : null;

    private static bool DigestMatches(string header, ReadOnlySpan<byte> body)
    {
        if (header.Length is 0 or > 1024)
        {
            return false;
        }

        var matched = false;
        foreach (var member in header.Split(','))
        {
            var equals = member.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                return false;
            }

            var name = member[..equals].Trim().ToLowerInvariant();
            var value = member[(equals + 1)..].Trim();
            if (value.Length < 3 || value[0] != ':' || value[^1] != ':')
            {
                return false;
            }

            byte[] claimed;
            try
            {
                claimed = Convert.FromBase64String(value[1..^1]);
            }
            catch (FormatException)
            {
                return false;
            }

            byte[]? actual = name switch
            {
                "sha-256" => SHA256.HashData(body),
                "sha-512" => SHA512.HashData(body),
                _ => null,
            };
            if (actual is not null)
            {
                // Every digest we can check must match; one we cannot is ignored (RFC 9530 §2).
                if (!CryptographicOperations.FixedTimeEquals(actual, claimed))
                {
                    return false;
                }

                matched = true;
            }
        }

        return matched;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unreachable: AAuth signature replays are checked in this process's memory only")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}
