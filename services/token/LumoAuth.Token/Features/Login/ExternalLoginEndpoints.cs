using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.Localization;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.DataProtection;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// Where a sign-in with a social or OpenID Connect provider lands (<c>/t/{slug}/login/external</c>): federation's callback
/// sends the browser here with a one-time ticket, which this page redeems; admin then checks the sign-in as any other
/// (blocked, locked, the user's second step, adaptive risk) and the session opens — asking for the code first when the
/// user has a second factor. A sign-in federation could not complete arrives with a reason, shown as a fixed message.
/// </summary>
public static class ExternalLoginEndpoints
{
    private const string PendingPurpose = "LumoAuth.Token.Login.ExternalSecondFactor.v1";
    private static readonly TimeSpan PendingLifetime = TimeSpan.FromMinutes(5);

    /// <summary>The provider vouched for the person; with the user's own second step, two factors.</summary>
    private const string AuthMethod = "federated";

    /// <summary>
    /// What each of federation's reasons (and admin's, which federation passes on) tells the person, in the page's language;
    /// a reason not known here (or none) reads as <c>provider_error</c>.
    /// </summary>
    internal static string Reason(PageText t, string? code) => code switch
    {
        "cancelled" => t["The sign-in was cancelled at the provider."],
        "provider_disabled" => t["This way of signing in is not available."],
        "expired" => t["The sign-in took too long or was already used. Start again."],
        "unavailable" => t["The provider cannot be reached right now. Try again in a moment."],
        ExternalUserErrors.SignupDisabled => t["There is no account for this address, and new accounts cannot be made this way."],
        ExternalUserErrors.AccountExists => t["An account with this address exists already. Sign in the way you usually do; you can link this account afterwards."],
        ExternalUserErrors.EmailRequired => t["The provider did not share an e-mail address, which an account needs."],
        ExternalUserErrors.EmailUnverified => t["The provider has not verified your e-mail address, so no account can be made with it. Verify it there, or sign up another way."],
        _ => t["The provider's answer could not be accepted. Start again, or sign in another way."],
    };

    public static IEndpointRouteBuilder MapExternalLoginEndpoints(this IEndpointRouteBuilder app)
    {
        // Anonymous on purpose: this is where a browser signs in. The ticket and the pending step are the proof.
        app.MapGet("/t/{tenantSlug}/login/external", ArriveAsync).AllowAnonymous().ExcludeFromDescription().WithName("ExternalLoginArrival");
        app.MapPost("/t/{tenantSlug}/login/external", SecondStepAsync).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy).WithName("ExternalLoginSecondStep");
        return app;
    }

    /// <summary>Who signed in through which provider, where to go on, and the second-step method chosen — sealed in the code form.</summary>
    public sealed record PendingExternal(Guid UserId, string Provider, string? ReturnUrl, string? Method = null, SamlIdpSession? SamlSession = null);

    public sealed record ExternalLoginServices(
        TenantContext Tenant, IAntiforgery Antiforgery, UserDirectory Users, SessionStore Sessions, IDataProtectionProvider DataProtection,
        FederatedLogins Federation, FailedSignInThrottle Throttle);

    public static async Task<IResult> ArriveAsync(HttpContext http, string? ticket, string? error, string? returnUrl, [AsParameters] ExternalLoginServices services)
    {
        var t = PageText.Of(http);
        var slug = services.Tenant.Slug;
        if (error is not null || string.IsNullOrEmpty(ticket))
        {
            var message = Reason(t, error);
            var again = $"/t/{slug}/login" + (returnUrl is not null && LoginEndpoints.IsAuthorizeContinuation(returnUrl, slug) ? QueryString.Create("returnUrl", returnUrl).Value : string.Empty);
            return HostedPage.Render(http, t["Sign-in did not complete"],
                $"<p class=\"error\" role=\"alert\" data-error=\"{HostedPage.Encode(error ?? "provider_error")}\">{HostedPage.Encode(message)}</p>" +
                $"<p>{t.Link("Back to sign-in", again).Html}</p>",
                error == ExternalUserErrors.AccountExists ? StatusCodes.Status409Conflict : StatusCodes.Status400BadRequest);
        }

        LoginTicket? redeemed;
        try
        {
            redeemed = await services.Federation.RedeemAsync(services.Tenant.TenantId, ticket, http.RequestAborted);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(http.RequestAborted))
        {
            return HostedPage.Unavailable(http);
        }

        // Only in the browser that began the sign-in: a ticket that leaked (a shared link, a log) opens nothing elsewhere.
        var browser = http.Request.Cookies[LoginTicket.BrowserCookie];
        http.Response.Cookies.Delete(LoginTicket.BrowserCookie, new CookieOptions { Path = $"/t/{slug}/" });
        return redeemed is null || !redeemed.IsFrom(browser)
            ? HostedPage.Error(http, "invalid_request", Reason(t, "expired"))
            : await SignInAsync(http, services, new PendingExternal(redeemed.UserId, redeemed.ProviderName, redeemed.ReturnUrl, SamlSession: redeemed.SamlSession), totp: null);
    }

    public static async Task<IResult> SecondStepAsync(HttpContext http, [AsParameters] ExternalLoginServices services)
    {
        var t = PageText.Of(http);
        try
        {
            await services.Antiforgery.ValidateRequestAsync(http);
        }
        catch (AntiforgeryValidationException)
        {
            return HostedPage.Error(http, "invalid_request", t["The form expired or did not come from this page. Start the sign-in again."]);
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        PendingExternal? pending;
        try
        {
            pending = JsonSerializer.Deserialize<PendingExternal>(Protector(services).Unprotect(form["pending"].ToString()));
        }
        catch (Exception exception) when (exception is System.Security.Cryptography.CryptographicException or JsonException)
        {
            pending = null;
        }

        if (pending is null)
        {
            return HostedPage.Error(http, "invalid_request", Reason(t, "expired"));
        }

        var address = http.Connection.RemoteIpAddress?.ToString();
        if (await services.Throttle.WaitAsync(services.Tenant.TenantId, address) is { } wait)
        {
            http.Response.Headers.RetryAfter = ((int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return HostedPage.Error(http, "rate_limit_exceeded", t["Too many failed sign-ins from your network. Wait a while and try again."], StatusCodes.Status429TooManyRequests);
        }

        var totp = form["totp"].ToString().Trim();
        return await SignInAsync(http, services, pending, totp.Length > 0 ? totp : null);
    }

    /// <summary>Admin's check of a sign-in an outside provider vouched for, and the session or the second step (the LDAP form uses it too).</summary>
    internal static async Task<IResult> SignInAsync(HttpContext http, ExternalLoginServices services, PendingExternal pending, string? totp)
    {
        var t = PageText.Of(http);
        var slug = services.Tenant.Slug;
        var address = http.Connection.RemoteIpAddress?.ToString();
        var verdict = await services.Users.FederatedSignInAsync(
            pending.UserId, new FederatedSignInRequest(services.Tenant.TenantId, pending.Provider, totp, address, DeviceCookie.GetOrIssue(http, slug), pending.Method),
            http.RequestAborted);
        if (verdict?.Outcome is AuthenticationOutcomes.MfaInvalid or AuthenticationOutcomes.Locked)
        {
            await services.Throttle.RecordFailureAsync(services.Tenant.TenantId, address);
        }

        switch (verdict?.Outcome)
        {
            case null:
                return HostedPage.Unavailable(http);
            case AuthenticationOutcomes.Success:
                var mfa = verdict.AuthenticationMethods.Contains("mfa");
                var session = await services.Sessions.CreateAsync(pending.UserId, AuthMethod, mfa, http, http.RequestAborted, pending.SamlSession);
                await SessionStore.SignInAsync(http, session, SessionStore.Principal(session, verdict.Email, verdict.Name,
                    verdict.AuthenticationMethods.Count > 0 ? verdict.AuthenticationMethods : ["fed"]), verdict.Locale);
                return pending.ReturnUrl is { } returnUrl && LoginEndpoints.IsAuthorizeContinuation(returnUrl, slug)
                    ? Results.Redirect(returnUrl, permanent: false, preserveMethod: false)
                    : HostedPage.Render(http, t["You are signed in"], $"<p>{t.Html("You can close this window and return to the application.")}</p>");
            case AuthenticationOutcomes.MfaRequired:
                return CodeForm(http, services, pending with { Method = verdict.MfaMethod }, verdict, error: null);
            case AuthenticationOutcomes.MfaInvalid:
                return CodeForm(http, services, pending with { Method = verdict.MfaMethod }, verdict, t["That code is not valid. Try the current one."]);
            case AuthenticationOutcomes.Locked:
                return HostedPage.Error(http, "access_denied", t["Too many failed attempts. Wait a while and try again."], StatusCodes.Status403Forbidden);
            case AuthenticationOutcomes.RiskBlocked:
                return HostedPage.Error(http, "access_denied",
                    t["Login blocked due to suspicious activity. We have sent you an email about it. Try again from a device you have used before, or contact your administrator."],
                    StatusCodes.Status403Forbidden);
            case AuthenticationOutcomes.EmailNotVerified:
                return HostedPage.Error(http, "access_denied", t["Verify your email address first: open the link we sent you, then sign in."], StatusCodes.Status403Forbidden);
            case AuthenticationOutcomes.MfaEnrollmentRequired:
                return HostedPage.Error(http, "access_denied",
                    t["This organisation requires two-step verification, which your account does not have yet. Sign in with your password to set it up."],
                    StatusCodes.Status403Forbidden);
            default:
                // Blocked or gone since the provider's answer: the account cannot sign in, whichever way.
                return HostedPage.Error(http, "access_denied", t["This account cannot sign in. Contact your administrator."], StatusCodes.Status403Forbidden);
        }
    }

    private static IResult CodeForm(HttpContext http, ExternalLoginServices services, PendingExternal pending, AuthenticateResponse verdict, string? error)
    {
        var t = PageText.Of(http);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        var label = verdict.MfaMethod switch
        {
            "email" => t.Format("Code we e-mailed to {0}", verdict.MfaCodeHint),
            "sms" => t.Format("Code we texted to {0}", verdict.MfaCodeHint),
            "webauthn" => t["Or a backup code"],
            _ => t["Code from your authenticator app, or a backup code"],
        };
        var byPasskey = verdict.MfaMethod == "webauthn";
        var body =
            (error is null ? string.Empty : $"<p class=\"error\" role=\"alert\">{HostedPage.Encode(error)}</p>") +
            $"<p>{t.Html("Signed in with {0}. Your account also asks for its second step.", pending.Provider)}</p>" +
            (byPasskey ? PasskeyEndpoints.SecondStep(t, services.Tenant.Slug, pending.ReturnUrl) : string.Empty) +
            $"<form method=\"post\" action=\"/t/{HostedPage.Encode(services.Tenant.Slug)}/login/external\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) +
            HostedPage.Field("pending", Protector(services).Protect(JsonSerializer.Serialize(pending), PendingLifetime)) +
            HostedPage.SecondFactorField(label) +
            $"<button type=\"submit\">{t.Html("Verify and sign in")}</button></form>";
        return HostedPage.Render(http, t["Two-step verification"], body, error is null ? StatusCodes.Status200OK : StatusCodes.Status401Unauthorized,
            scripts: byPasskey);
    }

    private static ITimeLimitedDataProtector Protector(ExternalLoginServices services) =>
        services.DataProtection.CreateProtector(PendingPurpose, services.Tenant.Slug).ToTimeLimitedDataProtector();
}
