using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using Microsoft.AspNetCore.Antiforgery;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// <c>/t/{slug}/account/profile</c>: the signed-in user sees their account and edits their names (the docs' account
/// page). The address is shown, not edited here: changing it needs proof of the new mailbox, which an administrator or
/// a verification link gives.
/// </summary>
public static class ProfileAccountPage
{
    public const string Path = "/account/profile";
    private const int MaxLength = 200;

    public static IEndpointRouteBuilder MapProfileAccountPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/t/{tenantSlug}" + Path, Show).AllowAnonymous().ExcludeFromDescription().WithName("ProfileAccountPage");
        app.MapPost("/t/{tenantSlug}" + Path, Submit).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy);
        return app;
    }

    public sealed record ProfileAccountServices(TenantContext Tenant, UserDirectory Users, AccountLinkClient Admin, IAntiforgery Antiforgery);

    public static string PagePath(string slug) => $"/t/{slug}{Path}";

    public static async Task<IResult> Show(HttpContext http, [AsParameters] ProfileAccountServices services)
    {
        if (await SessionCookie.SignedInUserAsync(http) is not { } userId)
        {
            return AccountPage.ToSignIn(services.Tenant.Slug, PagePath(services.Tenant.Slug));
        }

        return await services.Users.GetProfileAsync(services.Tenant.TenantId, userId, http.RequestAborted) is { } profile
            ? Form(http, services, profile.Email, new SelfProfileUpdate(profile.Name, profile.GivenName, profile.FamilyName), [], saved: false)
            : AccountPage.Unavailable(http);
    }

    public static async Task<IResult> Submit(HttpContext http, [AsParameters] ProfileAccountServices services)
    {
        var (signedIn, refusal) = await AccountPage.ReadSignedInFormAsync(http, services.Antiforgery, services.Tenant.Slug, PagePath(services.Tenant.Slug));
        if (signedIn is null)
        {
            return refusal!;
        }

        var t = PageText.Of(http);
        var (userId, _, form) = signedIn;
        var update = new SelfProfileUpdate(form["name"].ToString().Trim(), form["given_name"].ToString().Trim(), form["family_name"].ToString().Trim());
        var profile = await services.Users.GetProfileAsync(services.Tenant.TenantId, userId, http.RequestAborted);
        if (profile is null)
        {
            return AccountPage.Unavailable(http);
        }

        if (new[] { update.Name, update.GivenName, update.FamilyName }.Any(v => v!.Length > MaxLength))
        {
            return Form(http, services, profile.Email, update, [t.Format("Each name may have at most {0} characters.", MaxLength)], saved: false, StatusCodes.Status400BadRequest);
        }

        var result = await services.Admin.UpdateProfileAsync(services.Tenant.TenantId, userId, update, http.RequestAborted);
        return result.Outcome switch
        {
            LinkOutcome.Done => Form(http, services, profile.Email, update, [], saved: true),
            LinkOutcome.Invalid => Form(http, services, profile.Email, update, AccountPage.Describe(t, result.Problems), saved: false, StatusCodes.Status400BadRequest),
            _ => AccountPage.Unavailable(http),
        };
    }

    private static IResult Form(
        HttpContext http, ProfileAccountServices services, string email, SelfProfileUpdate names, IEnumerable<string> errors, bool saved, int status = StatusCodes.Status200OK)
    {
        var t = PageText.Of(http);
        return HostedPage.Render(http, t["Your profile"],
            AccountPage.Errors(errors) +
            (saved ? $"<p data-saved role=\"status\">{t.Html("Your profile is saved.")}</p>" : string.Empty) +
            $"<p>{t.Html("Email: {0}", PageText.Strong(email))}</p>" +
            AccountPage.FormStart(http, services.Antiforgery, PagePath(services.Tenant.Slug), token: null) +
            Field("name", t["Full name"], names.Name, "name") +
            Field("given_name", t["Given name"], names.GivenName, "given-name") +
            Field("family_name", t["Family name"], names.FamilyName, "family-name") +
            $"<button type=\"submit\">{t.Html("Save")}</button></form>",
            status);
    }

    /// <param name="label">In the page's language.</param>
    private static string Field(string name, string label, string? value, string autocomplete) =>
        $"<label for=\"{name}\">{HostedPage.Encode(label)}</label>" +
        $"<input id=\"{name}\" name=\"{name}\" value=\"{HostedPage.Encode(value ?? string.Empty)}\" autocomplete=\"{autocomplete}\" maxlength=\"{MaxLength}\">";
}
