using System.Security.Claims;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Authorize;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Features.Scopes;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Device;

/// <summary>
/// <c>/t/{slug}/api/v1/oauth/device</c>, the device flow's verification page (RFC 8628 §3.3, TOK-08): the user types
/// the code their device shows (or arrives with it from <c>verification_uri_complete</c>), signs in if needed, sees
/// which application asks for what (its scopes, and the authorization details of RFC 9396 it names) — with the code, so
/// they can check it is the one on their screen — and allows or denies. The device learns the answer by polling the token endpoint. Always asked: a device grant is never
/// approved silently, because the code may have been handed to the user by someone else.
/// </summary>
public static class DeviceVerificationEndpoints
{
    private const string DecisionField = "device_decision";
    private const string ResultParameter = "result";

    public static IEndpointRouteBuilder MapDeviceVerificationEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/t/{tenantSlug}/api/v1/oauth/device", [HttpMethods.Get, HttpMethods.Post], Verify)
            .AllowAnonymous().DisableAntiforgery().ExcludeFromDescription().WithName("OAuthDeviceVerification");
        // The user guide's shorter address for the same page (inventory C-09).
        app.MapGet("/t/{tenantSlug}/device", (string tenantSlug, HttpContext http) =>
                Results.Redirect(PagePath(tenantSlug) + http.Request.QueryString, permanent: false, preserveMethod: false))
            .AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    public sealed record DeviceServices(
        TenantContext Tenant,
        TokenApplicationManager Applications,
        IOpenIddictAuthorizationManager Authorizations,
        UserClaims UserClaims,
        SessionStore Sessions,
        IAntiforgery Antiforgery,
        ApprovalSteps Steps,
        IOptions<LumoAuthOptions> Lumo);

    public static string PagePath(string slug) => $"/t/{slug}/api/v1/oauth/device";

    public static async Task<IResult> Verify(HttpContext http, [AsParameters] DeviceServices services)
    {
        var slug = services.Tenant.Slug;
        var t = PageText.Of(http);
        var isPost = HttpMethods.IsPost(http.Request.Method) && http.Request.HasFormContentType;
        var form = isPost ? await http.Request.ReadFormAsync(http.RequestAborted) : null;
        if (!isPost)
        {
            switch (http.Request.Query[ResultParameter].ToString())
            {
                case "approved":
                    return HostedPage.Render(http, t["You're all set"], $"<p role=\"status\">{t.Html("The device is now signed in. You can close this page and go back to it.")}</p>");
                case "denied":
                    return HostedPage.Render(http, t["Access denied"], $"<p role=\"status\">{t.Html("The device was not given access. You can close this page.")}</p>");
            }
        }

        var typed = form?[Parameters.UserCode].ToString() ?? http.Request.Query[Parameters.UserCode].ToString();
        if (string.IsNullOrEmpty(typed))
        {
            return CodeForm(http, slug, error: null);
        }

        var userCode = DeviceCodes.Normalize(typed);
        if (userCode is null)
        {
            return CodeForm(http, slug, t["That is not a code of the form XXXX-XXXX. Check the code on your device."]);
        }

        if (!isPost && userCode != typed)
        {
            // Read as issued (upper case, dashed), so OpenIddict finds it whatever the user typed.
            return Results.Redirect(PagePath(slug) + QueryString.Create(Parameters.UserCode, userCode), permanent: false, preserveMethod: false);
        }

        var code = await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        if (code.Principal is not { } request || request.GetPresenters().FirstOrDefault() is not { } clientId)
        {
            return CodeForm(http, slug, t["That code is not valid or has expired. Check the code on your device, or start again there."]);
        }

        var session = await http.AuthenticateAsync(SessionCookie.Scheme);
        if (!session.Succeeded || session.Principal is not { } user)
        {
            var returnUrl = PagePath(slug) + QueryString.Create(Parameters.UserCode, userCode);
            return Results.Redirect($"/t/{slug}/login" + QueryString.Create("returnUrl", returnUrl), permanent: false, preserveMethod: false);
        }

        var application = await services.Applications.FindByClientIdAsync(clientId, http.RequestAborted);
        if (application is null)
        {
            return HostedPage.Error(http, Errors.InvalidClient, t["The application is no longer available."]);
        }

        var scopes = request.GetScopes();
        var details = AuthorizationDetails.Granted(request);
        var userId = Guid.Parse(user.GetClaim(Claims.Subject)!);
        var pending = await services.Steps.PendingAsync(services.Tenant.TenantId, userId, scopes, http.RequestAborted);
        async Task<IResult> Confirm(string? error) =>
            ConfirmPage(http, services, userCode, await services.Applications.GetDisplayNameAsync(application, http.RequestAborted), scopes, details, pending, form, error);
        var decision = form?[DecisionField].ToString() ?? string.Empty;
        if (decision.Length == 0)
        {
            return await Confirm(error: null);
        }

        try
        {
            await services.Antiforgery.ValidateRequestAsync(http);
        }
        catch (AntiforgeryValidationException)
        {
            return HostedPage.Error(http, Errors.InvalidRequest, t["The form expired. Enter the code again."]);
        }

        if (decision != "accept")
        {
            // The device's next poll answers access_denied.
            return Results.Forbid(Done(slug, "denied"), [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        }

        if (await services.Steps.RecordAsync(t, services.Tenant.TenantId, userId, pending, form!, http.RequestAborted) is { } stepProblem)
        {
            return await Confirm(stepProblem);
        }

        var facts = SignInFacts.Of(user, userId);
        var (identity, unavailable) = await services.UserClaims.TryBuildAsync(services.Tenant, services.Lumo.Value.IssuerFor(http.Request, services.Tenant.Tenant!), facts, scopes, http.RequestAborted);
        if (unavailable)
        {
            // Admin cannot say whether the user may sign in: the session stays, and the same step works once it answers.
            return HostedPage.Unavailable(http);
        }

        if (identity is null)
        {
            await http.SignOutAsync(SessionCookie.Scheme);
            return HostedPage.Error(http, Errors.AccessDenied, t["The account cannot sign in."], StatusCodes.Status403Forbidden);
        }

        // The resources the device asked for (RFC 8707) are the grant's, and so are the details the user just saw.
        identity.SetResources(request.GetResources());
        AuthorizationDetails.Attach(identity, details);

        // One grant per approval: its refresh tokens rotate and are revoked as a family, like a code grant's.
        var applicationId = (await services.Applications.GetIdAsync(application, http.RequestAborted))!;
        var authorization = await services.Authorizations.CreateAsync(
            new ClaimsPrincipal(identity), userId.ToString(), applicationId, AuthorizationTypes.AdHoc, scopes, http.RequestAborted);
        identity.SetAuthorizationId(await services.Authorizations.GetIdAsync(authorization, http.RequestAborted));
        if (facts.SessionId is not null)
        {
            await services.Sessions.TouchAsync(facts.SessionId, clientId, http.RequestAborted);
        }

        return Results.SignIn(new ClaimsPrincipal(identity), Done(slug, "approved"), OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    private static AuthenticationProperties Done(string slug, string result) =>
        new() { RedirectUri = PagePath(slug) + QueryString.Create(ResultParameter, result) };

    /// <param name="error">Already in the page's language.</param>
    private static IResult CodeForm(HttpContext http, string slug, string? error)
    {
        var t = PageText.Of(http);
        var body =
            (error is null ? string.Empty : $"<p class=\"error\" role=\"alert\">{HostedPage.Encode(error)}</p>") +
            $"<p>{t.Html("Enter the code shown on your device.")}</p>" +
            $"<form method=\"get\" action=\"{HostedPage.Encode(PagePath(slug))}\">" +
            $"<label for=\"user_code\">{t.Html("Code")}</label>" +
            "<input id=\"user_code\" name=\"user_code\" autocomplete=\"one-time-code\" autocapitalize=\"characters\" spellcheck=\"false\" required>" +
            $"<button type=\"submit\">{t.Html("Continue")}</button></form>";
        return HostedPage.Render(http, t["Connect a device"], body, error is null ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
    }

    /// <param name="pending">The tenant's terms and required attributes the Allow needs first.</param>
    /// <param name="posted">The form posted, whose values are shown again.</param>
    /// <param name="error">Already in the page's language.</param>
    private static IResult ConfirmPage(HttpContext http, DeviceServices services, string userCode, string? clientName, IEnumerable<string> scopes,
        System.Text.Json.JsonElement? details, ApprovalSteps.Pending pending, IFormCollection? posted, string? error)
    {
        var t = PageText.Of(http);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        // A standard scope in the person's words, its name beside it, as on the consent page.
        var list = string.Concat(scopes.Select(s => ScopeNames.ConsentText(t, s) is { Length: > 0 } text
            ? $"<li>{HostedPage.Encode(text)} <small>({HostedPage.Encode(s)})</small></li>"
            : $"<li>{HostedPage.Encode(s)}</li>"));
        var body =
            (error is null ? string.Empty : $"<p class=\"error\" role=\"alert\">{HostedPage.Encode(error)}</p>") +
            $"<p>{t.Html("{0} on your device asks to:", PageText.Strong(clientName))}</p><ul>{list}</ul>" +
            AuthorizationDetails.Html(t, details) +
            $"<p>{t.Html("Only allow it if your device shows the code {0}.", new Markup($"<strong id=\"user-code\">{HostedPage.Encode(userCode)}</strong>"))}</p>" +
            $"<form method=\"post\" action=\"{HostedPage.Encode(PagePath(services.Tenant.Slug))}\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) + HostedPage.Field(Parameters.UserCode, userCode) +
            ApprovalSteps.Fields(t, pending, posted) +
            $"<button type=\"submit\" name=\"{DecisionField}\" value=\"accept\">{t.Html("Allow")}</button> " +
            $"<button type=\"submit\" name=\"{DecisionField}\" value=\"deny\" formnovalidate>{t.Html("Deny")}</button></form>";
        return HostedPage.Render(http, t["Allow the device?"], body, error is null ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
    }
}
