using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Localization;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Branding;

namespace LumoAuth.Token.Features.Localization;

/// <summary>
/// The languages a tenant offers its pages in (admin's <c>localization</c> settings), the one for everyone else, and the
/// tenant's own wording of single sentences (<see cref="Texts"/>).
/// </summary>
public sealed class LanguagePolicy
{
    private static readonly ConditionalWeakTable<HostedPageSettings, LanguagePolicy> Policies = [];

    private readonly ConcurrentDictionary<string, PageText> _texts = new(StringComparer.Ordinal);

    private LanguagePolicy(IReadOnlyList<string> offered, string fallback, IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>? texts)
    {
        Offered = offered;
        Default = fallback;
        Texts = texts;
    }

    /// <summary>Every language we have, English for the rest: a tenant that set nothing, or whose settings admin cannot give.</summary>
    public static readonly LanguagePolicy Everything = new(PageCatalogue.Languages, PageLanguage.Default, texts: null);

    public IReadOnlyList<string> Offered { get; }

    public string Default { get; }

    /// <summary>The tenant's wording by language and English sentence; null when it rewords nothing.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>>? Texts { get; }

    /// <summary>
    /// The policy of the tenant's settings as the cache holds them: worked out once per copy of the settings (the cache
    /// keeps one for minutes), not on every page.
    /// </summary>
    public static LanguagePolicy Of(HostedPageSettings? settings) =>
        settings is null ? Everything : Policies.GetValue(settings, Build);

    /// <summary>The words of one of <see cref="Offered"/>, with the tenant's own wording where it has some.</summary>
    public PageText TextOf(string language) =>
        Texts?.GetValueOrDefault(language) is { Count: > 0 } overrides
            ? _texts.GetOrAdd(language, static (l, o) => PageText.Create(l, TextCatalogue.WithOverrides(PageCatalogue.For(l), o)), overrides)
            : PageText.ForLanguage(language);

    private static LanguagePolicy Build(HostedPageSettings settings)
    {
        if (settings.Languages is not { Count: > 0 } chosen)
        {
            return settings.Texts is { Count: > 0 } ? new LanguagePolicy(Everything.Offered, Everything.Default, settings.Texts) : Everything;
        }

        // Only languages that have a catalogue, in the catalogue's order (English first).
        var offered = PageCatalogue.Languages.Where(chosen.Contains).ToList();
        if (offered.Count == 0)
        {
            return Everything;
        }

        var fallback = settings.DefaultLanguage is { } d && offered.Contains(d) ? d : offered.Contains(PageLanguage.Default) ? PageLanguage.Default : offered[0];
        return new LanguagePolicy(offered, fallback, settings.Texts);
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
