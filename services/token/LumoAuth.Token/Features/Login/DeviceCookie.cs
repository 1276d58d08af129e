using System.Buffers.Text;
using System.Security.Cryptography;
using LumoAuth.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// A random id for this browser at this tenant (cookie <c>lumo_device</c>, the tenant's path, HttpOnly, 400 days), sent with
/// each sign-in so adaptive authentication can tell a browser the user signed in from before. It names a browser, not a
/// person, and admin keeps only its hash.
/// </summary>
public static class DeviceCookie
{
    public const string Name = "lumo_device";
    private static readonly TimeSpan Lifetime = TimeSpan.FromDays(400);

    public static string GetOrIssue(HttpContext http, string tenantSlug)
    {
        if (http.Request.Cookies[Name] is { Length: 32 } existing && Base64Url.IsValid(existing))
        {
            return existing;
        }

        var id = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(24));
        http.Response.Cookies.Append(Name, id, TenantCookies.Options(http, tenantSlug, Lifetime));
        return id;
    }
}

/// <summary>The options of the hosted pages' long-lived cookies besides the session (device id, trusted browser).</summary>
public static class TenantCookies
{
    /// <summary>
    /// Scoped to the tenant's path, HttpOnly, SameSite=Lax, and Secure whenever the public origin is https (behind the gateway
    /// requests arrive over http), as the session cookie is.
    /// </summary>
    public static CookieOptions Options(HttpContext http, string tenantSlug, TimeSpan lifetime) => new()
    {
        Path = $"/t/{tenantSlug}/", HttpOnly = true, SameSite = SameSiteMode.Lax, MaxAge = lifetime, IsEssential = true,
        Secure = http.Request.IsHttps
                 || http.RequestServices.GetRequiredService<IOptions<LumoAuthOptions>>().Value.PublicBaseUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase),
    };
}
