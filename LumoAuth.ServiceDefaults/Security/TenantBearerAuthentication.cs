using LumoAuth.ServiceDefaults.Http;
using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text.Encodings.Web;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Caching;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>Fetches a tenant's published JWKS (the token service's by default).</summary>
public interface IJwksSource
{
    Task<JsonWebKeySet> GetAsync(TenantInfo tenant, CancellationToken cancellationToken);
}

public sealed class TokenServiceJwksSource(IHttpClientFactory httpClientFactory) : IJwksSource
{
    public async Task<JsonWebKeySet> GetAsync(TenantInfo tenant, CancellationToken cancellationToken)
    {
        var client = httpClientFactory.CreateClient(Http.InternalClients.Token);
        var json = await client.GetStringAsync(new Uri($"/t/{tenant.Slug}/api/v1/.well-known/jwks.json", UriKind.Relative), cancellationToken);
        return new JsonWebKeySet(json);
    }
}

/// <summary>
/// Per-tenant signing keys, cached for five minutes (reloaded in the background before then while in use); an
/// unknown <c>kid</c> triggers one refresh at most every ten seconds, so key rotation is picked up without letting
/// garbage tokens hammer the token service. A failed load is remembered for five seconds: callers in that window are
/// not made to wait out another round of retries against a service that is down. While loads fail, the last key set
/// fetched is used for up to an hour after it was fetched (as Microsoft.IdentityModel's "last known good"), so a
/// token-service outage does not stop every service from validating tokens; past that, or with none, callers are refused.
/// An eviction (tenant changed, key rotated) forgets both.
/// </summary>
public sealed partial class JwksCache(IJwksSource source, IMemoryCache cache, TimeProvider time, ILogger<JwksCache>? logger = null)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan MinRefreshInterval = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan FailureBackoff = TimeSpan.FromSeconds(5);
    public static readonly TimeSpan LastKnownGoodLifetime = TimeSpan.FromHours(1);
    private readonly ReadThroughCache<IReadOnlyList<SecurityKey>> _keys = new(cache, time, _ => Lifetime);
    private readonly ConcurrentDictionary<Guid, (DateTimeOffset Until, HttpRequestException Error)> _failures = new();
    private readonly ConcurrentDictionary<Guid, LastKnownGood> _lastKnownGood = new();

    /// <summary>Bumped by <see cref="Evict"/>: a fetch that began before an eviction does not become the fallback set.</summary>
    private long _evictions;

    public async ValueTask<IReadOnlyList<SecurityKey>> GetKeysAsync(TenantInfo tenant, bool forceRefresh, CancellationToken cancellationToken)
    {
        if (_failures.TryGetValue(tenant.Id, out var failure))
        {
            if (time.GetUtcNow() < failure.Until)
            {
                return TryLastKnownGood(tenant.Id, out var stale)
                    ? stale
                    : throw new HttpRequestException("The signing keys could not be fetched a moment ago; not asking again yet.", failure.Error);
            }

            _failures.TryRemove(new(tenant.Id, failure));
        }

        try
        {
            return await _keys.GetAsync(
                Key(tenant.Id), (Cache: this, Tenant: tenant), static lookup => lookup.Cache.LoadAsync(lookup.Tenant),
                forceRefresh ? MinRefreshInterval : null, cancellationToken);
        }
        catch (HttpRequestException exception)
        {
            _failures[tenant.Id] = (time.GetUtcNow() + FailureBackoff, exception);
            if (!TryLastKnownGood(tenant.Id, out var stale))
            {
                throw;
            }

            if (logger is not null)
            {
                LogServingLastKnownGood(logger, exception, tenant.Slug);
            }

            return stale;
        }
    }

    public void Evict(Guid tenantId)
    {
        Interlocked.Increment(ref _evictions);
        _failures.TryRemove(tenantId, out _);
        _lastKnownGood.TryRemove(tenantId, out _);
        _keys.Remove(Key(tenantId));
    }

    /// <summary>
    /// Forgets every tenant's key set, for when <c>SigningKeyRotated</c> events may have been missed; the next request
    /// fetches afresh. The last known good sets stay: without a known rotation they are only an outage's fallback.
    /// </summary>
    public void Clear()
    {
        _failures.Clear();
        _keys.Clear();
    }

    private async Task<IReadOnlyList<SecurityKey>> LoadAsync(TenantInfo tenant)
    {
        var evictions = Interlocked.Read(ref _evictions);
        var set = await source.GetAsync(tenant, CancellationToken.None);
        var keys = set.GetSigningKeys().ToArray();
        if (Interlocked.Read(ref _evictions) == evictions)
        {
            var good = new LastKnownGood(keys, time.GetUtcNow());
            _lastKnownGood[tenant.Id] = good;
            if (Interlocked.Read(ref _evictions) != evictions)
            {
                // An eviction came between the check and the store (a rotation without grace): it wins.
                _lastKnownGood.TryRemove(new KeyValuePair<Guid, LastKnownGood>(tenant.Id, good));
            }
        }

        return keys;
    }

    private bool TryLastKnownGood(Guid tenantId, out IReadOnlyList<SecurityKey> keys)
    {
        var found = _lastKnownGood.TryGetValue(tenantId, out var good) && time.GetUtcNow() - good.FetchedAt < LastKnownGoodLifetime;
        keys = found ? good!.Keys : [];
        return found;
    }

    private static string Key(Guid tenantId) => $"jwks:{tenantId:N}";

    private sealed record LastKnownGood(IReadOnlyList<SecurityKey> Keys, DateTimeOffset FetchedAt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Signing keys of tenant {TenantSlug} could not be refreshed; validating with the last key set fetched")]
    private static partial void LogServingLastKnownGood(ILogger logger, Exception exception, string tenantSlug);
}

/// <summary>
/// Validates RFC 9068 access tokens locally: signed by the tenant's key, issued by the tenant in the
/// path (a token of tenant A is refused on tenant B's paths), audience = that tenant's API. A token bound to a
/// DPoP key (<c>cnf.jkt</c>, RFC 9449) is accepted only with the <c>DPoP</c> scheme and a fresh proof by that key.
/// </summary>
public sealed class TenantBearerHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    JwksCache jwks,
    TenantContext tenantContext,
    IOptions<LumoAuthOptions> lumoOptions,
    IEnumerable<IAccessTokenDenyList> denyLists,
    DPoPProofValidator dpop)
    : EnvelopeAuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    private static readonly JsonWebTokenHandler TokenHandler = new() { MapInboundClaims = false };

    private static bool Decodes(string token)
    {
        try
        {
            TokenHandler.ReadJsonWebToken(token);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var authorization = Request.Headers.Authorization.ToString();
        var presentedWithDPoP = DPoPProofValidator.UsesDPoPScheme(Request);
        if (!presentedWithDPoP && !authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }

        var token = authorization[(authorization.IndexOf(' ') + 1)..].Trim();
        // Garbage is refused before any key lookup, so it costs no call to the token service: three dot-separated parts are
        // not enough, the header and payload must decode as JSON.
        if (!tenantContext.HasTenant || token.Length == 0 || token.Length > 16 * 1024 || !TokenHandler.CanReadToken(token) || !Decodes(token))
        {
            return Fail(ErrorCodes.InvalidToken, "Invalid access token");
        }

        var tenant = tenantContext.Tenant!;
        var issuers = lumoOptions.Value.IssuersOf(tenant);
        TokenValidationResult result;
        try
        {
            result = await ValidateAsync(token, tenant, issuers, forceRefresh: false);
            if (result.Exception is SecurityTokenSignatureKeyNotFoundException)
            {
                result = await ValidateAsync(token, tenant, issuers, forceRefresh: true);
            }
        }
        catch (HttpRequestException ex)
        {
            // Keys unavailable: refuse (never accept unverified), and say why in the log.
            Logger.LogWarning(ex, "Signing keys of tenant {TenantSlug} could not be fetched", tenant.Slug);
            return Fail(ErrorCodes.InvalidToken, "The access token could not be verified");
        }

        if (!result.IsValid)
        {
            return Fail(ErrorCodes.InvalidToken, "The access token is expired or invalid");
        }

        var facts = AccessTokenFacts.From(
            result.ClaimsIdentity.FindFirst("jti")?.Value, result.ClaimsIdentity.FindFirst("client_id")?.Value, result.ClaimsIdentity.FindFirst("iat")?.Value,
            result.ClaimsIdentity.FindFirst("sub")?.Value);
        foreach (var denyList in denyLists)
        {
            if (await denyList.IsRevokedAsync(tenant.Id, facts, Context.RequestAborted))
            {
                return Fail(ErrorCodes.InvalidToken, "The access token has been revoked");
            }
        }

        if (await CheckProofOfPossessionAsync(token, result.ClaimsIdentity.FindFirst("cnf")?.Value, presentedWithDPoP, tenant) is { } refused)
        {
            return refused;
        }

        // How the caller authenticated (and with which API key) is ours to say, never a claim the token itself carries.
        var identity = new ClaimsIdentity(
            result.ClaimsIdentity.Claims.Where(c => c.Type is not (LumoClaims.AuthMethod or LumoClaims.ApiKeyId)), Scheme.Name, LumoClaims.Subject, "role");
        identity.AddClaim(new Claim(LumoClaims.AuthMethod, "bearer"));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    /// <summary>
    /// RFC 9449 §7: a bound token needs the DPoP scheme and a proof by its key for this very request; a plain one, Bearer.
    /// RFC 8705 §3: a certificate-bound one, the certificate.
    /// </summary>
    private async Task<AuthenticateResult?> CheckProofOfPossessionAsync(string token, string? confirmation, bool presentedWithDPoP, TenantInfo tenant)
    {
        // RFC 8705 §3: a certificate-bound token only over mutual TLS with that very certificate (forwarded by the gateway).
        if (!ForwardedClientCertificateMiddleware.MayPresent(confirmation, Context.Connection.ClientCertificate))
        {
            return Fail(ErrorCodes.InvalidToken, "This access token is bound to a client certificate: present it over mutual TLS with that certificate");
        }

        var bound = DPoPProofValidator.BoundThumbprint(confirmation);
        if (bound is null)
        {
            return presentedWithDPoP ? Fail(ErrorCodes.InvalidToken, "The DPoP scheme is only for DPoP-bound access tokens") : null;
        }

        if (!presentedWithDPoP)
        {
            return Fail(ErrorCodes.InvalidToken, "This access token is bound to a DPoP key: present it with the DPoP scheme and a proof");
        }

        var target = PublicTarget.Of(Request, lumoOptions.Value, tenant);
        var proof = await dpop.CheckAsync(Request, tenant.Id, target, token, Context.RequestAborted);
        if (proof.Failed)
        {
            return Fail(proof.Error!, proof.Description!);
        }

        return !proof.HasProof ? Fail(DPoPProofValidator.InvalidProof, "A DPoP proof is required with a DPoP-bound access token")
            : !DPoPProofValidator.SameKey(bound, proof.Thumbprint) ? Fail(DPoPProofValidator.InvalidProof, "The DPoP proof is not signed by the key the access token is bound to")
            : null;
    }

    private async Task<TokenValidationResult> ValidateAsync(string token, TenantInfo tenant, IReadOnlyList<string> issuers, bool forceRefresh)
    {
        var keys = await jwks.GetKeysAsync(tenant, forceRefresh, Context.RequestAborted);
        return await TokenHandler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            ValidIssuers = issuers,
            ValidAudiences = issuers,
            IssuerSigningKeys = keys,
            ValidTypes = ["at+jwt", "application/at+jwt"],
            ClockSkew = TimeSpan.FromSeconds(30),
            RequireExpirationTime = true,
            RequireSignedTokens = true,
        });
    }

    protected override string ChallengeHeader(string? errorCode) =>
        errorCode == DPoPProofValidator.InvalidProof || DPoPProofValidator.UsesDPoPScheme(Request)
            ? DPoPProofValidator.Challenge(errorCode)
            : errorCode is null ? "Bearer" : $"Bearer error=\"{errorCode}\"";

    protected override string? ForbiddenChallengeHeader() => ChallengeHeader(ErrorCodes.InsufficientScope);
}

/// <summary>
/// Stateless tokens are revoked by <c>jti</c>, all at once for a client (every token it was issued up to a cut-off, when
/// it is deactivated or deleted), or for a user (every token issued to them before a cut-off: blocked, deleted, signed out
/// everywhere); the token service's deny-list plugs in here.
/// </summary>
public interface IAccessTokenDenyList
{
    ValueTask<bool> IsRevokedAsync(Guid tenantId, AccessTokenFacts token, CancellationToken cancellationToken);
}

/// <summary>
/// What revocation looks at in an access token: its <c>jti</c>, its client, when it was issued and its subject (a user's
/// id; for a client's own token, the client's id, which no user cut-off names).
/// </summary>
public readonly record struct AccessTokenFacts(string? Jti, string? ClientId, DateTimeOffset? IssuedAt, string? Subject = null)
{
    /// <summary>From the claims as they appear in the JWT (<c>iat</c> in Unix seconds).</summary>
    public static AccessTokenFacts From(string? jti, string? clientId, string? issuedAt, string? subject) =>
        new(jti, clientId,
            long.TryParse(issuedAt, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
                && seconds <= 253_402_300_799
                ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                : null,
            subject);

    /// <summary>The subject when it is someone other than the client itself: the one a user cut-off may name.</summary>
    public string? UserSubject => Subject is { Length: > 0 } subject && subject != ClientId ? subject : null;
}
