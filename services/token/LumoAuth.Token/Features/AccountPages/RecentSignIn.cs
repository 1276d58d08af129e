using System.Globalization;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.Login;
using Microsoft.AspNetCore.Authentication;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// What a change to how the user signs in (a passkey, second factors, backup codes, a linked account) asks of the session, as Keycloak
/// asks for re-authentication before such actions: the user signed in within <see cref="MaxAge"/>, and with a second
/// factor when they have one. Like the current password on the password page, it keeps a stolen session cookie — or a
/// sign-in that skipped the second step (a trusted browser, a low-risk adaptive sign-in) — from taking over the account.
/// </summary>
public static class RecentSignIn
{
    /// <summary>How long after signing in the user may change their sign-in methods without signing in again.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(10);

    public enum Verdict
    {
        Recent,
        SignInAgain,
        Unavailable,
    }

    /// <summary>Whether the browser's session is recent and strong enough for <paramref name="userId"/> to change their sign-in methods.</summary>
    public static async Task<Verdict> CheckAsync(HttpContext http, UserDirectory users, TimeProvider time, Guid tenantId, Guid userId)
    {
        var session = (await http.AuthenticateAsync(SessionCookie.Scheme)).Principal;
        if (session?.FindFirst(Claims.AuthenticationTime)?.Value is not { } authTime
            || !long.TryParse(authTime, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || time.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(seconds) > MaxAge)
        {
            return Verdict.SignInAgain;
        }

        if (session.HasClaim(Claims.AuthenticationMethodReference, "mfa"))
        {
            return Verdict.Recent;
        }

        // One factor is enough only for a user who has no second one yet (their first enrolment).
        return await users.MfaFactorsAsync(tenantId, userId, http.RequestAborted) switch
        {
            null => Verdict.Unavailable,
            var factors when factors.Any(f => f.Confirmed) => Verdict.SignInAgain,
            _ => Verdict.Recent,
        };
    }

    /// <summary>
    /// Whether a sign-in continuing to <paramref name="returnUrl"/> is such a re-authentication: it then asks for the second
    /// step even in a trusted browser, since the page will not take a sign-in without it.
    /// </summary>
    public static bool IsRequiredBy(string? returnUrl, string slug) =>
        returnUrl is not null
        && (IsPage(returnUrl, MfaAccountPage.PagePath(slug)) || IsPage(returnUrl, $"/t/{slug}{PasskeyEndpoints.AccountPagePath}")
            || IsPage(returnUrl, LinkedAccountsPage.PagePath(slug)));

    private static bool IsPage(string url, string path) =>
        url.StartsWith(path, StringComparison.Ordinal) && (url.Length == path.Length || url[path.Length] == '?');
}
