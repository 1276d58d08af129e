using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Features.Sessions;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// <c>/t/{slug}/account/sessions</c>: the signed-in user sees where they are signed in (the docs' account page) and signs
/// out any other browser, or all of them at once; this browser signs out with the logout page. Ending a session works
/// as when an administrator ends it: its grants' tokens stop working and its clients get back-channel logout.
/// </summary>
public static class SessionsAccountPage
{
    public const string Path = "/account/sessions";

    public static IEndpointRouteBuilder MapSessionsAccountPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/t/{tenantSlug}" + Path, Show).AllowAnonymous().ExcludeFromDescription().WithName("SessionsAccountPage");
        app.MapPost("/t/{tenantSlug}" + Path, Submit).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy);
        return app;
    }

    public sealed record SessionsAccountServices(TenantContext Tenant, TokenDbContext Db, SessionRevocation Revocation, IAntiforgery Antiforgery, TimeProvider Time);

    public static string PagePath(string slug) => $"/t/{slug}{Path}";

    public static async Task<IResult> Show(HttpContext http, [AsParameters] SessionsAccountServices services)
    {
        if (await SessionCookie.SignedInAsync(http) is not var (userId, current))
        {
            return AccountPage.ToSignIn(services.Tenant.Slug, PagePath(services.Tenant.Slug));
        }

        var now = services.Time.GetUtcNow();
        var sessions = await services.Db.Sessions.AsNoTracking()
            .Where(s => s.UserId == userId && s.RevokedAt == null && s.ExpiresAt > now)
            .OrderByDescending(s => s.LastActiveAt).ToListAsync(http.RequestAborted);
        var path = PagePath(services.Tenant.Slug);
        var t = PageText.Of(http);
        var items = string.Concat(sessions.Select(s =>
            $"<li data-session=\"{HostedPage.Encode(s.Id)}\">{HostedPage.Encode(string.IsNullOrEmpty(s.UserAgent) ? t["A browser"] : s.UserAgent)}" +
            $" <small>{HostedPage.Encode(t.Format("({0}, signed in {1:yyyy-MM-dd HH:mm} UTC, last active {2:yyyy-MM-dd HH:mm} UTC)", s.IpAddress ?? t["unknown address"], s.CreatedAt, s.LastActiveAt))}</small>" +
            (s.Id == current
                ? $" <strong>{t.Html("This browser")}</strong>"
                : AccountPage.ActionForm(http, services.Antiforgery, path, "revoke", t["Sign out"], ("session", s.Id))) +
            "</li>"));
        var others = sessions.Count(s => s.Id != current);
        var body = $"<ul>{items}</ul>" +
            (others > 0 ? AccountPage.ActionForm(http, services.Antiforgery, path, "revoke-others", t["Sign out all other sessions"]) : string.Empty);
        return HostedPage.Render(http, t["Where you are signed in"], body);
    }

    public static async Task<IResult> Submit(HttpContext http, [AsParameters] SessionsAccountServices services)
    {
        var (signedIn, refusal) = await AccountPage.ReadSignedInFormAsync(http, services.Antiforgery, services.Tenant.Slug, PagePath(services.Tenant.Slug));
        if (signedIn is null)
        {
            return refusal!;
        }

        var (userId, current, form) = signedIn;
        switch (form["action"].ToString())
        {
            case "revoke" when form["session"].ToString() is { Length: > 0 and <= 64 } sessionId && sessionId != current:
                // Only the user's own sessions match (RevokeSessionAsync looks the session up by user).
                await services.Revocation.RevokeSessionAsync(userId, sessionId, SessionRevocation.Reasons.User, http.RequestAborted);
                break;
            case "revoke-others":
                await services.Revocation.RevokeOtherSessionsAsync(userId, current, SessionRevocation.Reasons.User, http.RequestAborted);
                break;
            default:
                var t = PageText.Of(http);
                return HostedPage.Error(http, "invalid_request", t["Unknown action."]);
        }

        return Results.Redirect(PagePath(services.Tenant.Slug), permanent: false, preserveMethod: false);
    }
}
