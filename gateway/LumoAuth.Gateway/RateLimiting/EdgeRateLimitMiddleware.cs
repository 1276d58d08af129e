using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.Extensions.Options;

namespace LumoAuth.Gateway.RateLimiting;

/// <summary>
/// Fixed-window limits at the edge, per category and caller: credential endpoints by client address
/// and tenant (brute force), APIs by credential (a hash of the key or token, never the secret itself).
/// Every limited response carries <c>X-RateLimit-Limit/Remaining/Reset</c>; a refusal is 429 with
/// <c>Retry-After</c>, in the OAuth error format on OAuth endpoints and the envelope elsewhere.
/// </summary>
public sealed class EdgeRateLimitMiddleware : IDisposable
{
    private readonly RequestDelegate _next;
    private readonly EdgeRateLimitOptions _options;
    private readonly TimeProvider _time;
    private readonly PartitionedRateLimiter<string> _limiter;

    public EdgeRateLimitMiddleware(RequestDelegate next, IOptions<EdgeRateLimitOptions> options, TimeProvider time)
    {
        _next = next;
        _options = options.Value;
        _time = time;
        _limiter = PartitionedRateLimiter.Create<string, string>(key =>
        {
            var limit = _options.Categories[key[..key.IndexOf('|', StringComparison.Ordinal)]];
            return RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
            {
                PermitLimit = limit.PermitLimit,
                Window = TimeSpan.FromSeconds(limit.WindowSeconds),
                QueueLimit = 0,
                AutoReplenishment = true,
            });
        });
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var category = _options.Enabled ? Categorize(context.Request) : null;
        if (category is null || !_options.Categories.TryGetValue(category, out var limit))
        {
            await _next(context);
            return;
        }

        var key = $"{category}|{CallerOf(context, category)}";
        using var lease = _limiter.AttemptAcquire(key);
        var remaining = _limiter.GetStatistics(key)?.CurrentAvailablePermits ?? 0;
        var windowEnd = WindowEnd(limit.WindowSeconds);
        context.Response.Headers["X-RateLimit-Limit"] = limit.PermitLimit.ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["X-RateLimit-Remaining"] = Math.Max(0, remaining).ToString(CultureInfo.InvariantCulture);
        context.Response.Headers["X-RateLimit-Reset"] = windowEnd.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        if (lease.IsAcquired)
        {
            await _next(context);
            return;
        }

        var retryAfter = RetryAfter.Seconds(lease, windowEnd - _time.GetUtcNow());
        context.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        await ErrorWriter.WriteAsync(context, new ApiError("Rate limit exceeded", 429, ErrorCodes.RateLimitExceeded, new { retryAfter }));
    }

    public void Dispose() => _limiter.Dispose();

    /// <summary>
    /// Which limit applies; null for paths the edge does not limit (health, discovery, JWKS). Paths compare ignoring case, as
    /// the routes behind the edge do: <c>/OAuth/Token</c> reaches the token endpoint, so it counts as one.
    /// </summary>
    public static string? Categorize(HttpRequest request)
    {
        var path = Canonical(request.Path.Value ?? string.Empty);
        if (path.StartsWith("/api/v1/tenants", StringComparison.OrdinalIgnoreCase))
        {
            return EdgeCategories.Platform;
        }

        // Discovery and key sets are public, cacheable and needed by every validator: not limited here. Only where they live
        // (a '.well-known' segment deeper in, such as an attribute's id, is an ordinary path).
        if (!path.StartsWith("/t/", StringComparison.OrdinalIgnoreCase) || IsDiscoveryPath(path))
        {
            return null;
        }

        // The token endpoint and the two that start a grant a client then polls it for (CIBA, device flow).
        if (path.Contains("/api/v1/oauth/token", StringComparison.OrdinalIgnoreCase) || path.Contains("/api/v1/oauth/bc-authorize", StringComparison.OrdinalIgnoreCase)
            || path.Contains("/api/v1/oauth/device_authorization", StringComparison.OrdinalIgnoreCase))
        {
            return EdgeCategories.Token;
        }

        // New accounts and new clients (self sign-up, invitations, RFC 7591 under each of its paths): 5 a minute per address.
        if (HttpMethods.IsPost(request.Method) && IsRegistrationPath(path))
        {
            return EdgeCategories.Registration;
        }

        if (path.Contains("/api/v1/oauth/authorize", StringComparison.OrdinalIgnoreCase) || path.Contains("/api/v1/oauth/par", StringComparison.OrdinalIgnoreCase))
        {
            return EdgeCategories.Authorize;
        }

        if (path.Contains("/api/v1/oauth/introspect", StringComparison.OrdinalIgnoreCase) || path.Contains("/api/v1/oauth/revoke", StringComparison.OrdinalIgnoreCase))
        {
            return EdgeCategories.Introspection;
        }

        // What checks a credential or tells whether something exists: sign-in and its helpers, an e-mail-first lookup
        // (GET /login?login_hint=…), a device's user code looked up on the verification page (RFC 8628 §5.1).
        if ((IsLoginPath(path) && (HttpMethods.IsPost(request.Method) || request.Query.ContainsKey("login_hint")))
            || (path.EndsWith("/api/v1/oauth/device", StringComparison.OrdinalIgnoreCase) && (HttpMethods.IsPost(request.Method) || request.Query.ContainsKey("user_code"))))
        {
            return EdgeCategories.Login;
        }

        // Exports are heavy: 10 an hour per credential, as the docs set (ADM-64).
        if (path.Contains("/api/v1/admin/audit-logs/export", StringComparison.OrdinalIgnoreCase))
        {
            return EdgeCategories.AuditExport;
        }

        if (path.Contains("/api/v1/scim", StringComparison.OrdinalIgnoreCase))
        {
            // HTTP Basic there is a password check: sign-in's budget per address, not a fresh one per guessed password.
            return request.Headers.Authorization.ToString().AsSpan().TrimStart().StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)
                ? EdgeCategories.Login
                : EdgeCategories.Scim;
        }

        if (path.Contains("/api/v1/admin/", StringComparison.OrdinalIgnoreCase) || IsAdminAlias(path, request.Method))
        {
            return HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) ? EdgeCategories.AdminRead : EdgeCategories.AdminWrite;
        }

        return path.Contains("/api/v1/", StringComparison.OrdinalIgnoreCase) ? EdgeCategories.Check : null;
    }

    /// <summary>
    /// The path as the routes behind the edge see it: they ignore a trailing slash (<c>/oauth/device/</c> is the device
    /// page) and empty segments, so the categories must too, or a slash would move a request into a looser limit.
    /// </summary>
    private static string Canonical(string path)
    {
        if (path.Contains("//", StringComparison.Ordinal))
        {
            var builder = new StringBuilder(path.Length);
            foreach (var c in path)
            {
                if (c != '/' || builder.Length == 0 || builder[^1] != '/')
                {
                    builder.Append(c);
                }
            }

            path = builder.ToString();
        }

        return path.Length > 1 ? path.TrimEnd('/') : path;
    }

    /// <summary>Hosted pages that check a credential or tell something about an account (both steps of sign-in, links, email-first, passkeys).</summary>
    private static bool IsLoginPath(string path)
    {
        var rest = AfterSlug(path);
        return rest.StartsWith("/login", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("/magic-link", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("/forgot-password", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("/check-email", StringComparison.OrdinalIgnoreCase)
               || rest.StartsWith("/webauthn/", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("/account/verify-email", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsDiscoveryPath(string path)
    {
        var rest = AfterSlug(path);
        return rest.StartsWith("/.well-known/", StringComparison.OrdinalIgnoreCase) || rest.StartsWith("/api/v1/.well-known/", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// The paths without <c>/admin</c> that administer the tenant as their <c>/admin</c> twins do (roles, groups,
    /// permissions, invitations, GDPR requests, ABAC policies, attribute definitions and values, the Zanzibar schema's
    /// writes): the same budget, or a key held to the admin write limit would get the check budget through them.
    /// </summary>
    private static bool IsAdminAlias(string path, string method)
    {
        var rest = AfterSlug(path);
        if (!rest.StartsWith("/api/v1/", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        rest = rest["/api/v1".Length..];
        foreach (var prefix in AdminAliasPrefixes)
        {
            if (IsUnder(rest, prefix))
            {
                return true;
            }
        }

        if (IsUnder(rest, "/zanzibar/schema"))
        {
            return !HttpMethods.IsGet(method) && !HttpMethods.IsHead(method);
        }

        // /users/{id}/roles (the user's role assignments), not the rest of /users.
        const string users = "/users/", roles = "/roles";
        return rest.Length > users.Length + roles.Length && rest.StartsWith(users, StringComparison.OrdinalIgnoreCase)
            && rest.EndsWith(roles, StringComparison.OrdinalIgnoreCase) && rest[users.Length..^roles.Length].IndexOf('/') < 0;
    }

    private static bool IsUnder(ReadOnlySpan<char> path, string prefix) =>
        path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && (path.Length == prefix.Length || path[prefix.Length] == '/');

    private static readonly string[] AdminAliasPrefixes =
        ["/roles", "/groups", "/invitations", "/gdpr", "/custom-domains", "/permissions", "/abac/policies", "/abac/attributes", "/abac/users", "/abac/resources"];

    private static bool IsRegistrationPath(string path)
    {
        var rest = AfterSlug(path);
        return rest.StartsWith("/register", StringComparison.OrdinalIgnoreCase) || rest.Equals("/api/v1/connect/register", StringComparison.OrdinalIgnoreCase) || rest.Equals("/api/v1/oauth/register", StringComparison.OrdinalIgnoreCase)
               || rest.Equals("/api/v1/oidc/register", StringComparison.OrdinalIgnoreCase);
    }

    private static ReadOnlySpan<char> AfterSlug(string path)
    {
        var afterSlug = path.IndexOf('/', 3);
        return afterSlug > 0 ? path.AsSpan(afterSlug) : [];
    }

    /// <summary>
    /// Credential endpoints count per client address and tenant; APIs per presented credential (hashed),
    /// falling back to the address for anonymous calls.
    /// </summary>
    private static string CallerOf(HttpContext context, string category)
    {
        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var tenant = context.Request.Path.Value is { } p && p.StartsWith("/t/", StringComparison.OrdinalIgnoreCase) ? p[3..Math.Max(3, p.IndexOf('/', 3))].ToLowerInvariant() : "-";
        if (category is EdgeCategories.Token or EdgeCategories.Authorize or EdgeCategories.Introspection or EdgeCategories.Login
            or EdgeCategories.Registration or EdgeCategories.Platform)
        {
            return $"{tenant}|{address}";
        }

        var credential = CredentialOf(context.Request);

        return credential.Length == 0
            ? $"{tenant}|{address}"
            : $"{tenant}|{Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(credential)), 0, 16)}";
    }

    /// <summary>
    /// The credential as the services read it — an API key trimmed, a token without regard to its scheme's case or the
    /// spaces around it — so that spelling one credential differently does not open a new bucket.
    /// </summary>
    private static string CredentialOf(HttpRequest request)
    {
        if (ApiKeyAuthenticationHandler.ReadKey(request) is { Length: > 0 } key)
        {
            return "key:" + key;
        }

        var authorization = request.Headers.Authorization.ToString().Trim();
        var space = authorization.IndexOfAny([' ', '\t']);
        if (space < 0)
        {
            return authorization;
        }

        return authorization[..space].ToLowerInvariant() + ":" + authorization[space..].Trim();
    }

    private DateTimeOffset WindowEnd(int windowSeconds)
    {
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        return DateTimeOffset.FromUnixTimeSeconds(now - (now % windowSeconds) + windowSeconds);
    }
}
