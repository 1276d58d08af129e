using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Login;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.DataProtection;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// <c>/t/{slug}/account/mfa</c>: the signed-in user's own two-step verification (the docs' account page): turn TOTP on
/// (key, then a first code; the backup codes are shown once), add a phone for codes by text message (a first texted code
/// confirms it) or remove it, turn codes by e-mail on or off where the tenant allows them,
/// get a new set of backup codes, and forget the browsers they trusted with "remember this device". Admin keeps the factors; the page reaches them over the internal API.
/// </summary>
public static class MfaAccountPage
{
    public const string Path = "/account/mfa";

    private const string OfferPurpose = "LumoAuth.Token.Account.TotpOffer.v1";
    private static readonly TimeSpan OfferLifetime = TimeSpan.FromMinutes(10);

    public static IEndpointRouteBuilder MapMfaAccountPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/t/{tenantSlug}" + Path, Show).AllowAnonymous().ExcludeFromDescription().WithName("MfaAccountPage");
        app.MapPost("/t/{tenantSlug}" + Path, Submit).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy);
        return app;
    }

    public sealed record MfaAccountServices(
        TenantContext Tenant, UserDirectory Users, TrustedDevices Devices, IAntiforgery Antiforgery, IDataProtectionProvider DataProtection,
        HostedPageSettingsCache HostedPages, TimeProvider Time);

    public static async Task<IResult> Show(HttpContext http, [AsParameters] MfaAccountServices services)
    {
        if (await SessionCookie.SignedInUserAsync(http) is not { } userId)
        {
            return AccountPage.ToSignIn(services.Tenant.Slug, PagePath(services.Tenant.Slug));
        }

        var factors = await services.Users.MfaFactorsAsync(services.Tenant.TenantId, userId, http.RequestAborted);
        if (factors is null)
        {
            return Unavailable(http);
        }

        var devices = await services.Devices.ListAsync(userId, http.RequestAborted);
        var totpOn = factors.Any(f => f.Type == "totp" && f.Confirmed);
        var emailOn = factors.Any(f => f.Type == "email" && f.Confirmed);
        var smsOn = factors.Any(f => f.Type == "sms" && f.Confirmed);
        var settings = await services.HostedPages.GetAsync(services.Tenant.TenantId, http.RequestAborted);
        var emailOffered = settings?.EmailMfaCodes == true;
        var t = PageText.Of(http);
        var body =
            $"<h2>{t.Html("Authenticator app")}</h2>" +
            (totpOn
                ? $"<p>{t.Html("Two-step verification is {0}: sign-ins ask for a code from your authenticator app.", new Markup($"<strong>{t.Html("on")}</strong>"))}</p>"
                : (emailOn || smsOn ? $"<p>{t.Html("No authenticator app is set up.")}</p>"
                      : $"<p>{t.Html("Two-step verification is {0}.", new Markup($"<strong>{t.Html("off")}</strong>"))}</p>") +
                  Form(http, services, "begin", t["Set up an authenticator app"])) +
            (smsOn || settings?.SmsMfaCodes == true
                ? $"<h2>{t.Html("Codes by text message")}</h2>" +
                  (smsOn
                      ? $"<p>{t.Html("Sign-ins can text a code to your phone.")}</p>" + Form(http, services, "sms-off", t["Stop texting me codes"])
                      : PhoneForm(http, services, error: null))
                : string.Empty) +
            (emailOn || emailOffered
                ? $"<h2>{t.Html("Codes by email")}</h2>" +
                  (emailOn
                      ? $"<p>{(totpOn ? t.Html("Sign-ins ask for a code we email to you when you have no authenticator app at hand.") : t.Html("Sign-ins ask for a code we email to you."))}</p>" +
                        Form(http, services, "email-off", t["Stop emailing me codes"])
                      : $"<p>{t.Html("Sign-ins can ask for a code we email to you.")}</p>" + Form(http, services, "email-on", t["Email me a code at each sign-in"]))
                : string.Empty) +
            (totpOn || emailOn || smsOn
                ? $"<h2>{t.Html("Backup codes")}</h2>" + Form(http, services, "backup-codes", t["Get new backup codes"]) +
                  $"<p><small>{t.Html("The old backup codes stop working.")}</small></p>"
                : string.Empty) +
            $"<h2>{t.Html("Trusted browsers")}</h2>" +
            (devices.Count == 0
                ? $"<p>{t.Html("No browser skips the code.")}</p>"
                : "<ul>" + string.Concat(devices.Select(d =>
                      $"<li>{HostedPage.Encode(string.IsNullOrEmpty(d.UserAgent) ? t["A browser"] : d.UserAgent)} <small>{HostedPage.Encode(t.Format("(until {0:yyyy-MM-dd})", d.ExpiresAt))}</small></li>")) + "</ul>" +
                  Form(http, services, "forget-devices", t["Forget all trusted browsers"]));
        return HostedPage.Render(http, t["Two-step verification"], body);
    }

    public static async Task<IResult> Submit(HttpContext http, [AsParameters] MfaAccountServices services)
    {
        var (signedIn, refusal) = await AccountPage.ReadSignedInFormAsync(http, services.Antiforgery, services.Tenant.Slug, PagePath(services.Tenant.Slug));
        if (signedIn is null)
        {
            return refusal!;
        }

        var (userId, _, form) = signedIn;
        var tenantId = services.Tenant.TenantId;
        var action = form["action"].ToString();
        // Forgetting the trusted browsers only takes trust away; every other action changes how the account signs in.
        if (action != "forget-devices")
        {
            switch (await RecentSignIn.CheckAsync(http, services.Users, services.Time, tenantId, userId))
            {
                case RecentSignIn.Verdict.SignInAgain:
                    // The login page always asks again (it never skips a session), then comes back here.
                    return AccountPage.ToSignIn(services.Tenant.Slug, PagePath(services.Tenant.Slug));
                case RecentSignIn.Verdict.Unavailable:
                    return Unavailable(http);
            }
        }

        var protector = services.DataProtection.CreateProtector(OfferPurpose, userId.ToString()).ToTimeLimitedDataProtector();
        var t = PageText.Of(http);
        switch (action)
        {
            case "begin":
                return await services.Users.BeginTotpAsync(tenantId, userId, http.RequestAborted) is { } offer
                    ? Enrolment(http, services, protector, offer, error: null)
                    : HostedPage.Error(http, "invalid_request", t["An authenticator app is already set up, or the service is unavailable. Reload the page."], StatusCodes.Status409Conflict);
            case "confirm":
                if (Unseal(protector, form["offer"].ToString()) is not { } pending)
                {
                    return HostedPage.Error(http, "invalid_request", t["The set-up took too long. Start again."]);
                }

                var (codes, status) = await services.Users.ConfirmTotpAsync(tenantId, userId, form["totp"].ToString().Trim(), http.RequestAborted);
                return codes is not null ? BackupCodes(http, services, codes, t["Two-step verification is on."])
                    : status is >= 400 and < 500 ? Enrolment(http, services, protector, pending, t["That code is not valid. Check the key and try the current code."])
                    : Unavailable(http);
            case "backup-codes":
                return await services.Users.RegenerateBackupCodesAsync(tenantId, userId, http.RequestAborted) is { } renewed
                    ? BackupCodes(http, services, renewed, t["Your new backup codes replace the old ones."])
                    : Unavailable(http);
            case "email-on":
                var (firstCodes, emailStatus) = await services.Users.TurnOnEmailCodesAsync(tenantId, userId, http.RequestAborted);
                return firstCodes is { Count: > 0 } ? BackupCodes(http, services, firstCodes, t["Two-step verification is on: we will email you a code at each sign-in."])
                    : firstCodes is not null ? Results.Redirect(PagePath(services.Tenant.Slug), permanent: false, preserveMethod: false)
                    : emailStatus is >= 400 and < 500 ? HostedPage.Error(http, "invalid_request", t["Codes by email need a verified address, and this organisation must allow them."])
                    : Unavailable(http);
            case "sms-begin":
                var phone = form["phone"].ToString().Trim().Replace(" ", string.Empty, StringComparison.Ordinal);
                var (phoneHint, smsStatus) = await services.Users.BeginSmsAsync(tenantId, userId, phone, http.RequestAborted);
                return phoneHint is not null ? SmsConfirmation(http, services, phoneHint, error: null)
                    : smsStatus == StatusCodes.Status409Conflict ? Results.Redirect(PagePath(services.Tenant.Slug), permanent: false, preserveMethod: false)
                    : smsStatus is >= 400 and < 500 ? HostedPage.Render(http, t["Two-step verification"],
                        PhoneForm(http, services, t["Enter the number in international format, starting with + and the country code."]), StatusCodes.Status400BadRequest)
                    : Unavailable(http);
            case "sms-confirm":
                var (smsCodes, confirmStatus) = await services.Users.ConfirmSmsAsync(tenantId, userId, form["code"].ToString().Trim(), http.RequestAborted);
                return smsCodes is { Count: > 0 } ? BackupCodes(http, services, smsCodes, t["Two-step verification is on: we will text you a code at each sign-in."])
                    : smsCodes is not null ? Results.Redirect(PagePath(services.Tenant.Slug), permanent: false, preserveMethod: false)
                    : confirmStatus is >= 400 and < 500 ? SmsConfirmation(http, services, form["hint"].ToString(), t["That code is not valid. Enter the newest code we texted you."])
                    : Unavailable(http);
            case "sms-off":
                await services.Users.RemoveSmsAsync(tenantId, userId, http.RequestAborted);
                return Results.Redirect(PagePath(services.Tenant.Slug), permanent: false, preserveMethod: false);
            case "email-off":
                await services.Users.TurnOffEmailCodesAsync(tenantId, userId, http.RequestAborted);
                return Results.Redirect(PagePath(services.Tenant.Slug), permanent: false, preserveMethod: false);
            case "forget-devices":
                await services.Devices.ForgetUserAsync(userId, http.RequestAborted);
                http.Response.Cookies.Delete(TrustedDevices.CookieName, new CookieOptions { Path = $"/t/{services.Tenant.Slug}/" });
                return Results.Redirect(PagePath(services.Tenant.Slug), permanent: false, preserveMethod: false);
            default:
                return HostedPage.Error(http, "invalid_request", t["Unknown action."]);
        }
    }

    public static string PagePath(string slug) => $"/t/{slug}{Path}";

    /// <param name="error">In the page's language.</param>
    private static IResult Enrolment(HttpContext http, MfaAccountServices services, ITimeLimitedDataProtector protector, TotpEnrolmentOffer offer, string? error)
    {
        var t = PageText.Of(http);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        var body =
            (error is null ? string.Empty : $"<p class=\"error\" role=\"alert\">{HostedPage.Encode(error)}</p>") +
            $"<p>{t.Html("Add this key to your authenticator app, then enter the code it shows.")}</p>" +
            HostedPage.TotpKey(t, offer) +
            $"<form method=\"post\" action=\"{HostedPage.Encode(PagePath(services.Tenant.Slug))}\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) + HostedPage.Field("action", "confirm") +
            // The key goes back sealed (encrypted, for this user, ten minutes) to show it again after a wrong code.
            HostedPage.Field("offer", protector.Protect(JsonSerializer.Serialize(offer), OfferLifetime)) +
            HostedPage.TotpCodeInput(t) +
            $"<button type=\"submit\">{t.Html("Turn on two-step verification")}</button></form>";
        return HostedPage.Render(http, t["Set up two-step verification"], body, error is null ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
    }

    /// <summary>The number to text codes to (international format; the first code confirms it).</summary>
    /// <param name="error">In the page's language.</param>
    private static string PhoneForm(HttpContext http, MfaAccountServices services, string? error)
    {
        var t = PageText.Of(http);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        return (error is null ? string.Empty : $"<p class=\"error\" role=\"alert\">{HostedPage.Encode(error)}</p>") +
               $"<p>{t.Html("Sign-ins can text a code to your phone.")}</p>" +
               $"<form method=\"post\" action=\"{HostedPage.Encode(PagePath(services.Tenant.Slug))}\">" +
               HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) + HostedPage.Field("action", "sms-begin") +
               $"<label for=\"phone\">{t.Html("Mobile number")}</label><input id=\"phone\" name=\"phone\" type=\"tel\" autocomplete=\"tel\" placeholder=\"+14155550123\" required>" +
               $"<button type=\"submit\">{t.Html("Text me a code")}</button></form>";
    }

    /// <param name="error">In the page's language.</param>
    private static IResult SmsConfirmation(HttpContext http, MfaAccountServices services, string hint, string? error)
    {
        var t = PageText.Of(http);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        var body =
            (error is null ? string.Empty : $"<p class=\"error\" role=\"alert\">{HostedPage.Encode(error)}</p>") +
            $"<p data-sms-code>{t.Html("We texted a code to your phone ending {0}. Enter it to turn on codes by text message.", PageText.Strong(hint))}</p>" +
            $"<form method=\"post\" action=\"{HostedPage.Encode(PagePath(services.Tenant.Slug))}\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) + HostedPage.Field("action", "sms-confirm") + HostedPage.Field("hint", hint) +
            $"<label for=\"code\">{t.Html("Code from the text message")}</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>" +
            $"<button type=\"submit\">{t.Html("Confirm")}</button></form>";
        return HostedPage.Render(http, t["Confirm your phone"], body, error is null ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
    }

    /// <param name="lead">The sentence before the codes, in the page's language.</param>
    private static IResult BackupCodes(HttpContext http, MfaAccountServices services, IReadOnlyList<string> codes, string lead)
    {
        var t = PageText.Of(http);
        return HostedPage.Render(http, t["Save your backup codes"],
            $"<p>{HostedPage.Encode(lead)} {t.Html("Keep these codes somewhere safe: each signs you in once if you lose your authenticator.")}</p>" +
            HostedPage.BackupCodeList(codes) +
            $"<p>{t.Link("Back", PagePath(services.Tenant.Slug)).Html}</p>");
    }

    /// <param name="label">The button's words, in the page's language.</param>
    private static string Form(HttpContext http, MfaAccountServices services, string action, string label) =>
        AccountPage.ActionForm(http, services.Antiforgery, PagePath(services.Tenant.Slug), action, label);

    private static TotpEnrolmentOffer? Unseal(ITimeLimitedDataProtector protector, string value)
    {
        try
        {
            return value.Length == 0 ? null : JsonSerializer.Deserialize<TotpEnrolmentOffer>(protector.Unprotect(value));
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or JsonException)
        {
            return null;
        }
    }


    private static IResult Unavailable(HttpContext http)
    {
        var t = PageText.Of(http);
        return HostedPage.Unavailable(http, t["This page"]);
    }
}
