using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Features.Sessions;
using Microsoft.AspNetCore.Antiforgery;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// <c>/t/{slug}/account/password</c>: the signed-in user changes their password (the docs' account page). The current
/// password is asked again — a stolen session alone cannot take over the account — and a wrong one counts towards the
/// lockout (admin checks both). By default the user's other sessions end with the change, as after a compromise one wants.
/// </summary>
public static class PasswordAccountPage
{
    public const string Path = "/account/password";

    public static IEndpointRouteBuilder MapPasswordAccountPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/t/{tenantSlug}" + Path, Show).AllowAnonymous().ExcludeFromDescription().WithName("PasswordAccountPage");
        app.MapPost("/t/{tenantSlug}" + Path, Submit).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy);
        return app;
    }

    public sealed record PasswordAccountServices(
        TenantContext Tenant, AccountLinkClient Admin, SessionRevocation Revocation, IAntiforgery Antiforgery);

    public static string PagePath(string slug) => $"/t/{slug}{Path}";

    public static async Task<IResult> Show(HttpContext http, [AsParameters] PasswordAccountServices services) =>
        await SessionCookie.SignedInUserAsync(http) is null ? AccountPage.ToSignIn(services.Tenant.Slug, PagePath(services.Tenant.Slug)) : Form(http, services, []);

    public static async Task<IResult> Submit(HttpContext http, [AsParameters] PasswordAccountServices services)
    {
        var (signedIn, refusal) = await AccountPage.ReadSignedInFormAsync(http, services.Antiforgery, services.Tenant.Slug, PagePath(services.Tenant.Slug));
        if (signedIn is null)
        {
            return refusal!;
        }

        var t = PageText.Of(http);
        var (userId, current, form) = signedIn;
        var currentPassword = form["current"].ToString();
        var password = form["password"].ToString();
        if (currentPassword.Length is 0 or > 256)
        {
            return Form(http, services, [t["Enter your current password."]], StatusCodes.Status400BadRequest);
        }

        if (AccountPage.CheckNewPassword(t, password, form["confirm"].ToString()) is { } problem)
        {
            return Form(http, services, [problem], StatusCodes.Status400BadRequest);
        }

        var result = await services.Admin.ChangePasswordAsync(services.Tenant.TenantId, userId, currentPassword, password, http.RequestAborted);
        switch (result.Outcome)
        {
            case LinkOutcome.Done:
                var signedOut = form["sign_out_others"] == "on" ? await services.Revocation.RevokeOtherSessionsAsync(userId, current, SessionRevocation.Reasons.User, http.RequestAborted) : 0;
                return HostedPage.Render(http, t["Your password was changed"],
                    $"<p data-password-changed>{t.Html("Use your new password from now on.")}</p>" +
                    (signedOut > 0
                        ? $"<p>{(signedOut == 1 ? t.Html("Your {0} other session was signed out.", signedOut) : t.Html("Your {0} other sessions were signed out.", signedOut))}</p>"
                        : string.Empty));
            case LinkOutcome.Invalid:
                return Form(http, services, AccountPage.Describe(t, result.Problems), StatusCodes.Status400BadRequest);
            default:
                return AccountPage.Unavailable(http);
        }
    }

    private static IResult Form(HttpContext http, PasswordAccountServices services, IEnumerable<string> errors, int status = StatusCodes.Status200OK)
    {
        var t = PageText.Of(http);
        return HostedPage.Render(http, t["Change your password"],
            AccountPage.Errors(errors) +
            AccountPage.FormStart(http, services.Antiforgery, PagePath(services.Tenant.Slug), token: null) +
            $"<label for=\"current\">{t.Html("Current password")}</label><input id=\"current\" name=\"current\" type=\"password\" autocomplete=\"current-password\" required>" +
            AccountPage.NewPasswordFields(t, t["New password"]) +
            $"<label><input type=\"checkbox\" name=\"sign_out_others\" value=\"on\" checked> {t.Html("Sign out my other sessions")}</label>" +
            $"<button type=\"submit\">{t.Html("Change the password")}</button></form>",
            status);
    }
}
