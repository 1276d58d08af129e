using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Localization;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Login;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace LumoAuth.Token.Features.Localization;

/// <summary>
/// Which language a person reads the hosted pages in, the first the tenant offers (<see cref="LanguagePolicy"/>) of: the
/// language the person chose on a page or in their account (<see cref="ChoiceCookieName"/>, set by <see cref="Adopt"/> at
/// each sign-in; as Keycloak's locale cookie and user locale beat an application's wish), the request's <c>ui_locales</c> (OIDC Core §3.1.2.1; also inside a login page's <c>returnUrl</c>), the language an
/// application asked for earlier in this browser (a cookie on the tenant's paths, so the pages of one sign-in agree), the
/// browser's <c>Accept-Language</c>; else the tenant's default language (English unless it chose another).
/// </summary>
public static class PageLanguage
{
    public const string Default = TextCatalogue.English;

    /// <summary>Remembers an application's <c>ui_locales</c> for the rest of the sign-in; ends with the browser session.</summary>
    public const string CookieName = "lumo_locale";

    /// <summary>The language the person picked from a page's list (<see cref="LanguageChoiceEndpoint"/>); kept for a year.</summary>
    public const string ChoiceCookieName = "lumo_language";

    /// <summary>
    /// Beside a pick from a page's list, for <see cref="PickWindow"/>: the next sign-in in this browser saves it to the
    /// person's profile. The year-long choice cookie alone cannot say that, since each sign-in also sets it from a profile
    /// (a shared browser would carry one person's language into the next one's profile).
    /// </summary>
    public const string PickedCookieName = "lumo_language_picked";

    /// <summary>How long a pick waits for its sign-in: about as long as one sign-in may take.</summary>
    public static readonly TimeSpan PickWindow = TimeSpan.FromMinutes(30);

    public static string Negotiate(HttpContext http) => Negotiate(http, ignoreChoice: false);

    private static string Negotiate(HttpContext http, bool ignoreChoice)
    {
        var offered = TenantLanguages.PolicyOf(http);
        if (!ignoreChoice && ChosenBy(http, offered) is { } chosen)
        {
            return chosen;
        }

        var query = http.Request.Query;
        if (LanguageTags.FirstOffered(query["ui_locales"], offered.Offered) is { } asked)
        {
            return asked;
        }

        if (query["returnUrl"].ToString() is { Length: > 0 } returnUrl && UiLocalesIn(returnUrl) is { } carried && LanguageTags.FirstOffered(carried, offered.Offered) is { } continued)
        {
            return continued;
        }

        if (http.Request.Cookies[CookieName] is { } remembered && LanguageTags.Match(remembered, offered.Offered) is { } kept)
        {
            return kept;
        }

        return FromBrowser(http.Request, offered.Offered) ?? offered.Default;
    }

    /// <summary>
    /// An application's <c>ui_locales</c> (read from a validated request, pushed ones included): this request's pages use
    /// the first the tenant offers, and the cookie keeps it for the sign-in's next pages. Nothing changes when none is
    /// offered, or when the person chose a language themselves.
    /// </summary>
    public static void Prefer(HttpContext http, string? uiLocales)
    {
        var offered = TenantLanguages.PolicyOf(http);
        if (ChosenBy(http, offered) is not null || LanguageTags.FirstOffered(uiLocales, offered.Offered) is not { } language)
        {
            return;
        }

        http.Items[typeof(PageText)] = TenantLanguages.PolicyOf(http).TextOf(language);
        var tenant = http.RequestServices.GetRequiredService<TenantContext>();
        if (tenant.HasTenant && http.Request.Cookies[CookieName] != language)
        {
            http.Response.Cookies.Append(CookieName, language, CookieOptionsFor(http, tenant.Slug, maxAge: null));
        }
    }

    /// <summary>
    /// A signed-in person's own language (their profile's <c>locale</c>) becomes their choice in this browser, when the
    /// tenant offers it: the rest of the sign-in and the account pages read in it, as Keycloak's user locale does.
    /// </summary>
    public static void Adopt(HttpContext http, string? locale)
    {
        var tenant = http.RequestServices.GetRequiredService<TenantContext>();
        if (!tenant.HasTenant || LanguageTags.Match(locale, TenantLanguages.PolicyOf(http).Offered) is not { } language)
        {
            return;
        }

        http.Items[typeof(PageText)] = TenantLanguages.PolicyOf(http).TextOf(language);
        if (http.Request.Cookies[ChoiceCookieName] != language)
        {
            Choose(http, tenant.Slug, language);
        }
    }

    /// <summary>Forgets the person's choice: the pages follow the application's wish and the browser again.</summary>
    public static void Forget(HttpContext http, string slug)
    {
        if (http.Request.Cookies.ContainsKey(ChoiceCookieName))
        {
            http.Response.Cookies.Delete(ChoiceCookieName, CookieOptionsFor(http, slug, maxAge: null));
        }

        http.Items[typeof(PageText)] = TenantLanguages.PolicyOf(http).TextOf(Negotiate(http, ignoreChoice: true));
    }

    /// <summary>Remembers the person's own choice of language on this tenant's pages.</summary>
    public static void Choose(HttpContext http, string slug, string language) =>
        http.Response.Cookies.Append(ChoiceCookieName, language, CookieOptionsFor(http, slug, TimeSpan.FromDays(365)));

    /// <summary>The person picked <paramref name="language"/> from a page's list: their choice, and their profile's at their next sign-in here.</summary>
    public static void Pick(HttpContext http, string slug, string language)
    {
        Choose(http, slug, language);
        http.Response.Cookies.Append(PickedCookieName, language, CookieOptionsFor(http, slug, PickWindow));
    }

    /// <summary>
    /// The language picked from a page's list in this browser within the last <see cref="PickWindow"/>, when the tenant
    /// still offers it; the pick is spent (it is saved at one sign-in only). Null when there is none.
    /// </summary>
    public static string? TakePick(HttpContext http)
    {
        var tenant = http.RequestServices.GetRequiredService<TenantContext>();
        if (!tenant.HasTenant || http.Request.Cookies[PickedCookieName] is not { } picked)
        {
            return null;
        }

        http.Response.Cookies.Delete(PickedCookieName, CookieOptionsFor(http, tenant.Slug, maxAge: null));
        return LanguageTags.Match(picked, TenantLanguages.PolicyOf(http).Offered);
    }

    private static string? ChosenBy(HttpContext http, LanguagePolicy offered) =>
        http.Request.Cookies[ChoiceCookieName] is { } chosen ? LanguageTags.Match(chosen, offered.Offered) : null;

    // The tenant's paths only, like the session cookie; never read by scripts; sent on a top-level sign-in from an application.
    private static CookieOptions CookieOptionsFor(HttpContext http, string slug, TimeSpan? maxAge)
    {
        var lumo = http.RequestServices.GetRequiredService<IOptions<LumoAuthOptions>>().Value;
        return new CookieOptions
        {
            Path = SessionCookie.PathFor(slug),
            HttpOnly = true,
            SameSite = Microsoft.AspNetCore.Http.SameSiteMode.Lax,
            Secure = http.Request.IsHttps || SessionCookie.SecurePolicyFor(lumo) == CookieSecurePolicy.Always,
            IsEssential = true,
            MaxAge = maxAge,
        };
    }

    private static string? UiLocalesIn(string returnUrl)
    {
        var question = returnUrl.IndexOf('?', StringComparison.Ordinal);
        if (question < 0 || returnUrl.Length > 8192)
        {
            return null;
        }

        return Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(returnUrl[question..]).TryGetValue("ui_locales", out var values) ? values.ToString() : null;
    }

    // RFC 9110 §12.5.4: highest quality first; among equals, the order given. q=0 means "not this one".
    private static string? FromBrowser(HttpRequest request, IReadOnlyList<string> offered)
    {
        if (!StringWithQualityHeaderValue.TryParseList(request.Headers.AcceptLanguage, out var ranges))
        {
            return null;
        }

        string? best = null;
        var bestQuality = 0.0;
        foreach (var range in ranges)
        {
            var quality = range.Quality ?? 1.0;
            if (quality > bestQuality && range.Value.Value is { } tag && LanguageTags.Match(tag, offered) is { } language)
            {
                best = language;
                bestQuality = quality;
            }
        }

        return best;
    }
}
