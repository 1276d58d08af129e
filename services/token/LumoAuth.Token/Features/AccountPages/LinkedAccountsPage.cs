using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using Microsoft.AspNetCore.Antiforgery;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>
/// <c>/t/{slug}/account/linked-accounts</c>: the signed-in user sees the outside accounts (Google, GitHub, their
/// organisation's provider…) they sign in with, and unlinks one — unless it is the last way they have to sign in: no
/// password, no passkey, no other link, and no sign-in links by e-mail at this tenant would leave the account locked out.
/// They also link one more, through any of the tenant's social or OpenID Connect providers: federation sends the browser
/// to the provider and, back, links the account to them (never to anyone else, and never one that signs another user in).
/// </summary>
public static class LinkedAccountsPage
{
    public const string Path = "/account/linked-accounts";

    public static IEndpointRouteBuilder MapLinkedAccountsPage(this IEndpointRouteBuilder app)
    {
        app.MapGet("/t/{tenantSlug}" + Path, Show).AllowAnonymous().ExcludeFromDescription().WithName("LinkedAccountsPage");
        app.MapPost("/t/{tenantSlug}" + Path, Submit).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy);
        return app;
    }

    public sealed record LinkedAccountServices(
        TenantContext Tenant, FederatedLogins Federation, UserDirectory Users, HostedPageSettingsCache Settings, IAntiforgery Antiforgery, TimeProvider Time);

    public static string PagePath(string slug) => $"/t/{slug}{Path}";

    public static async Task<IResult> Show(HttpContext http, string? linked, string? error, [AsParameters] LinkedAccountServices services)
    {
        if (await SessionCookie.SignedInAsync(http) is not var (userId, _))
        {
            return AccountPage.ToSignIn(services.Tenant.Slug, PagePath(services.Tenant.Slug));
        }

        // How linking one more account ended (federation sends the browser back here).
        var t = PageText.Of(http);
        var outcome = error switch
        {
            null => null,
            LinkOutcomes.LinkedElsewhere => t["That account already signs in another user here, so it was not linked to yours."],
            LinkOutcomes.Expired => t["That link request expired or was not yours. Try again."],
            _ => t["The provider did not confirm the account. Try again."],
        };
        return await RenderAsync(http, services, userId, error: null, notice: outcome ?? (linked == "1" ? t["The account is linked to yours."] : null));
    }

    public static async Task<IResult> Submit(HttpContext http, [AsParameters] LinkedAccountServices services)
    {
        var path = PagePath(services.Tenant.Slug);
        var (signedIn, refusal) = await AccountPage.ReadSignedInFormAsync(http, services.Antiforgery, services.Tenant.Slug, path);
        if (signedIn is null)
        {
            return refusal!;
        }

        var (userId, _, form) = signedIn;
        var t = PageText.Of(http);
        if (form["action"] == "link" && Guid.TryParse(form["provider"].ToString(), out var providerId))
        {
            // A new way to sign in, as a passkey is: only from a recent sign-in (with the second step the user has), so a
            // stolen session cookie cannot attach its thief's account for good.
            switch (await RecentSignIn.CheckAsync(http, services.Users, services.Time, services.Tenant.TenantId, userId))
            {
                case RecentSignIn.Verdict.SignInAgain:
                    return AccountPage.ToSignIn(services.Tenant.Slug, path);
                case RecentSignIn.Verdict.Unavailable:
                    return AccountPage.Unavailable(http);
            }

            string? intent;
            try
            {
                intent = await services.Federation.LinkIntentAsync(services.Tenant.TenantId, userId, providerId, http.RequestAborted);
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !http.RequestAborted.IsCancellationRequested)
            {
                return AccountPage.Unavailable(http);
            }

            // A page with the way on rather than a redirect: the form's own navigation may not leave for the provider's
            // site (form-action 'self' covers the redirects that follow a form post).
            var start = $"/t/{services.Tenant.Slug}/auth/social/{providerId}?link={Uri.EscapeDataString(intent ?? string.Empty)}";
            return intent is null
                ? await RenderAsync(http, services, userId, t["That provider cannot be linked (any more)."])
                : HostedPage.Render(http, t["Link an account"],
                    $"<p>{t.Html("Sign in with the account to link; you come back here afterwards.")}</p><p><a class=\"button\" id=\"continue\" href=\"{HostedPage.Encode(start)}\">{t.Html("Continue")}</a></p>");
        }

        if (form["action"] != "unlink" || !Guid.TryParse(form["link"].ToString(), out var linkId))
        {
            return HostedPage.Error(http, "invalid_request", t["Unknown action."]);
        }

        var links = await services.Federation.LinksAsync(services.Tenant.TenantId, userId, http.RequestAborted);
        var (found, profile) = await services.Users.FindAsync(services.Tenant.TenantId, userId, http.RequestAborted);
        var settings = await services.Settings.GetAsync(services.Tenant.TenantId, http.RequestAborted);
        if (links is null || found is null || settings is null)
        {
            return AccountPage.Unavailable(http);
        }

        if (!links.Any(l => l.Id == linkId))
        {
            return await RenderAsync(http, services, userId, t["That account is not linked to yours (any more)."]);
        }

        // The last way in stays: a password or passkey, another link through a provider that is on, or sign-in links by e-mail.
        var otherWayIn = profile?.HasOwnCredential == true || links.Any(l => l.Id != linkId && l.ProviderEnabled) || settings.MagicLinkEnabled;
        if (!otherWayIn)
        {
            return await RenderAsync(http, services, userId, t["This is the only way you sign in. Set a password or add a passkey first, then unlink it."]);
        }

        try
        {
            await services.Federation.UnlinkAsync(services.Tenant.TenantId, userId, linkId, http.RequestAborted);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !http.RequestAborted.IsCancellationRequested)
        {
            return AccountPage.Unavailable(http);
        }

        return Results.Redirect(path, permanent: false, preserveMethod: false);
    }

    /// <param name="error">In the page's language, as <paramref name="notice"/>.</param>
    private static async Task<IResult> RenderAsync(HttpContext http, LinkedAccountServices services, Guid userId, string? error, string? notice = null)
    {
        var links = await services.Federation.LinksAsync(services.Tenant.TenantId, userId, http.RequestAborted);
        if (links is null)
        {
            return AccountPage.Unavailable(http);
        }

        var path = PagePath(services.Tenant.Slug);
        var t = PageText.Of(http);
        var items = string.Concat(links.Select(l =>
            $"<li data-link=\"{l.Id}\">{HostedPage.Encode(l.Provider)} <small>{HostedPage.Encode(t.Format("({0}, last used {1:yyyy-MM-dd HH:mm} UTC)", l.Email ?? l.Subject, l.LastSignInAt))}</small>" +
            AccountPage.ActionForm(http, services.Antiforgery, path, "unlink", t["Unlink"], ("link", l.Id.ToString())) + "</li>"));
        // SAML IdPs sign in through the organisation's directory, which links its people itself: only the others are offered.
        var linkable = (await services.Federation.ProvidersAsync(services.Tenant.TenantId, http.RequestAborted)).Where(p => p.IsLinkable).ToList();
        var offers = string.Concat(linkable.Select(p =>
            $"<li data-provider=\"{p.Id}\">{HostedPage.Encode(p.Name)}" + AccountPage.ActionForm(http, services.Antiforgery, path, "link", t["Link"], ("provider", p.Id.ToString())) + "</li>"));
        var body = (error is null ? string.Empty : $"<p class=\"error\" role=\"alert\">{HostedPage.Encode(error)}</p>") +
            (notice is null ? string.Empty : $"<p class=\"notice\" role=\"status\">{HostedPage.Encode(notice)}</p>") +
            (links.Count == 0 ? $"<p>{t.Html("No outside accounts are linked to yours.")}</p>" : $"<ul>{items}</ul>") +
            (linkable.Count == 0 ? string.Empty : $"<h2>{t.Html("Link another account")}</h2><ul>{offers}</ul>");
        return HostedPage.Render(http, t["Linked accounts"], body, error is null ? StatusCodes.Status200OK : StatusCodes.Status409Conflict);
    }
}
