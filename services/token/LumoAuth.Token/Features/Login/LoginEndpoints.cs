using LumoAuth.ServiceDefaults.Security;
using System.Text.Json;
using System.Threading.RateLimiting;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.Branding;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.RateLimiting;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// The hosted login page, <c>/t/{slug}/login</c>: email and password (then a TOTP code when the user has a
/// second factor), checked by admin's internal <c>authenticate</c>. Success opens the tenant's SSO session and
/// continues the authorization request it came from. Messages never say whether an account exists.
/// </summary>
public static class LoginEndpoints
{
    public const string RateLimitPolicy = "hosted-login";
    private const string PendingPurpose = "LumoAuth.Token.Login.PendingSecondFactor.v1";
    private static readonly TimeSpan PendingLifetime = TimeSpan.FromMinutes(5);

    public static IEndpointRouteBuilder MapLoginEndpoints(this IEndpointRouteBuilder app)
    {
        // Anonymous on purpose: this is where a browser proves who it is.
        app.MapGet("/t/{tenantSlug}/login", ShowLogin).AllowAnonymous().ExcludeFromDescription().WithName("LoginPage");
        app.MapPost("/t/{tenantSlug}/login", SubmitLogin).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(RateLimitPolicy).WithName("LoginSubmit");
        return app;
    }

    /// <summary>Per tenant and client address: enough for people, too few for password guessing.</summary>
    public static IServiceCollection AddLoginRateLimit(this IServiceCollection services) =>
        services.AddRateLimiter(o =>
        {
            o.AddPolicy(RateLimitPolicy, http => RateLimitPartition.GetFixedWindowLimiter(
                $"{http.Request.RouteValues["tenantSlug"]}|{http.Connection.RemoteIpAddress}",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = 30, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
            o.OnRejected = async (context, cancellationToken) =>
            {
                // A fixed window of a minute: the lease knows when it reopens, a minute at most otherwise.
                context.HttpContext.Response.Headers.RetryAfter = RetryAfter.Seconds(context.Lease, TimeSpan.FromMinutes(1)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                var t = PageText.Of(context.HttpContext);
                var page = HostedPage.Error(context.HttpContext, "rate_limit_exceeded", t["Too many sign-in attempts. Wait a minute and try again."], StatusCodes.Status429TooManyRequests);
                await page.ExecuteAsync(context.HttpContext);
            };
        });

    public sealed record LoginServices(
        TenantContext Tenant, IAntiforgery Antiforgery, UserDirectory Users, SessionStore Sessions, IDataProtectionProvider DataProtection,
        HostedPageSettingsCache HostedPages, TrustedDevices Devices, FailedSignInThrottle Throttle, ProviderButtons Buttons);

    public static async Task<IResult> ShowLogin(HttpContext http, string? returnUrl, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "login_hint")] string? loginHint, [AsParameters] LoginServices services)
    {
        var t = PageText.Of(http);
        if (returnUrl is not null && !IsAuthorizeContinuation(returnUrl, services.Tenant.Slug))
        {
            return HostedPage.Error(http, "invalid_request", t["The sign-in link is not valid."]);
        }

        var settings = await services.HostedPages.GetAsync(services.Tenant.TenantId, http.RequestAborted);
        await services.Buttons.LoadAsync(services.Tenant.TenantId, http.RequestAborted);
        if (settings?.EmailFirstLogin == true)
        {
            return await EmailFirstAsync(http, services, settings, returnUrl, loginHint);
        }

        return PasswordForm(http, services, returnUrl, loginHint, error: null, settings: settings);
    }

    public static async Task<IResult> SubmitLogin(HttpContext http, [AsParameters] LoginServices services)
    {
        var t = PageText.Of(http);
        try
        {
            await services.Antiforgery.ValidateRequestAsync(http);
        }
        catch (AntiforgeryValidationException)
        {
            return HostedPage.Error(http, "invalid_request", t["The form expired or did not come from this page. Reload it and try again."]);
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var protector = services.DataProtection.CreateProtector(PendingPurpose).ToTimeLimitedDataProtector();
        PendingLogin? pending = null;
        if (form["pending"].ToString() is { Length: > 0 } protectedPending)
        {
            try
            {
                pending = JsonSerializer.Deserialize<PendingLogin>(protector.Unprotect(protectedPending));
            }
            catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or JsonException)
            {
                return HostedPage.Error(http, "invalid_request", t["The sign-in took too long. Start again."]);
            }
        }

        var email = pending?.Email ?? form["email"].ToString().Trim();
        var password = pending?.Password ?? form["password"].ToString();
        var returnUrl = pending?.ReturnUrl ?? NullIfEmpty(form["returnUrl"].ToString());
        var totp = NullIfEmpty(form["totp"].ToString().Trim());
        if (returnUrl is not null && !IsAuthorizeContinuation(returnUrl, services.Tenant.Slug))
        {
            return HostedPage.Error(http, "invalid_request", t["The sign-in link is not valid."]);
        }

        var settings = await services.HostedPages.GetAsync(services.Tenant.TenantId, http.RequestAborted);
        await services.Buttons.LoadAsync(services.Tenant.TenantId, http.RequestAborted);
        if (settings?.MagicLinkOnly == true)
        {
            return PasswordForm(http, services, returnUrl, email, t["This organisation does not use passwords: ask for a sign-in link instead."],
                StatusCodes.Status403Forbidden, settings);
        }

        if (email.Length is 0 or > 320 || password.Length is 0 or > 256)
        {
            return PasswordForm(http, services, returnUrl, email, t["Enter your email and password."], StatusCodes.Status400BadRequest, settings);
        }

        var address = http.Connection.RemoteIpAddress?.ToString();
        if (await services.Throttle.WaitAsync(services.Tenant.TenantId, address) is { } wait)
        {
            return PasswordForm(http, services, returnUrl, email, t.Format("Too many failed sign-ins from your network. Try again in {0}.", AskToWait(t, http.Response, wait)),
                StatusCodes.Status429TooManyRequests, settings);
        }

        return await AuthenticateAsync(http, services, settings, pending, email, password, totp, returnUrl, rememberDevice: form["remember_device"] == "on");
    }

    /// <summary>
    /// Asks admin to authenticate the user and answers as the sign-in goes on: the session and the way on, or the next step
    /// (the second factor, an enrolment the tenant requires). The registration page goes through it too once it has created
    /// the account, so a new account signs in under the same rules as at this page.
    /// </summary>
    internal static async Task<IResult> AuthenticateAsync(
        HttpContext http, LoginServices services, HostedPageSettings? settings, PendingLogin? pending, string email, string password, string? totp,
        string? returnUrl, bool rememberDevice)
    {
        var t = PageText.Of(http);
        var address = http.Connection.RemoteIpAddress?.ToString();
        var protector = services.DataProtection.CreateProtector(PendingPurpose).ToTimeLimitedDataProtector();
        var rememberDays = settings?.RememberDeviceDays ?? 0;
        // A sign-in on the way to a page that changes how the user signs in, or for a client that asked for more than one
        // factor (acr_values), asks for the second step even in a trusted browser: that page takes no sign-in without it. Nor does a low adaptive risk score skip it there (else the page and the sign-in
        // would send the user to each other for ever).
        var requireSecondStep = AccountPages.RecentSignIn.IsRequiredBy(returnUrl, services.Tenant.Slug) || Authorize.AuthenticationLevels.AsksForSecondStep(returnUrl);
        var trustedUser = rememberDays > 0 && !requireSecondStep
            ? await services.Devices.TrustedUserAsync(http, http.RequestAborted)
            : null;
        var verdict = await services.Users.AuthenticateAsync(
            new AuthenticateRequest(services.Tenant.TenantId, email, password, totp, address)
            {
                TrustedDeviceUserId = trustedUser, OfferMfaEnrolment = true, MfaMethod = pending?.Method,
                DeviceId = DeviceCookie.GetOrIssue(http, services.Tenant.Slug), RequireSecondStep = requireSecondStep,
            },
            http.RequestAborted);
        if (verdict?.Outcome is AuthenticationOutcomes.InvalidCredentials or AuthenticationOutcomes.MfaInvalid or AuthenticationOutcomes.Locked)
        {
            await services.Throttle.RecordFailureAsync(services.Tenant.TenantId, address);
        }

        switch (verdict?.Outcome)
        {
            case null:
                return HostedPage.Unavailable(http);
            case AuthenticationOutcomes.Success when verdict.UserId is { } userId:
                // Admin's amr says what this sign-in proved; a code posted by a user who has no second factor proves nothing.
                var session = await services.Sessions.CreateAsync(userId, "password", verdict.AuthenticationMethods.Contains("mfa"), http, http.RequestAborted);
                await SessionStore.SignInAsync(http, session, SessionStore.Principal(session, verdict.Email, verdict.Name,
                    verdict.AuthenticationMethods.Count > 0 ? verdict.AuthenticationMethods : ["pwd"]), verdict.Locale);
                if (rememberDays > 0 && rememberDevice && verdict.AuthenticationMethods.Contains("mfa"))
                {
                    await services.Devices.RememberAsync(http, services.Tenant.Slug, userId, rememberDays, http.RequestAborted);
                }

                if (verdict.BackupCodes is { Count: > 0 } backupCodes)
                {
                    return BackupCodesPage(http, backupCodes, returnUrl);
                }

                if (verdict.MfaEnrolmentDueAt is { } due)
                {
                    return EnrolmentReminder(http, services.Tenant.Slug, due, returnUrl);
                }

                return returnUrl is null
                    ? HostedPage.Render(http, t["You are signed in"], $"<p>{t.Html("You can close this window and return to the application.")}</p>")
                    : Results.Redirect(returnUrl, permanent: false, preserveMethod: false);
            case AuthenticationOutcomes.MfaRequired:
                return SecondFactorForm(http, services, protector, new PendingLogin(email, password, returnUrl, Method: verdict.MfaMethod), verdict, error: null,
                    passkeys: PasskeyEndpoints.SignInOffered(settings), rememberDays);
            case AuthenticationOutcomes.MfaEnrollmentRequired when verdict.TotpEnrolment is { } offer:
                return EnrolmentForm(http, services, protector, new PendingLogin(email, password, returnUrl, offer), error: null);
            case AuthenticationOutcomes.MfaEnrollmentRequired:
                // Required, but no method the tenant allows can be set up here (only the password's owner gets this far).
                return PasswordForm(http, services, returnUrl, email,
                    t["This organisation requires two-step verification, and none of its methods can be set up during sign-in. Ask your administrator."],
                    StatusCodes.Status403Forbidden, settings);
            case AuthenticationOutcomes.MfaInvalid when pending?.Enrolment is { } offer:
                return EnrolmentForm(http, services, protector, pending, t["That code is not valid. Check the key and try the current code."]);
            case AuthenticationOutcomes.MfaInvalid:
                return SecondFactorForm(http, services, protector, new PendingLogin(email, password, returnUrl, Method: verdict.MfaMethod), verdict,
                    verdict.MfaMethod is "email" or "sms" ? t["That code is not valid. Enter the newest code we sent you."] : t["That code is not valid. Try the current one."],
                    passkeys: PasskeyEndpoints.SignInOffered(settings), rememberDays);
            case AuthenticationOutcomes.RiskBlocked:
                // Only someone who knows the password gets here; the user has been mailed about it.
                return PasswordForm(http, services, returnUrl, email,
                    t["Login blocked due to suspicious activity. We have sent you an email about it. Try again from a device you have used before, or contact your administrator."],
                    StatusCodes.Status403Forbidden, settings);
            case AuthenticationOutcomes.EmailNotVerified:
                // Only someone who knows the password gets here, so saying why does not reveal the account.
                return PasswordForm(http, services, returnUrl, email,
                    t["Verify your email address first: open the link we sent you, then sign in."], StatusCodes.Status403Forbidden);
            default:
                // Wrong password, unknown email, locked and blocked account all read the same: only known accounts
                // lock, so a lock message would confirm that the address has one (Keycloak does the same).
                return PasswordForm(http, services, returnUrl, email, t["The email or password is incorrect."], StatusCodes.Status401Unauthorized, settings);
        }
    }

    /// <summary>Tells the browser when the failed-sign-in throttle lets it try again (<c>Retry-After</c>); the same for people ("40 seconds", in the page's language).</summary>
    internal static string AskToWait(PageText t, HttpResponse response, TimeSpan wait)
    {
        var seconds = (int)Math.Ceiling(wait.TotalSeconds);
        response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return seconds < 120 ? t.Format("{0} seconds", seconds) : t.Format("{0} minutes", (seconds + 59) / 60);
    }

    /// <summary>
    /// Only a continuation of this tenant's authorization endpoint, device verification, CIBA approval or passkey page may follow a login
    /// (no open redirect). It becomes a Location header, so it is printable ASCII only (0x21–0x7E, as a URL is once encoded): a control
    /// or non-ASCII character would make the server refuse the header — a 500 after the session was opened.
    /// </summary>
    public static bool IsAuthorizeContinuation(string returnUrl, string slug) =>
        IsHeaderSafePath(returnUrl)
        && (IsPage(returnUrl, $"/t/{slug}/api/v1/oauth/authorize") || IsPage(returnUrl, Device.DeviceVerificationEndpoints.PagePath(slug))
            || IsPage(returnUrl, Ciba.CibaApprovalEndpoints.PagePath(slug)) || IsPage(returnUrl, $"/t/{slug}{PasskeyEndpoints.AccountPagePath}")
            || IsPage(returnUrl, AccountPages.MfaAccountPage.PagePath(slug)) || IsPage(returnUrl, AccountPages.SessionsAccountPage.PagePath(slug))
            || IsPage(returnUrl, AccountPages.PasswordAccountPage.PagePath(slug)) || IsPage(returnUrl, AccountPages.ProfileAccountPage.PagePath(slug))
            || IsPage(returnUrl, AccountPages.LinkedAccountsPage.PagePath(slug)) || IsPage(returnUrl, FederationPages.SamlContinuation(slug))
            || IsPage(returnUrl, AAuth.AAuthConsentEndpoints.PagePath(slug)));

    /// <summary>
    /// A path that may become our own Location header: at most 8 KiB of printable ASCII, no backslash (which browsers read
    /// as a slash, so <c>/\\host</c> would leave the site). Callers then say which of the tenant's pages it may be.
    /// </summary>
    public static bool IsHeaderSafePath(string url) =>
        url.Length <= 8192
        && !url.AsSpan().ContainsAnyExceptInRange('\x21', '\x7E')
        && !url.Contains('\\', StringComparison.Ordinal);

    private static bool IsPage(string url, string path) =>
        url.StartsWith(path, StringComparison.Ordinal) && (url.Length == path.Length || url[path.Length] == '?');

    /// <summary>
    /// The sign-in page: email and password, and — when the tenant has them on — a form that mails a sign-in link, which
    /// is all there is when the tenant uses links only.
    /// </summary>
    private static IResult PasswordForm(
        HttpContext http, LoginServices services, string? returnUrl, string? email, string? error, int status = StatusCodes.Status200OK, HostedPageSettings? settings = null)
    {
        var t = PageText.Of(http);
        var slug = HostedPage.Encode(services.Tenant.Slug);
        var register = $"/t/{services.Tenant.Slug}/register" + (returnUrl is null ? string.Empty : QueryString.Create("returnUrl", returnUrl).Value);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        var continuation = returnUrl is null ? string.Empty : HostedPage.Field("returnUrl", returnUrl);
        var body = new System.Text.StringBuilder();
        if (error is not null)
        {
            body.Append("<p class=\"error\" role=\"alert\">").Append(HostedPage.Encode(error)).Append("</p>");
        }

        if (settings?.MagicLinkOnly != true)
        {
            body.Append("<form method=\"post\" action=\"/t/").Append(slug).Append("/login\">")
                .Append(HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!)).Append(continuation)
                .Append("<label for=\"email\">").Append(t.Html("Email")).Append("</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"").Append(HostedPage.Encode(email)).Append("\">")
                .Append("<label for=\"password\">").Append(t.Html("Password")).Append("</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>")
                .Append("<button type=\"submit\">").Append(t.Html("Sign in")).Append("</button></form>")
                .Append("<p><a href=\"/t/").Append(slug).Append("/forgot-password\">").Append(t.Html("Forgot your password?")).Append("</a></p>");
        }

        if (settings?.MagicLinkEnabled == true)
        {
            body.Append("<form method=\"post\" action=\"/t/").Append(slug).Append("/magic-link\">")
                .Append(HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!)).Append(continuation)
                .Append("<label for=\"link-email\">").Append(t.Html("Email")).Append("</label><input id=\"link-email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"").Append(HostedPage.Encode(email)).Append("\">")
                .Append("<button type=\"submit\">").Append(t.Html("Email me a sign-in link")).Append("</button></form>");
        }

        body.Append(services.Buttons.Html(t, services.Tenant.Slug, returnUrl));
        var passkeys = PasskeyEndpoints.SignInOffered(settings);
        if (passkeys)
        {
            body.Append(PasskeyEndpoints.Button(t, services.Tenant.Slug, "authenticate", t["Sign in with a passkey"], returnUrl));
        }

        if (settings?.RegistrationEnabled == true)
        {
            body.Append("<p>").Append(t.Html("No account yet? {0}", t.Link("Create one", register))).Append("</p>");
        }

        return HostedPage.Render(http, t.Format("Sign in to {0}", services.Tenant.Tenant!.Name), body.ToString(), status, ClientRedirectOf(returnUrl), scripts: passkeys);
    }

    /// <summary>
    /// Email-first (the tenant's <c>emailFirstLogin</c>): the page asks for the address alone, then shows what fits it —
    /// the sign-in forms for an account, or that there is none (with the sign-up link when registration is open).
    /// </summary>
    private static async Task<IResult> EmailFirstAsync(HttpContext http, LoginServices services, HostedPageSettings settings, string? returnUrl, string? email)
    {
        var t = PageText.Of(http);
        if (string.IsNullOrWhiteSpace(email) || email.Length > 320 || !email.Contains('@', StringComparison.Ordinal))
        {
            var body =
                $"<form method=\"get\" action=\"/t/{HostedPage.Encode(services.Tenant.Slug)}/login\">" +
                (returnUrl is null ? string.Empty : HostedPage.Field("returnUrl", returnUrl)) +
                $"<label for=\"login_hint\">{t.Html("Email")}</label><input id=\"login_hint\" name=\"login_hint\" type=\"email\" autocomplete=\"username\" required>" +
                $"<button type=\"submit\">{t.Html("Continue")}</button></form>";
            return HostedPage.Render(http, t.Format("Sign in to {0}", services.Tenant.Tenant!.Name), body, continuesTo: ClientRedirectOf(returnUrl));
        }

        var (found, _) = await services.Users.FindByLoginAsync(services.Tenant.TenantId, email.Trim(), http.RequestAborted);
        return found switch
        {
            null => HostedPage.Unavailable(http),
            true => PasswordForm(http, services, returnUrl, email.Trim(), error: null, settings: settings),
            false => HostedPage.Render(http, t["No account for this address"],
                $"<p role=\"status\">{t.Html("There is no account for {0}.", PageText.Strong(email))}</p>" +
                (settings.RegistrationEnabled
                    ? $"<p>{t.Link("Create one", $"/t/{services.Tenant.Slug}/register" + (returnUrl is null ? string.Empty : QueryString.Create("returnUrl", returnUrl).Value)).Html}</p>"
                    : string.Empty) +
                $"<p>{t.Link("Use another address", $"/t/{services.Tenant.Slug}/login" + (returnUrl is null ? string.Empty : QueryString.Create("returnUrl", returnUrl).Value)).Html}</p>",
                continuesTo: ClientRedirectOf(returnUrl)),
        };
    }

    /// <summary>
    /// The second step: a code from the TOTP app, or one just mailed or texted (with a way to ask for a new one), or a backup code; a
    /// passkey, two factors by itself, may take its place.
    /// </summary>
    private static IResult SecondFactorForm(
        HttpContext http, LoginServices services, ITimeLimitedDataProtector protector, PendingLogin pending, AuthenticateResponse verdict, string? error,
        bool passkeys = false, int rememberDays = 0)
    {
        var t = PageText.Of(http);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        // The first factor is carried forward encrypted and for five minutes only, never in clear.
        var sealedPending = protector.Protect(JsonSerializer.Serialize(pending), PendingLifetime);
        var action = $"/t/{HostedPage.Encode(services.Tenant.Slug)}/login";
        var byEmail = verdict.MfaMethod == "email";
        var bySms = verdict.MfaMethod == "sms";
        var byPasskey = verdict.MfaMethod == "webauthn";
        var body =
            (error is null ? string.Empty : $"<p class=\"error\" role=\"alert\">{HostedPage.Encode(error)}</p>") +
            (byPasskey ? PasskeyEndpoints.SecondStep(t, services.Tenant.Slug, pending.ReturnUrl) : string.Empty) +
            (byEmail ? $"<p data-email-code>{t.Html("We sent a sign-in code to {0}. It works for ten minutes.", PageText.Strong(verdict.MfaCodeHint ?? t["your email address"]))}</p>" : string.Empty) +
            (bySms ? $"<p data-sms-code>{t.Html("We texted a sign-in code to your phone ending {0}. It works for ten minutes.", PageText.Strong(verdict.MfaCodeHint ?? "•••"))}</p>" : string.Empty) +
            $"<form method=\"post\" action=\"{action}\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) +
            HostedPage.Field("pending", sealedPending) +
            (byEmail ? HostedPage.SecondFactorField(t["Code from the email, or a backup code"])
                : bySms ? HostedPage.SecondFactorField(t["Code from the text message, or a backup code"])
                : byPasskey ? HostedPage.SecondFactorField(t["Or a backup code"])
                : HostedPage.SecondFactorInput(t)) +
            (rememberDays > 0
                ? $"<label><input type=\"checkbox\" name=\"remember_device\" value=\"on\"> {t.Html("Trust this browser for {0} days", rememberDays)}</label>"
                : string.Empty) +
            $"<button type=\"submit\">{t.Html("Verify")}</button></form>" +
            // Sent without a code, the first factor asks for a new mail or text (the admin service limits how often one goes out).
            (byEmail || bySms
                ? $"<form method=\"post\" action=\"{action}\" data-resend>" + HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) +
                  HostedPage.Field("pending", sealedPending) + $"<button type=\"submit\">{t.Html("Send a new code")}</button></form>"
                : string.Empty) +
            // A user with more than one second step may switch to the next.
            (verdict.MfaOtherMethod is { } other
                ? $"<form method=\"post\" action=\"{action}\" data-switch=\"{HostedPage.Encode(other)}\">" + HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) +
                  HostedPage.Field("pending", protector.Protect(JsonSerializer.Serialize(pending with { Method = other }), PendingLifetime)) +
                  $"<button type=\"submit\">{other switch { "email" => t.Html("Email me a code instead"), "sms" => t.Html("Text me a code instead"), _ => t.Html("Use my authenticator app instead") }}</button></form>"
                : string.Empty) +
            (passkeys && !byPasskey ? PasskeyEndpoints.Button(t, services.Tenant.Slug, "authenticate", t["Use a passkey instead"], pending.ReturnUrl) : string.Empty);
        return HostedPage.Render(http, t["Two-step verification"], body, error is null ? StatusCodes.Status200OK : StatusCodes.Status401Unauthorized,
            ClientRedirectOf(pending.ReturnUrl), scripts: passkeys || byPasskey);
    }

    /// <summary>
    /// The tenant requires two-step verification and the user has no second factor past their grace period (Keycloak's
    /// "Configure OTP" required action): the secret is shown once, and a first code from it confirms it and signs in.
    /// </summary>
    private static IResult EnrolmentForm(HttpContext http, LoginServices services, ITimeLimitedDataProtector protector, PendingLogin pending, string? error)
    {
        var t = PageText.Of(http);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        var offer = pending.Enrolment!;
        var body =
            (error is null ? string.Empty : $"<p class=\"error\" role=\"alert\">{HostedPage.Encode(error)}</p>") +
            $"<p>{t.Html("This organisation requires two-step verification. Add this key to your authenticator app, then enter the code it shows.")}</p>" +
            HostedPage.TotpKey(t, offer) +
            $"<form method=\"post\" action=\"/t/{HostedPage.Encode(services.Tenant.Slug)}/login\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) +
            HostedPage.Field("pending", protector.Protect(JsonSerializer.Serialize(pending), PendingLifetime)) +
            HostedPage.TotpCodeInput(t) +
            $"<button type=\"submit\">{t.Html("Turn on two-step verification")}</button></form>";
        return HostedPage.Render(http, t["Set up two-step verification"], body, error is null ? StatusCodes.Status200OK : StatusCodes.Status401Unauthorized,
            ClientRedirectOf(pending.ReturnUrl));
    }

    /// <summary>Within the grace period of a required two-step verification: a reminder, with the way to set it up now.</summary>
    private static IResult EnrolmentReminder(HttpContext http, string slug, DateTimeOffset due, string? returnUrl)
    {
        var t = PageText.Of(http);
        var next = returnUrl is null
            ? $"<p>{t.Html("You can close this window and return to the application.")}</p>"
            : $"<p>{t.Link("Later", returnUrl, "data-continue").Html}</p>";
        return HostedPage.Render(http, t["Two-step verification will be required"],
            $"<p>{t.Html("You are signed in. From {0} this organisation requires two-step verification to sign in.", PageText.Strong(due.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)))}</p>" +
            $"<p>{t.Link("Set it up now", AccountPages.MfaAccountPage.PagePath(slug), "data-enrol").Html}</p>" + next,
            continuesTo: ClientRedirectOf(returnUrl));
    }

    /// <summary>After an enrolment: the first backup codes, shown this once, then on to where the sign-in was going.</summary>
    private static IResult BackupCodesPage(HttpContext http, IReadOnlyList<string> codes, string? returnUrl)
    {
        var t = PageText.Of(http);
        var next = returnUrl is null
            ? $"<p>{t.Html("You can close this window and return to the application.")}</p>"
            : $"<p>{t.Link("Continue", returnUrl, "data-continue").Html}</p>";
        return HostedPage.Render(http, t["Save your backup codes"],
            $"<p>{t.Html("Two-step verification is on. Keep these codes somewhere safe: each signs you in once if you lose your authenticator.")}</p>" +
            HostedPage.BackupCodeList(codes) + next, continuesTo: ClientRedirectOf(returnUrl));
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    // The client redirect URI the authorization request will end at (OpenIddict validates it there).
    internal static string? ClientRedirectOf(string? returnUrl)
    {
        var query = returnUrl?.IndexOf('?', StringComparison.Ordinal) ?? -1;
        if (query < 0)
        {
            return null;
        }

        var parameters = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(returnUrl![query..]);

        // A pushed or signed request keeps its parameters off the URL and names its redirect URI in a hint beside it. Either
        // only widens this page's form-action: the authorization endpoint redirects to a registered URI only.
        return (parameters.TryGetValue("redirect_uri", out var uris) || parameters.TryGetValue(Authorize.AuthorizeEndpoints.RedirectHintParameter, out uris))
            && uris.ToString() is { Length: > 0 } uri
                ? uri
                : null;
    }

    /// <summary>The first factor, and an enrolment's offered secret, carried between the steps of one sign-in.</summary>
    /// <param name="Method">The second step under way (<c>totp</c> or <c>email</c>), when the user has a choice.</param>
    internal sealed record PendingLogin(string Email, string Password, string? ReturnUrl, TotpEnrolmentOffer? Enrolment = null, string? Method = null);
}
