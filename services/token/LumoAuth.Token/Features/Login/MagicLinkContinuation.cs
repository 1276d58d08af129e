using Microsoft.AspNetCore.DataProtection;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// Where a sign-in link goes on after signing in (an authorization request, the device or CIBA page) is honoured only in
/// the browser that asked for the link. The request is anonymous: without this, anyone could mail a user a genuine link
/// that, once clicked, lands them signed in on the attacker's device-approval page (RFC 8628 §5.4 remote phishing). Opened
/// elsewhere, the link still signs in, and says so.
/// </summary>
public static class MagicLinkContinuation
{
    private const string CookieName = "lumo_magic_return";
    private const string Purpose = "LumoAuth.Token.MagicLinkContinuation";

    /// <summary>Longer than any link lives (the tenant's <c>magicLinkExpiryMinutes</c>); the link's own expiry is admin's.</summary>
    private static readonly TimeSpan Lifetime = TimeSpan.FromDays(1);

    public static void Remember(HttpContext http, IDataProtectionProvider protection, string tenantSlug, string returnUrl) =>
        http.Response.Cookies.Append(CookieName, protection.CreateProtector(Purpose, tenantSlug).Protect(returnUrl), TenantCookies.Options(http, tenantSlug, Lifetime));

    /// <summary>Whether this browser asked for a link going on to <paramref name="returnUrl"/> (the cookie is spent either way).</summary>
    public static bool IsThisBrowsers(HttpContext http, IDataProtectionProvider protection, string tenantSlug, string returnUrl)
    {
        if (http.Request.Cookies[CookieName] is not { Length: > 0 } sealedUrl)
        {
            return false;
        }

        http.Response.Cookies.Delete(CookieName, TenantCookies.Options(http, tenantSlug, TimeSpan.Zero));
        try
        {
            return string.Equals(protection.CreateProtector(Purpose, tenantSlug).Unprotect(sealedUrl), returnUrl, StringComparison.Ordinal);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return false;
        }
    }
}
