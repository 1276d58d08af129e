using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Caching;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>Verifies an API key for a tenant: admin's database in admin, admin's internal API elsewhere.</summary>
public interface IApiKeySource
{
    Task<VerifiedApiKey?> VerifyAsync(Guid tenantId, string key, CancellationToken cancellationToken);
}

/// <summary>
/// Caches verifications briefly (keyed by the key's SHA-256, never the key) and drops a key at once when
/// its revocation event arrives. A key in steady use is re-verified in the background before its entry expires.
/// While admin cannot be reached, a key verified before is taken as last verified for up to
/// <see cref="StaleIfAdminDown"/> (revocations happen in admin and evict it here); a key not verified before answers 503.
/// </summary>
public sealed partial class ApiKeyVerifier(IApiKeySource source, IMemoryCache cache, TimeProvider time, ILogger<ApiKeyVerifier> logger)
{
    private static readonly TimeSpan Valid = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Invalid = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Shorter than a tenant's: a revocation whose event was still in admin's outbox when admin went down is honoured
    /// at most this late.
    /// </summary>
    public static readonly TimeSpan StaleIfAdminDown = TimeSpan.FromMinutes(5);

    private readonly ReadThroughCache<VerifiedApiKey?> _verifications = new(cache, time, verified => verified is null ? Invalid : Valid)
    {
        StaleIfError = StaleIfAdminDown,
        ServedStale = (_, exception) => LogServedStale(logger, exception),
    };
    private readonly ConcurrentDictionary<Guid, string> _cacheKeysById = new();

    public async ValueTask<VerifiedApiKey?> VerifyAsync(Guid tenantId, string key, CancellationToken cancellationToken)
    {
        var cacheKey = $"apikey:{tenantId:N}:{Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(key)))}";
        VerifiedApiKey? verified;
        try
        {
            verified = await _verifications.GetAsync(cacheKey, (source, _cacheKeysById, tenantId, key, cacheKey), static async lookup =>
            {
                var verified = await lookup.source.VerifyAsync(lookup.tenantId, lookup.key, CancellationToken.None);
                if (verified is not null)
                {
                    lookup._cacheKeysById[verified.ApiKeyId] = lookup.cacheKey;
                }

                return verified;
            }, cancellationToken);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("API keys cannot be verified: admin cannot be reached.", exception);
        }

        return verified is not null && !IsExpired(verified) ? verified : null;
    }

    public void Evict(Guid apiKeyId)
    {
        if (_cacheKeysById.TryRemove(apiKeyId, out var cacheKey))
        {
            _verifications.Remove(cacheKey);
        }
        else
        {
            // Not cached here yet, but a first verification may be on its way with an answer from before the revocation.
            _verifications.DiscardLoadsInFlight();
        }
    }

    /// <summary>Forgets every verification, for when <c>ApiKeyRevoked</c> events may have been missed.</summary>
    public void Clear()
    {
        _verifications.Clear();
        _cacheKeysById.Clear();
    }

    private static bool IsExpired(VerifiedApiKey key) => key.ExpiresAt is { } at && at <= DateTimeOffset.UtcNow;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin could not be asked to verify an API key; taking it as last verified")]
    private static partial void LogServedStale(ILogger logger, Exception exception);
}

/// <summary>Asks admin's internal API.</summary>
public sealed class AdminApiKeySource(IHttpClientFactory httpClientFactory) : IApiKeySource
{
    public async Task<VerifiedApiKey?> VerifyAsync(Guid tenantId, string key, CancellationToken cancellationToken)
    {
        var client = httpClientFactory.CreateClient(Http.InternalClients.Admin);
        using var request = Http.RepeatableRequests.PostJson(InternalRoutes.VerifyApiKey, new VerifyApiKeyRequest(tenantId, key));
        using var response = await client.SendAsync(request, cancellationToken);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<VerifiedApiKey>(response.Content, cancellationToken);
    }
}

/// <summary>
/// <c>X-API-Key: …</c>, <c>Authorization: ApiKey …</c> or <c>Authorization: Bearer lmk_…</c> (as the docs' examples and SCIM
/// clients send a key), valid only for the tenant in the path.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyVerifier verifier,
    TenantContext tenantContext)
    : EnvelopeAuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string HeaderName = "X-API-Key";
    public const string AuthorizationPrefix = "ApiKey ";

    /// <summary>How every API key begins; a bearer credential that begins so is a key, never a JWT (which begins <c>ey</c>).</summary>
    public const string KeyPrefix = "lmk_";

    public static string? ReadKey(HttpRequest request)
    {
        var header = request.Headers[HeaderName].ToString();
        if (header.Length > 0)
        {
            return header.Trim();
        }

        var authorization = request.Headers.Authorization.ToString().AsSpan().Trim();
        if (authorization.StartsWith(AuthorizationPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return authorization[AuthorizationPrefix.Length..].Trim().ToString();
        }

        return authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
               && authorization["Bearer ".Length..].Trim() is var bearer && bearer.StartsWith(KeyPrefix, StringComparison.Ordinal)
            ? bearer.ToString()
            : null;
    }

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var key = ReadKey(Request);
        if (string.IsNullOrEmpty(key))
        {
            return AuthenticateResult.NoResult();
        }

        if (!tenantContext.HasTenant)
        {
            return Fail(ErrorCodes.Unauthorized, "API keys are valid only on tenant paths");
        }

        // Keys are short; anything huge is not ours and is refused before hashing or a network call.
        if (key.Length > 256)
        {
            return Fail(ErrorCodes.Unauthorized, "Invalid API key");
        }

        var verified = await verifier.VerifyAsync(tenantContext.TenantId, key, Context.RequestAborted);
        if (verified is null || verified.TenantId != tenantContext.TenantId)
        {
            return Fail(ErrorCodes.Unauthorized, "Invalid, expired or revoked API key");
        }

        var claims = new List<Claim>
        {
            new(LumoClaims.Subject, "apikey:" + verified.ApiKeyId),
            new(LumoClaims.ApiKeyId, verified.ApiKeyId.ToString()),
            new(LumoClaims.TenantId, verified.TenantId.ToString()),
            new(LumoClaims.AuthMethod, "api_key"),
        };
        claims.AddRange(verified.Scopes.Select(s => new Claim(LumoClaims.Scope, s)));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme.Name, LumoClaims.Subject, "role"));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name));
    }

    protected override string ChallengeHeader(string? errorCode) => "ApiKey";
}
