using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Branding;

namespace LumoAuth.Token.Features.Localization;

/// <summary>The languages a tenant offers its pages in (admin's <c>localization</c> settings), and the one for everyone else.</summary>
public sealed record LanguagePolicy(IReadOnlyList<string> Offered, string Default)
{
    /// <summary>Every language we have, English for the rest: a tenant that set nothing, or whose settings admin cannot give.</summary>
    public static readonly LanguagePolicy Everything = new(PageCatalogue.Languages, PageLanguage.Default);

    public static LanguagePolicy Of(HostedPageSettings? settings)
    {
        if (settings?.Languages is not { Count: > 0 } chosen)
        {
            return Everything;
        }

        // Only languages that have a catalogue, in the catalogue's order (English first).
        var offered = PageCatalogue.Languages.Where(chosen.Contains).ToList();
        if (offered.Count == 0)
        {
            return Everything;
        }

        var fallback = settings.DefaultLanguage is { } d && offered.Contains(d) ? d : offered.Contains(PageLanguage.Default) ? PageLanguage.Default : offered[0];
        return new LanguagePolicy(offered, fallback);
    }
}

/// <summary>
/// Before a hosted page is built, reads its tenant's <see cref="LanguagePolicy"/> (from the settings cache every page's
/// branding reads anyway), so that choosing the page's language stays synchronous. Protocol endpoints that never show a
/// page (token, introspection, JWKS…) skip it and never wait for admin.
/// </summary>
public sealed class TenantLanguages(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext http, TenantContext tenant, HostedPageSettingsCache settings)
    {
        if (tenant.HasTenant && IsPage(http.Request, tenant.Slug))
        {
            http.Items[typeof(LanguagePolicy)] = LanguagePolicy.Of(await settings.GetAsync(tenant.TenantId, http.RequestAborted));
            // A mailed link names the mail's language: the page it opens, and the pages after it, read alike. (The protocol
            // endpoints under the API's base take ui_locales from the request they validate.)
            if (HttpMethods.IsGet(http.Request.Method) && http.Request.Query.TryGetValue("ui_locales", out var asked) && !IsApi(http.Request))
            {
                PageLanguage.Prefer(http, asked.ToString());
            }
        }

        await next(http);
    }

    /// <summary>The policy read for this request; every language when the request is not a page's.</summary>
    public static LanguagePolicy PolicyOf(HttpContext http) =>
        http.Items.TryGetValue(typeof(LanguagePolicy), out var policy) && policy is LanguagePolicy known ? known : LanguagePolicy.Everything;

    // TenantPathMiddleware has moved the API's base (/t/{slug}/api/v1) into PathBase: of the API, only the authorization,
    // end-session and device verification endpoints show pages. Outside it, everything but the passkey API is a page.
    private static bool IsApi(HttpRequest request) => request.PathBase.Value?.EndsWith("/api/v1", StringComparison.Ordinal) == true;

    private static bool IsPage(HttpRequest request, string slug)
    {
        if (IsApi(request))
        {
            return request.Path.StartsWithSegments("/oauth/authorize", StringComparison.Ordinal)
                   || request.Path.StartsWithSegments("/oauth/logout", StringComparison.Ordinal)
                   || request.Path.StartsWithSegments("/oauth/device", StringComparison.Ordinal);
        }

        var root = new PathString("/t/" + slug);
        return request.Path.StartsWithSegments(root, StringComparison.Ordinal) && !request.Path.StartsWithSegments(root.Add("/webauthn"), StringComparison.Ordinal);
    }
}
