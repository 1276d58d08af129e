using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Consents;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Features.Scopes;
using Microsoft.AspNetCore.Antiforgery;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// <c>/t/{slug}/account/applications</c>: the signed-in user sees the applications they let in and what each may do, and
/// takes any one's access away (Keycloak's account console "Applications"): the application's tokens stop working, and
/// its next sign-in asks for consent again.
/// </summary>
public static class ApplicationsAccountPage
{
    public const string Path = "/account/applications";

    public static IEndpointRouteBuilder MapApplicationsAccountPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/t/{tenantSlug}" + Path, Show).AllowAnonymous().ExcludeFromDescription().WithName("ApplicationsAccountPage");
        app.MapPost("/t/{tenantSlug}" + Path, Submit).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy);
        return app;
    }

    public sealed record ApplicationsAccountServices(TenantContext Tenant, ApplicationAccess Access, IAntiforgery Antiforgery);

    public static string PagePath(string slug) => $"/t/{slug}{Path}";

    public static async Task<IResult> Show(HttpContext http, [AsParameters] ApplicationsAccountServices services)
    {
        if (await SessionCookie.SignedInUserAsync(http) is not { } userId)
        {
            return AccountPage.ToSignIn(services.Tenant.Slug, PagePath(services.Tenant.Slug));
        }

        var t = PageText.Of(http);
        var path = PagePath(services.Tenant.Slug);
        var applications = await services.Access.ListAsync(userId, http.RequestAborted);
        var body = applications.Count == 0
            ? $"<p>{t.Html("You have not let any application use your account.")}</p>"
            : "<ul>" + string.Concat(applications.Select(a =>
                $"<li data-client=\"{HostedPage.Encode(a.ClientId)}\"><strong>{HostedPage.Encode(a.Name)}</strong>" +
                $" <small>{HostedPage.Encode(t.Format("(since {0:yyyy-MM-dd})", a.GrantedAt))}</small>" +
                "<ul>" + string.Concat(a.Scopes.Select(s => $"<li>{HostedPage.Encode(ScopeNames.ConsentText(t, s) ?? s)}</li>")) + "</ul>" +
                AccountPage.ActionForm(http, services.Antiforgery, path, "revoke", t["Remove access"], ("client", a.ClientId)) +
                "</li>")) + "</ul>";
        return HostedPage.Render(http, t["Applications with access to your account"], body);
    }

    public static async Task<IResult> Submit(HttpContext http, [AsParameters] ApplicationsAccountServices services)
    {
        var (signedIn, refusal) = await AccountPage.ReadSignedInFormAsync(http, services.Antiforgery, services.Tenant.Slug, PagePath(services.Tenant.Slug));
        if (signedIn is null)
        {
            return refusal!;
        }

        var (userId, _, form) = signedIn;
        if (form["action"].ToString() != "revoke" || form["client"].ToString() is not { Length: > 0 and <= 2048 } clientId)
        {
            return HostedPage.Error(http, "invalid_request", PageText.Of(http)["Unknown action."]);
        }

        // Only the user's own consents and grants match (looked up by user).
        await services.Access.RevokeAsync(userId, clientId, ApplicationAccess.Reasons.User, http.RequestAborted);
        return Results.Redirect(PagePath(services.Tenant.Slug), permanent: false, preserveMethod: false);
    }
}
