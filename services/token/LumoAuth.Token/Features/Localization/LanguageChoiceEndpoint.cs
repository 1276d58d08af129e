using LumoAuth.ServiceDefaults.Localization;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Login;

namespace LumoAuth.Token.Features.Localization;

/// <summary>
/// <c>GET /t/{slug}/language?lang=…&amp;returnUrl=…</c>: the person picks a language from a page's list; it is remembered
/// for the tenant's pages, saved to their profile when they sign in next (<see cref="PageLanguage.Pick"/>), and the browser
/// goes back to the page it was on (only ever one of this tenant's own pages).
/// </summary>
public static class LanguageChoiceEndpoint
{
    public static string PathFor(string slug) => $"/t/{slug}/language";

    public static IEndpointRouteBuilder MapLanguageChoice(this IEndpointRouteBuilder app)
    {
        app.MapGet("/t/{tenantSlug}/language", Choose).AllowAnonymous().ExcludeFromDescription();
        return app;
    }

    public static IResult Choose(HttpContext http, TenantContext tenant, string? lang, string? returnUrl)
    {
        var t = PageText.Of(http);
        if (!tenant.HasTenant || lang is null || !TenantLanguages.PolicyOf(http).Offered.Contains(lang, StringComparer.Ordinal))
        {
            return HostedPage.Error(http, "invalid_request", t["This language is not offered here."]);
        }

        PageLanguage.Pick(http, tenant.Slug, lang);
        var back = returnUrl is not null && IsOwnPage(returnUrl, tenant.Slug) ? returnUrl : $"/t/{tenant.Slug}/login";
        return Results.Redirect(back, permanent: false, preserveMethod: false);
    }

    /// <summary>The link to each other language the tenant offers, back to this page; nothing when it offers one.</summary>
    public static string Links(HttpContext http, PageText t)
    {
        var tenant = http.RequestServices.GetRequiredService<TenantContext>();
        var offered = TenantLanguages.PolicyOf(http).Offered;
        if (!tenant.HasTenant || offered.Count < 2 || !HttpMethods.IsGet(http.Request.Method))
        {
            return string.Empty;
        }

        var here = http.Request.PathBase.Add(http.Request.Path) + http.Request.QueryString;
        var links = offered.Where(l => l != t.Language).Select(l =>
            $"<a href=\"{HostedPage.Encode(PathFor(tenant.Slug) + QueryString.Create("lang", l).Add("returnUrl", here))}\" hreflang=\"{l}\" lang=\"{l}\">{HostedPage.Encode(LanguageTags.NameOf(l))}</a>");
        return $"<nav class=\"languages\" aria-label=\"{HostedPage.Encode(t["Language"])}\">{string.Join(" · ", links)}</nav>";
    }

    // One of this tenant's pages on this host, and nothing that steps out of its paths (".." also percent-encoded, which
    // browsers resolve too).
    private static bool IsOwnPage(string url, string slug) =>
        LoginEndpoints.IsHeaderSafePath(url)
        && url.StartsWith($"/t/{slug}/", StringComparison.Ordinal)
        && !url.Contains("..", StringComparison.Ordinal)
        && !url.Contains("%2e", StringComparison.OrdinalIgnoreCase);
}
