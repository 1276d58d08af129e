using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.AccountPages;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.DataProtection;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Registration;

/// <summary>
/// The hosted registration page, <c>/t/{slug}/register</c>, where <c>prompt=create</c> sends the browser
/// (OpenID Connect "Initiating User Registration"). Admin creates the account; the new user then signs in through the
/// login page's step (SSO session, or first the two-step enrolment the tenant requires) and the authorization request
/// continues to consent and the code. Only when the tenant allows
/// self-registration; a taken email reads like any other refusal and points to sign-in.
/// </summary>
public static class RegistrationEndpoints
{
    public const string PromptCreate = "create";

    public static IEndpointRouteBuilder MapRegistrationEndpoints(this IEndpointRouteBuilder app)
    {
        // Anonymous on purpose: this is where a browser without an account gets one.
        app.MapGet("/t/{tenantSlug}/register", ShowRegistration).AllowAnonymous().ExcludeFromDescription().WithName("RegistrationPage");
        app.MapPost("/t/{tenantSlug}/register", SubmitRegistration).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy).WithName("RegistrationSubmit");
        return app;
    }

    public sealed record RegistrationServices(
        TenantContext Tenant, IAntiforgery Antiforgery, UserDirectory Users, SessionStore Sessions, HostedPageSettingsCache Settings,
        IDataProtectionProvider DataProtection, TrustedDevices Devices, FailedSignInThrottle Throttle, Login.ProviderButtons Buttons)
    {
        /// <summary>What the login page's sign-in step needs, which a new account goes through.</summary>
        public LoginEndpoints.LoginServices ForSignIn() => new(Tenant, Antiforgery, Users, Sessions, DataProtection, Settings, Devices, Throttle, Buttons);
    }

    public static async Task<IResult> ShowRegistration(HttpContext http, string? returnUrl, [AsParameters] RegistrationServices services)
    {
        var t = PageText.Of(http);
        if (returnUrl is not null && !LoginEndpoints.IsAuthorizeContinuation(returnUrl, services.Tenant.Slug))
        {
            return HostedPage.Error(http, Errors.InvalidRequest, t["The registration link is not valid."]);
        }

        var settings = await services.Settings.GetAsync(services.Tenant.TenantId, http.RequestAborted);
        if (settings is null)
        {
            return Unavailable(http);
        }

        return settings.RegistrationEnabled
            ? Form(http, services, settings, returnUrl, email: null, name: null, errors: [])
            : Disabled(http);
    }

    public static async Task<IResult> SubmitRegistration(HttpContext http, [AsParameters] RegistrationServices services)
    {
        var t = PageText.Of(http);
        try
        {
            await services.Antiforgery.ValidateRequestAsync(http);
        }
        catch (AntiforgeryValidationException)
        {
            return HostedPage.Error(http, Errors.InvalidRequest, t["The form expired or did not come from this page. Reload it and try again."]);
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var email = form["email"].ToString().Trim();
        var password = form["password"].ToString();
        var name = form["name"].ToString().Trim();
        var returnUrl = form["returnUrl"].ToString() is { Length: > 0 } r ? r : null;
        if (returnUrl is not null && !LoginEndpoints.IsAuthorizeContinuation(returnUrl, services.Tenant.Slug))
        {
            return HostedPage.Error(http, Errors.InvalidRequest, t["The registration link is not valid."]);
        }

        // The terms the page showed (their version), where the tenant has terms; admin checks they are still the current ones.
        var settings = await services.Settings.GetAsync(services.Tenant.TenantId, http.RequestAborted);
        var acceptedTerms = form[PendingTerms.Field].ToString() is { Length: > 0 and <= 50 } accepted ? accepted : null;
        var asked = AskedAttributes(settings);
        var attributes = ProfileAttributeFields.Read(form, asked);
        IResult Again(List<string> errors) => Form(http, services, settings, returnUrl, email, name, errors, StatusCodes.Status400BadRequest, attributes);
        if (email.Length is 0 or > 320 || password.Length == 0 || name.Length > 200)
        {
            return Again([t["Enter your email and a password."]]);
        }

        if (settings?.Terms is not null && acceptedTerms is null)
        {
            return Again([t["Accept the terms of service to register."]]);
        }

        if (ProfileAttributeFields.Problems(t, asked, attributes) is { Count: > 0 } problems)
        {
            return Again(problems);
        }

        var result = await services.Users.RegisterAsync(
            new RegisterUserRequest(services.Tenant.TenantId, email, password, name.Length == 0 ? null : name, PageText.Of(http).Language)
            {
                AcceptedTerms = acceptedTerms, Attributes = attributes.Count == 0 ? null : attributes,
            },
            http.RequestAborted);
        switch (result.Outcome)
        {
            case RegistrationOutcome.Created when result.User is { } user:
                if (user.EmailVerificationRequired)
                {
                    return HostedPage.Render(http, t["Check your email"],
                        $"<p>{t.Html("Your account was created. Verify your email address, then sign in from the application.")}</p>");
                }

                // Signed in as at the login page, not here: a tenant that requires two-step verification gets the enrolment
                // first (no session before it), and whatever else the sign-in asks for applies to new accounts too.
                return await LoginEndpoints.AuthenticateAsync(http, services.ForSignIn(), await services.Settings.GetAsync(services.Tenant.TenantId, http.RequestAborted),
                    pending: null, user.Email, password, totp: null, returnUrl, rememberDevice: false);
            case RegistrationOutcome.Invalid:
                return Again(AccountPage.Describe(t, result.Problems.Select(p => (p.Field, p.Problem)).ToList()).ToList());
            case RegistrationOutcome.Duplicate:
                // Unavoidably this attempt failed; the message does not say why, and offers sign-in and reset.
                return Again([t["We could not create an account with these details. If you already have an account, sign in instead."]]);
            case RegistrationOutcome.Disabled:
                return Disabled(http);
            default:
                return Unavailable(http);
        }
    }

    private static IResult Disabled(HttpContext http)
    {
        var t = PageText.Of(http);
        return HostedPage.Error(http, "registration_disabled", t["This organisation does not allow creating accounts here. Ask its administrator for an invitation."], StatusCodes.Status403Forbidden);
    }

    private static IResult Unavailable(HttpContext http)
    {
        var t = PageText.Of(http);
        return HostedPage.Unavailable(http, t["Registration"]);
    }

    private static List<ProfileAttributeInfo> AskedAttributes(HostedPageSettings? settings) =>
        [.. (settings?.ProfileAttributes ?? []).Where(a => a.OnRegistration)];

    private static IResult Form(HttpContext http, RegistrationServices services, HostedPageSettings? settings, string? returnUrl, string? email, string? name,
        List<string> errors, int status = StatusCodes.Status200OK, IReadOnlyDictionary<string, string>? attributes = null)
    {
        var terms = settings?.Terms;
        var t = PageText.Of(http);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        var slug = HostedPage.Encode(services.Tenant.Slug);
        var signIn = $"/t/{services.Tenant.Slug}/login" + (returnUrl is null ? string.Empty : QueryString.Create("returnUrl", returnUrl).Value);
        var body =
            (errors.Count == 0 ? string.Empty : "<div class=\"error\" role=\"alert\">" + string.Concat(errors.Select(e => $"<p>{HostedPage.Encode(e)}</p>")) + "</div>") +
            $"<form method=\"post\" action=\"/t/{slug}/register\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) +
            (returnUrl is null ? string.Empty : HostedPage.Field("returnUrl", returnUrl)) +
            $"<label for=\"name\">{t.Html("Full name")}</label><input id=\"name\" name=\"name\" autocomplete=\"name\" maxlength=\"200\" value=\"{HostedPage.Encode(name)}\">" +
            $"<label for=\"email\">{t.Html("Email")}</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required value=\"{HostedPage.Encode(email)}\">" +
            $"<label for=\"password\">{t.Html("Password")}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>" +
            ProfileAttributeFields.Inputs(t, AskedAttributes(settings), n => attributes?.GetValueOrDefault(n)) +
            (terms is null ? string.Empty : PendingTerms.Checkbox(t, terms)) +
            $"<button type=\"submit\">{t.Html("Create account")}</button></form>" +
            $"<p>{t.Html("Already have an account? {0}", t.Link("Sign in", signIn))}</p>";
        return HostedPage.Render(http, t["Create your account"], body, status, LoginEndpoints.ClientRedirectOf(returnUrl));
    }
}
