using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.AccountPages;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Sessions;
using System.Data.Common;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using StackExchange.Redis;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// Passwordless sign-in by e-mailed link (TOK-16) and the email-first lookup (TOK-17), when the tenant turned them on
/// (<c>loginPolicy.magicLinkEnabled</c>, <c>magicLinkOnly</c>, <c>emailFirstLogin</c>):
/// <list type="bullet">
/// <item><c>POST /t/{slug}/magic-link</c> (<c>email</c>, and <c>returnUrl</c> or the docs' <c>_target_path</c>) answers the
/// same "check your inbox" page for every address; admin mails a link to real, active users only.</item>
/// <item><c>/t/{slug}/magic-link/verify?token=…</c> shows a button, and only its POST signs in — a mail scanner fetching
/// the link uses nothing up — then asks for the TOTP code when the user has one, opens the SSO session and continues
/// the authorization request the link was asked from, in the browser that asked for it (<see cref="MagicLinkContinuation"/>).</item>
/// <item><c>POST /t/{slug}/check-email</c> answers <c>{"exists": true|false}</c> for the email-first flow.</item>
/// </list>
/// All of them share the login page's rate limit.
/// </summary>
public static partial class MagicLinkEndpoints
{
    public const string VerifyPath = "/magic-link/verify";

    public static IEndpointRouteBuilder MapMagicLinkEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/t/{tenantSlug}/magic-link", RequestLink).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy).WithName("MagicLinkRequest");
        app.MapGet("/t/{tenantSlug}" + VerifyPath, ShowVerify).AllowAnonymous().ExcludeFromDescription().WithName("MagicLinkPage");
        app.MapPost("/t/{tenantSlug}" + VerifyPath, Verify).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy).WithName("MagicLinkSignIn");
        app.MapPost("/t/{tenantSlug}/check-email", CheckEmail).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy).WithName("CheckEmail");
        return app;
    }

    public sealed record MagicLinkServices(
        TenantContext Tenant, HostedPageSettingsCache HostedPages, AccountLinkClient Links, UserDirectory Users, SessionStore Sessions, IAntiforgery Antiforgery,
        SessionRevocation Revocation, IDataProtectionProvider DataProtection, ILogger<MagicLinkServices> Logger);

    public static async Task<IResult> RequestLink(HttpContext http, [AsParameters] MagicLinkServices services)
    {
        if (await EnabledAsync(http, services) is { } off)
        {
            return off;
        }

        var t = PageText.Of(http);
        var form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(http.RequestAborted) : null;
        var email = form?["email"].ToString().Trim() ?? string.Empty;
        var returnUrl = form?["returnUrl"].ToString() is { Length: > 0 } named ? named : form?["_target_path"].ToString() is { Length: > 0 } target ? target : null;
        if (returnUrl is not null && !LoginEndpoints.IsAuthorizeContinuation(returnUrl, services.Tenant.Slug))
        {
            return HostedPage.Error(http, "invalid_request", t["The sign-in link is not valid."]);
        }

        if (email.Length is 0 or > 320 || !email.Contains('@', StringComparison.Ordinal))
        {
            return HostedPage.Error(http, "invalid_request", t["Enter the email address of your account."]);
        }

        var requested = await services.Links.RequestMagicLinkAsync(
            services.Tenant.TenantId, email, returnUrl, RequestDomain.Of(http.Request, services.Tenant.Tenant!), t.Language, http.RequestAborted);
        if (returnUrl is not null && requested.Outcome != LinkOutcome.Unavailable)
        {
            MagicLinkContinuation.Remember(http, services.DataProtection, services.Tenant.Slug, returnUrl);
        }

        return requested.Outcome == LinkOutcome.Unavailable
            ? HostedPage.Error(http, "temporarily_unavailable", t["Sign-in links cannot be sent right now. Try again in a moment."], StatusCodes.Status503ServiceUnavailable)
            : HostedPage.Render(http, t["Check your inbox"],
                $"<p role=\"status\">{t.Html("If an account exists for {0}, we have sent it a sign-in link.", PageText.Strong(email))} " +
                $"{t.Html("Open it on this or any device; it works once and only for a short while.")}</p>");
    }

    public static async Task<IResult> ShowVerify(HttpContext http, string? token, [AsParameters] MagicLinkServices services)
    {
        if (await EnabledAsync(http, services) is { } off)
        {
            return off;
        }

        return AccountPage.IsWellFormedToken(token)
            ? Confirm(http, services, token!, needsCode: false, error: null)
            : InvalidLink(http, services);
    }

    public static async Task<IResult> Verify(HttpContext http, [AsParameters] MagicLinkServices services)
    {
        if (await EnabledAsync(http, services) is { } off)
        {
            return off;
        }

        var (form, token, refusal) = await AccountPage.ReadLinkFormAsync(http, services.Antiforgery, () => InvalidLink(http, services));
        if (refusal is not null)
        {
            return refusal;
        }

        var totp = form["totp"].ToString().Trim() is { Length: > 0 } code ? code : null;
        var t = PageText.Of(http);

        var signIn = await services.Links.SignInWithLinkAsync(services.Tenant.TenantId, token, totp, http.Connection.RemoteIpAddress?.ToString(),
            DeviceCookie.GetOrIssue(http, services.Tenant.Slug), http.RequestAborted);
        var verdict = signIn?.Verdict;
        switch (verdict?.Outcome)
        {
            case null:
                return HostedPage.Unavailable(http);
            case AuthenticationOutcomes.Success when verdict.UserId is { } userId:
                var session = await services.Sessions.CreateAsync(userId, "magic_link", verdict.AuthenticationMethods.Contains("mfa"), http, http.RequestAborted);
                await SessionStore.SignInAsync(http, session, SessionStore.Principal(session, verdict.Email, verdict.Name, verdict.AuthenticationMethods), verdict.Locale);
                if (verdict.UnprovenCredentialsRemoved)
                {
                    // The link's owner proved the address; a session opened with the password, factors or passkeys admin
                    // just removed may be someone else's, who registered the address first. Ended here at once when we can;
                    // admin's UserUnprovenCredentialsRemoved ends them in any case, so a failure here does not fail the sign-in.
                    try
                    {
                        await services.Revocation.RevokeOtherSessionsAsync(userId, session.Id, SessionRevocation.Reasons.UnprovenCredentialsRemoved, http.RequestAborted);
                    }
                    catch (Exception ex) when (ex is RedisException or RedisTimeoutException or DbException or DbUpdateException)
                    {
                        LogSessionsEndedLater(services.Logger, ex);
                    }
                }

                return signIn!.ReturnUrl is { } returnUrl && LoginEndpoints.IsAuthorizeContinuation(returnUrl, services.Tenant.Slug)
                       && MagicLinkContinuation.IsThisBrowsers(http, services.DataProtection, services.Tenant.Slug, returnUrl)
                    ? Results.Redirect(returnUrl, permanent: false, preserveMethod: false)
                    : HostedPage.Render(http, t["You are signed in"], $"<p>{t.Html("You can close this window and return to the application.")}</p>");
            case AuthenticationOutcomes.MfaRequired:
                return Confirm(http, services, token, needsCode: true, error: null, verdict.MfaMethod);
            case AuthenticationOutcomes.MfaInvalid:
                return Confirm(http, services, token, needsCode: true, t["That code is not valid. Try the current one."], verdict.MfaMethod);
            case AuthenticationOutcomes.Locked:
                return HostedPage.Error(http, "access_denied", t["Too many failed attempts. Wait a while and ask for a new link."], StatusCodes.Status403Forbidden);
            case AuthenticationOutcomes.RiskBlocked:
                return HostedPage.Error(http, "access_denied",
                    t["Login blocked due to suspicious activity. We have sent you an email about it. Try again from a device you have used before, or contact your administrator."],
                    StatusCodes.Status403Forbidden);
            case AuthenticationOutcomes.MfaEnrollmentRequired:
                // Enrolment happens on the password sign-in, which shows the secret; the link stays unused.
                return HostedPage.Error(http, "access_denied",
                    t["This organisation requires two-step verification, which your account does not have yet. Sign in with your password to set it up (no password yet? Choose one with \"Forgot your password?\" on the sign-in page)."],
                    StatusCodes.Status403Forbidden);
            default:
                return InvalidLink(http, services);
        }
    }

    public static async Task<IResult> CheckEmail(HttpContext http, [AsParameters] MagicLinkServices services)
    {
        var settings = await services.HostedPages.GetAsync(services.Tenant.TenantId, http.RequestAborted);
        if (settings is null)
        {
            return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, "service_unavailable", "The check is unavailable right now; try again.");
        }

        if (!settings.EmailFirstLogin)
        {
            return ApiErrors.NotFound("Email-first login");
        }

        var email = http.Request.HasFormContentType ? (await http.Request.ReadFormAsync(http.RequestAborted))["email"].ToString().Trim() : string.Empty;
        if (email.Length is 0 or > 320 || !email.Contains('@', StringComparison.Ordinal))
        {
            return ApiErrors.Validation("email", "must be an email address");
        }

        var (found, _) = await services.Users.FindByLoginAsync(services.Tenant.TenantId, email, http.RequestAborted);
        if (found is null)
        {
            return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, "service_unavailable", "The check is unavailable right now; try again.");
        }

        http.Response.Headers.CacheControl = "no-store";
        return Results.Json(new Dictionary<string, bool> { ["exists"] = found.Value });
    }

    /// <summary>Null when the tenant offers sign-in links; otherwise the page to answer.</summary>
    private static async Task<IResult?> EnabledAsync(HttpContext http, MagicLinkServices services)
    {
        var t = PageText.Of(http);
        return await services.HostedPages.GetAsync(services.Tenant.TenantId, http.RequestAborted) switch
        {
            null => HostedPage.Unavailable(http),
            { MagicLinkEnabled: false } => HostedPage.Error(http, "not_found", t["Sign-in links are not used here. Sign in with your password."], StatusCodes.Status404NotFound),
            _ => null,
        };
    }

    private static IResult InvalidLink(HttpContext http, MagicLinkServices services)
    {
        var t = PageText.Of(http);
        return AccountPage.InvalidLink(http, services.Tenant.Slug, t.Html("A newer link may have been sent: use the newest, or ask for a new one on the sign-in page."));
    }

    private static IResult Confirm(HttpContext http, MagicLinkServices services, string token, bool needsCode, string? error, string? method = null)
    {
        // A passkey as the second step signs in by itself; the link's way on (this browser's authorization request) is not
        // carried into it, so the user returns to the application from there.
        var byPasskey = needsCode && method == "webauthn";
        var t = PageText.Of(http);
        var body =
            (error is null ? string.Empty : $"<p class=\"error\" role=\"alert\">{HostedPage.Encode(error)}</p>") +
            (byPasskey ? PasskeyEndpoints.SecondStep(t, services.Tenant.Slug, returnUrl: null) : string.Empty) +
            AccountPage.FormStart(http, services.Antiforgery, $"/t/{services.Tenant.Slug}{VerifyPath}", token) +
            (needsCode
                ? (byPasskey ? HostedPage.SecondFactorField(t["Or a backup code"]) : HostedPage.SecondFactorInput(t)) +
                  $"<button type=\"submit\">{t.Html("Verify and sign in")}</button>"
                : $"<p>{t.Html("Continue to sign in with the link from your mail.")}</p><button type=\"submit\">{t.Html("Sign in")}</button>") +
            "</form>";
        return HostedPage.Render(http, needsCode ? t["Two-step verification"] : t["Sign in"], body,
            error is null ? StatusCodes.Status200OK : StatusCodes.Status401Unauthorized, scripts: byPasskey);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not end the sessions before a first proof of the address now; the UserUnprovenCredentialsRemoved event ends them")]
    private static partial void LogSessionsEndedLater(ILogger logger, Exception exception);
}
