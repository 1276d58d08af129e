using System.Security.Claims;
using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.AccountPages;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Localization;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.DataProtection;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// Passkeys on the hosted pages (TOK-18…21, under <c>/t/{slug}/webauthn/</c>): the JSON endpoints a page's script calls
/// around <c>navigator.credentials</c>, and that script. Options come from admin, which keeps the credentials; between
/// the options and the browser's answer they wait in a short-lived, encrypted, path-scoped cookie, so each challenge is
/// answered once, by the browser that asked. Only JSON is taken: a form on another site cannot send it without a CORS
/// preflight, which nothing here answers. Registering needs the user's session; signing in opens one, with no password
/// and no TOTP step (a passkey is two factors).
/// </summary>
public static class PasskeyEndpoints
{
    public const string ScriptPath = "/webauthn/passkeys.js";
    private const string CeremonyCookie = "lumo_webauthn";
    private const string Purpose = "LumoAuth.Token.Passkeys.Ceremony.v1";
    private static readonly TimeSpan CeremonyLifetime = TimeSpan.FromMinutes(5);

    public static IEndpointRouteBuilder MapPasskeyEndpoints(this IEndpointRouteBuilder app)
    {
        var webauthn = app.MapGroup("/t/{tenantSlug}/webauthn").AllowAnonymous().DisableAntiforgery().ExcludeFromDescription();
        webauthn.MapPost("/register/options", RegistrationOptions).RequireRateLimiting(LoginEndpoints.RateLimitPolicy).WithName("PasskeyRegistrationOptions");
        webauthn.MapPost("/register", Register).RequireRateLimiting(LoginEndpoints.RateLimitPolicy).WithName("PasskeyRegistration");
        webauthn.MapPost("/authenticate/options", AuthenticationOptions).RequireRateLimiting(LoginEndpoints.RateLimitPolicy).WithName("PasskeyAuthenticationOptions");
        webauthn.MapPost("/authenticate", Authenticate).RequireRateLimiting(LoginEndpoints.RateLimitPolicy).WithName("PasskeyAuthentication");
        webauthn.MapGet("/passkeys.js", () => Results.Text(Script, "text/javascript; charset=utf-8")).WithName("PasskeyScript");
        app.MapGet("/t/{tenantSlug}" + AccountPagePath, AccountPage).AllowAnonymous().ExcludeFromDescription().WithName("PasskeyAccountPage");
        return app;
    }

    public const string AccountPagePath = "/account/passkeys";

    /// <summary>Whether pages offer a passkey sign-in: passkeys are on and may sign in (offered when admin cannot say: the endpoints judge).</summary>
    public static bool SignInOffered(HostedPageSettings? settings) => settings is null || settings is { PasskeysEnabled: true, PasskeyLogin: true };

    /// <summary>The button and status line a page shows for a passkey ceremony, and the script behind them.</summary>
    /// <param name="label">The button's words, already in the page's language.</param>
    public static string Button(PageText t, string slug, string kind, string label, string? returnUrl = null) =>
        $"<button type=\"button\" data-passkey=\"{kind}\" data-base=\"/t/{HostedPage.Encode(slug)}/webauthn\"" +
        (returnUrl is null ? string.Empty : $" data-return-url=\"{HostedPage.Encode(returnUrl)}\"") +
        ScriptWords(t) +
        $">{HostedPage.Encode(label)}</button><p data-passkey-status role=\"status\"></p>" +
        $"<script src=\"/t/{HostedPage.Encode(slug)}{ScriptPath}\"></script>";

    /// <summary>
    /// What the script says, in the page's language, on the button (<c>data-say-…</c>): the script is one static file and
    /// says it in English when these are absent, as on English pages the tenant did not reword. A refusal's own message is
    /// the API's English, so a translated page shows its kind instead.
    /// </summary>
    private static string ScriptWords(PageText t) =>
        ReferenceEquals(t, PageText.English) ? string.Empty : string.Concat(
            Say("unsupported", t["This browser does not support passkeys."]),
            Say("rejected", t["The passkey was not accepted."]),
            Say("locked", t["Too many failed attempts. Try again later."]),
            Say("sign-in-again", t["Sign in again (with your second step, if you have one) to add a passkey."]),
            Say("unavailable", t["Passkeys are unavailable right now; try again."]),
            Say("ready", t["Your passkey is ready."]),
            Say("signed-in", t["You are signed in."]),
            Say("unused", t["No passkey was used."]));

    private static string Say(string name, string words) => $" data-say-{name}=\"{HostedPage.Encode(words)}\"";

    /// <summary>The second step of a user whose factor is a passkey: the passkey's own sign-in completes it (a backup code may stand in).</summary>
    public static string SecondStep(PageText t, string slug, string? returnUrl) =>
        $"<p data-passkey-step>{t.Html("This organisation asks for your passkey to finish signing in.")}</p>" +
        Button(t, slug, "authenticate", t["Continue with your passkey"], returnUrl);

    /// <summary><c>/t/{slug}/account/passkeys</c>: the signed-in user adds a passkey for this site.</summary>
    public static async Task<IResult> AccountPage(HttpContext http, TenantContext tenant, HostedPageSettingsCache hostedPages, UserDirectory users, TimeProvider time)
    {
        var t = PageText.Of(http);
        var settings = await hostedPages.GetAsync(tenant.TenantId, http.RequestAborted);
        if (settings?.PasskeysEnabled == false)
        {
            return HostedPage.Error(http, "not_found", t["Passkeys are not used here."], StatusCodes.Status404NotFound);
        }

        if (settings?.PasskeyRegistration == false)
        {
            return HostedPage.Render(http, t["Passkeys"], $"<p role=\"status\">{t.Html("This organisation does not let you add passkeys here.")}</p>");
        }

        // Without a session, or one too old or too weak to add a passkey with, the user signs in (again) first: the login
        // page always asks, then comes back here, where the button then works.
        if (await SessionCookie.SignedInUserAsync(http) is not { } userId)
        {
            return AccountPages.AccountPage.ToSignIn(tenant.Slug, $"/t/{tenant.Slug}{AccountPagePath}");
        }

        switch (await RecentSignIn.CheckAsync(http, users, time, tenant.TenantId, userId))
        {
            case RecentSignIn.Verdict.SignInAgain:
                return AccountPages.AccountPage.ToSignIn(tenant.Slug, $"/t/{tenant.Slug}{AccountPagePath}");
            case RecentSignIn.Verdict.Unavailable:
                return HostedPage.Unavailable(http, t["This page"]);
        }

        return HostedPage.Render(http, t["Passkeys"],
            $"<p>{t.Html("A passkey lets you sign in with your device's screen lock instead of a password.")}</p>" + Button(t, tenant.Slug, "register", t["Add a passkey"]),
            scripts: true);
    }

    public sealed record PasskeyServices(
        TenantContext Tenant, UserDirectory Users, SessionStore Sessions, IDataProtectionProvider DataProtection, HostedPageSettingsCache HostedPages,
        TimeProvider Time);

    /// <summary>What a cookie holds between the options and the answer: which ceremony, for whom, with which options.</summary>
    private sealed record Ceremony(string Kind, Guid? UserId, string Options);

    public static async Task<IResult> RegistrationOptions(HttpContext http, [AsParameters] PasskeyServices services)
    {
        if (await RefuseAsync(http, services, "register") is { } refused)
        {
            return refused;
        }

        if (await SessionCookie.SignedInUserAsync(http) is not { } userId)
        {
            return NotSignedIn();
        }

        if (await RefuseOldOrWeakSessionAsync(http, services, userId) is { } stale)
        {
            return stale;
        }

        var options = await services.Users.PasskeyRegistrationOptionsAsync(
            services.Tenant.TenantId, userId, RequestDomain.Of(http.Request, services.Tenant.Tenant!), http.RequestAborted);
        return options is null ? Unavailable() : Begin(http, services, new Ceremony("register", userId, options));
    }

    public static async Task<IResult> Register(HttpContext http, string? name, [AsParameters] PasskeyServices services)
    {
        if (await RefuseAsync(http, services, "register") is { } refused)
        {
            return refused;
        }

        if (await SessionCookie.SignedInUserAsync(http) is not { } userId)
        {
            return NotSignedIn();
        }

        if (await RefuseOldOrWeakSessionAsync(http, services, userId) is { } stale)
        {
            return stale;
        }

        if (Take(http, services, "register") is not { } ceremony || ceremony.UserId != userId)
        {
            return NoCeremony();
        }

        if (await ReadAnswerAsync(http) is not { } answer)
        {
            return ApiErrors.Validation("credential", "must be the JSON of the new credential");
        }

        var (passkey, problem) = await services.Users.RegisterPasskeyAsync(services.Tenant.TenantId, userId, new RegisterPasskey(ceremony.Options, answer, name), http.RequestAborted);
        return passkey is not null ? Results.Json(passkey, statusCode: StatusCodes.Status201Created)
            : problem is not null ? ApiErrors.BadRequest("invalid_passkey", problem)
            : Unavailable();
    }

    public static async Task<IResult> AuthenticationOptions(HttpContext http, [AsParameters] PasskeyServices services)
    {
        if (await RefuseAsync(http, services, "authenticate") is { } refused)
        {
            return refused;
        }

        var options = await services.Users.PasskeyAssertionOptionsAsync(services.Tenant.TenantId, RequestDomain.Of(http.Request, services.Tenant.Tenant!), http.RequestAborted);
        return options is null ? Unavailable() : Begin(http, services, new Ceremony("authenticate", null, options));
    }

    public static async Task<IResult> Authenticate(HttpContext http, string? returnUrl, [AsParameters] PasskeyServices services)
    {
        if (await RefuseAsync(http, services, "authenticate") is { } refused)
        {
            return refused;
        }

        if (returnUrl is not null && !LoginEndpoints.IsAuthorizeContinuation(returnUrl, services.Tenant.Slug))
        {
            return ApiErrors.Validation("returnUrl", "is not a page of this tenant's sign-in");
        }

        if (Take(http, services, "authenticate") is not { } ceremony)
        {
            return NoCeremony();
        }

        if (await ReadAnswerAsync(http) is not { } answer)
        {
            return ApiErrors.Validation("credential", "must be the JSON of the passkey's answer");
        }

        var verdict = await services.Users.AuthenticateWithPasskeyAsync(
            new AuthenticateWithPasskey(services.Tenant.TenantId, ceremony.Options, answer, http.Connection.RemoteIpAddress?.ToString()), http.RequestAborted);
        switch (verdict)
        {
            case null:
                return Unavailable();
            case { Outcome: AuthenticationOutcomes.Success, UserId: { } userId }:
                var session = await services.Sessions.CreateAsync(userId, "passkey", mfaVerified: true, http, http.RequestAborted);
                await SessionStore.SignInAsync(http, session, SessionStore.Principal(session, verdict.Email, verdict.Name, verdict.AuthenticationMethods), verdict.Locale);
                return Results.Json(new { signedIn = true, redirect = returnUrl });
            case { Outcome: AuthenticationOutcomes.Locked }:
                return ApiErrors.Create(StatusCodes.Status403Forbidden, "account_locked", "Too many failed attempts. Try again later.");
            default:
                return ApiErrors.Create(StatusCodes.Status401Unauthorized, "invalid_passkey", "The passkey was not accepted.");
        }
    }

    private static IResult Begin(HttpContext http, PasskeyServices services, Ceremony ceremony)
    {
        var protector = services.DataProtection.CreateProtector(Purpose).ToTimeLimitedDataProtector();
        http.Response.Cookies.Append(CeremonyCookie, protector.Protect(JsonSerializer.Serialize(ceremony), CeremonyLifetime), CeremonyCookieOptions(http, services));
        http.Response.Headers.CacheControl = "no-store";
        return Results.Text(ceremony.Options, "application/json");
    }

    /// <summary>
    /// The hosted pages' cookie rules (Secure whenever the public origin is https, even behind the gateway's plain http), sent
    /// only to the passkey endpoints and never cross-site.
    /// </summary>
    private static CookieOptions CeremonyCookieOptions(HttpContext http, PasskeyServices services)
    {
        var options = TenantCookies.Options(http, services.Tenant.Slug, CeremonyLifetime);
        options.Path = $"/t/{services.Tenant.Slug}/webauthn";
        options.SameSite = SameSiteMode.Strict;
        return options;
    }

    /// <summary>The ceremony the browser began (and it is over now: its challenge is answered once), or null.</summary>
    private static Ceremony? Take(HttpContext http, PasskeyServices services, string kind)
    {
        if (!http.Request.Cookies.TryGetValue(CeremonyCookie, out var sealedCeremony))
        {
            return null;
        }

        http.Response.Cookies.Delete(CeremonyCookie, CeremonyCookieOptions(http, services));
        try
        {
            var ceremony = JsonSerializer.Deserialize<Ceremony>(services.DataProtection.CreateProtector(Purpose).ToTimeLimitedDataProtector().Unprotect(sealedCeremony));
            return ceremony?.Kind == kind ? ceremony : null;
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or JsonException)
        {
            return null;
        }
    }

    private static async Task<JsonElement?> ReadAnswerAsync(HttpContext http)
    {
        try
        {
            using var document = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted);
            return document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Null when the request may go on: JSON, to a tenant that has passkeys on (<c>loginPolicy.passkeysEnabled</c>) and allows
    /// this ceremony (<c>passkeyPolicy.allowRegistration</c> or <c>allowLogin</c>).
    /// </summary>
    private static async Task<IResult?> RefuseAsync(HttpContext http, PasskeyServices services, string kind)
    {
        if (!http.Request.HasJsonContentType())
        {
            return ApiErrors.Create(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Send application/json.");
        }

        return await services.HostedPages.GetAsync(services.Tenant.TenantId, http.RequestAborted) switch
        {
            null => Unavailable(),
            { PasskeysEnabled: false } => ApiErrors.NotFound("Passkeys"),
            { PasskeyRegistration: false } when kind == "register" =>
                ApiErrors.Create(StatusCodes.Status403Forbidden, PasskeyRefusals.RegistrationDisabled, PasskeyRefusals.RegistrationDisabledMessage),
            { PasskeyLogin: false } when kind == "authenticate" =>
                ApiErrors.Create(StatusCodes.Status403Forbidden, PasskeyRefusals.LoginDisabled, PasskeyRefusals.LoginDisabledMessage),
            _ => null,
        };
    }

    private static IResult NotSignedIn() => ApiErrors.Create(StatusCodes.Status401Unauthorized, "unauthorized", "Sign in first to add a passkey.");

    /// <summary>
    /// Null when the session may add a passkey (<see cref="RecentSignIn"/>: signed in lately, with the second factor the user
    /// has); otherwise a 401 asking to sign in again, as a stolen or password-only session must not add one.
    /// </summary>
    private static async Task<IResult?> RefuseOldOrWeakSessionAsync(HttpContext http, PasskeyServices services, Guid userId) =>
        await RecentSignIn.CheckAsync(http, services.Users, services.Time, services.Tenant.TenantId, userId) switch
        {
            RecentSignIn.Verdict.Recent => null,
            RecentSignIn.Verdict.SignInAgain => ApiErrors.Create(StatusCodes.Status401Unauthorized, "unauthorized",
                "Sign in again (with your second step, if you have one) to add a passkey."),
            _ => Unavailable(),
        };

    private static IResult NoCeremony() => ApiErrors.BadRequest("invalid_passkey", "No passkey request is waiting for this answer: ask for new options.");

    private static IResult Unavailable() => ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, "service_unavailable", "Passkeys are unavailable right now; try again.");

    /// <summary>
    /// The pages' passkey buttons (<c>data-passkey="register"</c> or <c>"authenticate"</c>), with the browser's WebAuthn JSON
    /// helpers; what happened goes to the page's <c>[data-passkey-status]</c>.
    /// </summary>
    private const string Script = """
        (() => {
          const status = document.querySelector('[data-passkey-status]');
          const say = text => { if (status) status.textContent = text; };
          // A page in another language gives the words on the button (data-say-…); refusals by their code.
          const refusals = { account_locked: 'sayLocked', unauthorized: 'saySignInAgain', service_unavailable: 'sayUnavailable' };
          const post = (url, body) => fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body ?? {}) });
          for (const button of document.querySelectorAll('[data-passkey]')) {
            const words = (name, english) => button.dataset[name] || english;
            button.addEventListener('click', async () => {
              const base = button.dataset.base, kind = button.dataset.passkey;
              if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) { say(words('sayUnsupported', 'This browser does not support passkeys.')); return; }
              try {
                const options = await (await post(`${base}/${kind}/options`)).json();
                const credential = kind === 'register'
                  ? await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })
                  : await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
                const query = button.dataset.returnUrl ? `?returnUrl=${encodeURIComponent(button.dataset.returnUrl)}` : '';
                const answer = await post(`${base}/${kind}${query}`, credential.toJSON());
                const result = await answer.json();
                if (!answer.ok) { say((Object.hasOwn(refusals, result.code) && button.dataset[refusals[result.code]]) || button.dataset.sayRejected || result.message || 'The passkey was not accepted.'); return; }
                if (kind === 'register') { say(words('sayReady', 'Your passkey is ready.')); return; }
                if (result.redirect) { window.location.assign(result.redirect); } else { say(words('saySignedIn', 'You are signed in.')); }
              } catch { say(words('sayUnused', 'No passkey was used.')); }
            });
          }
        })();
        """;
}
