using System.Net;
using System.Net.Http.Json;
using LumoAuth.Testing;
using System.Text.Json;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The language of the hosted pages: an application's <c>ui_locales</c> (OIDC Core §3.1.2.1), kept for the rest of its
/// sign-in by a cookie of the tenant's paths, else the browser's <c>Accept-Language</c>, else English; discovery names the
/// languages (<c>ui_locales_supported</c>).
/// </summary>
public sealed class PageLanguageTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private static string Translated(string language, string english) => PageCatalogue.For(language)[english];

    private static async Task<string> ReadableAsync(HttpResponseMessage page) => WebUtility.HtmlDecode(await page.Content.ReadAsStringAsync());

    private static void AssertLanguage(HttpResponseMessage page, string html, string language)
    {
        Assert.Contains($"<html lang=\"{language}\">", html, StringComparison.Ordinal);
        Assert.Equal([language], page.Content.Headers.ContentLanguage);
    }

    [Fact]
    public async Task AnApplicationsUiLocales_SetTheLanguageOfEveryPageOfItsSignIn()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();

        // The first tag we have wins; a region falls back to its language.
        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["ui_locales"] = "tlh de-CH en" }));
        var cookie = Assert.Single(authorize.Headers.GetValues("Set-Cookie"), c => c.StartsWith(PageLanguage.CookieName + "=", StringComparison.Ordinal));
        Assert.StartsWith($"{PageLanguage.CookieName}=de;", cookie, StringComparison.Ordinal);
        Assert.Contains($"path=/t/{setup.Tenant.Slug}", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);

        var loginUrl = HostedFlow.LocalRedirect(authorize)!;
        using (var login = await browser.GetAsync(loginUrl))
        {
            var html = await ReadableAsync(login);
            AssertLanguage(login, html, "de");
            Assert.Contains(Translated("de", "Forgot your password?"), html, StringComparison.Ordinal);
            Assert.DoesNotContain("Forgot your password?", html, StringComparison.Ordinal);
        }

        // The consent page that follows, and a hosted page opened later without any parameter, keep the language.
        using var password = await HostedFlow.SubmitLoginAsync(browser, loginUrl, setup.Email, setup.Password);
        using (var consent = await browser.GetAsync(HostedFlow.LocalRedirect(password)!))
        {
            AssertLanguage(consent, await ReadableAsync(consent), "de");
        }

        using var later = await browser.GetAsync($"/t/{setup.Tenant.Slug}/login");
        AssertLanguage(later, await ReadableAsync(later), "de");

        // Another application asking for French changes it.
        using var french = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["ui_locales"] = "fr", ["prompt"] = "login" }));
        using var frenchLogin = await browser.GetAsync(HostedFlow.LocalRedirect(french)!);
        AssertLanguage(frenchLogin, await ReadableAsync(frenchLogin), "fr");
    }

    [Fact]
    public async Task APushedRequestsUiLocales_HoldLikeAPlainRequests()
    {
        var setup = await suite.SetUpAsync();
        var (_, challenge) = HostedFlow.Pkce();
        using var http = suite.Token.CreateClient();
        using var pushed = await http.PostAsync($"{setup.Tenant.Api}/oauth/par", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["response_type"] = "code", ["client_id"] = setup.ClientId, ["redirect_uri"] = SignInSetup.RedirectUri, ["scope"] = "openid",
            ["code_challenge"] = challenge, ["code_challenge_method"] = "S256", ["ui_locales"] = "fr-BE",
        }));
        var requestUri = (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString();
        using var browser = suite.Browser();

        using var authorize = await browser.GetAsync(Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/authorize",
            new Dictionary<string, string?> { ["client_id"] = setup.ClientId, ["request_uri"] = requestUri }));
        using var login = await browser.GetAsync(HostedFlow.LocalRedirect(authorize)!);

        var html = await ReadableAsync(login);
        AssertLanguage(login, html, "fr");
        Assert.Contains(Translated("fr", "Forgot your password?"), html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fr-CA,fr;q=0.9,en;q=0.8", "fr")]
    [InlineData("ja, es;q=0.5, de;q=0.4", "es")]
    [InlineData("de;q=0, en-GB;q=0.5", "en")]
    [InlineData("*", "en")]
    [InlineData("not a language header;;;q=x", "en")]
    public async Task WithoutUiLocales_TheBrowsersLanguageIsUsed(string acceptLanguage, string expected)
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/t/{setup.Tenant.Slug}/login");
        request.Headers.TryAddWithoutValidation("Accept-Language", acceptLanguage);

        using var page = await browser.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        AssertLanguage(page, await ReadableAsync(page), expected);
        Assert.False(page.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith(PageLanguage.CookieName, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task UiLocalesWeDoNotHave_LeaveThePagesInTheBrowsersLanguage_AndSetNothing()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        using var request = new HttpRequestMessage(HttpMethod.Get, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["ui_locales"] = "ja ko" }));
        request.Headers.TryAddWithoutValidation("Accept-Language", "es");

        using var authorize = await browser.SendAsync(request);
        Assert.False(authorize.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith(PageLanguage.CookieName, StringComparison.Ordinal)));

        using var login = await browser.GetAsync(HostedFlow.LocalRedirect(authorize)!);
        AssertLanguage(login, await ReadableAsync(login), "en");
    }

    [Fact]
    public async Task ErrorPages_AndLogout_SpeakTheRequestsLanguage()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();

        // An unknown client: no redirect URI can be trusted, so the error page answers, in the language asked for.
        using var error = await browser.GetAsync($"{setup.Tenant.Api}/oauth/authorize?response_type=code&client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example%2F&ui_locales=fr");
        var errorHtml = await ReadableAsync(error);
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        AssertLanguage(error, errorHtml, "fr");
        Assert.Contains(Translated("fr", "Something went wrong"), errorHtml, StringComparison.Ordinal);

        using var logout = await browser.GetAsync($"{setup.Tenant.Api}/oauth/logout?ui_locales=es");
        AssertLanguage(logout, await ReadableAsync(logout), "es");
    }

    [Fact]
    public async Task ATenantOfferingSomeLanguages_NeverShowsOthers_AndFallsBackToItsDefault()
    {
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings",
                new { localization = new { languages = new[] { "en", "fr" }, defaultLanguage = "fr" } }));
        }

        // Admin's event evicts the token service's copy of the settings; the next page follows them.
        await ApiAssert.EventuallyAsync(async () =>
        {
            using var browser = suite.Browser();
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/t/{setup.Tenant.Slug}/login");
            request.Headers.TryAddWithoutValidation("Accept-Language", "de, ja;q=0.5");
            using var page = await browser.SendAsync(request);
            return page.Content.Headers.ContentLanguage.SequenceEqual(["fr"]) ? page.StatusCode.ToString() : null;
        });

        // German is not offered: an application asking for it gets the tenant's default, and nothing is remembered.
        using var german = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        using var authorize = await german.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["ui_locales"] = "de" }));
        Assert.False(authorize.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith(PageLanguage.CookieName, StringComparison.Ordinal)));
        using (var login = await german.GetAsync(HostedFlow.LocalRedirect(authorize)!))
        {
            AssertLanguage(login, await ReadableAsync(login), "fr");
        }

        // English still is.
        using var english = await german.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["ui_locales"] = "en-GB" }));
        using (var login = await german.GetAsync(HostedFlow.LocalRedirect(english)!))
        {
            AssertLanguage(login, await ReadableAsync(login), "en");
        }

        using var discovery = await german.GetAsync($"/t/{setup.Tenant.Slug}/.well-known/openid-configuration");
        using var document = JsonDocument.Parse(await discovery.Content.ReadAsStringAsync());
        Assert.Equal(["en", "fr"], document.RootElement.GetProperty("ui_locales_supported").EnumerateArray().Select(l => l.GetString()));
    }

    [Fact]
    public async Task APersonsChoiceFromThePagesList_IsRemembered_AndBeatsAnApplicationsUiLocales()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        using var login = await browser.GetAsync($"/t/{setup.Tenant.Slug}/login");
        var html = await login.Content.ReadAsStringAsync();

        // The page lists every other language, each a link back to this page.
        var list = html[html.IndexOf("<nav class=\"languages\"", StringComparison.Ordinal)..];
        foreach (var (language, name) in new[] { ("de", "Deutsch"), ("es", "Español"), ("fr", "Français") })
        {
            Assert.Contains($"hreflang=\"{language}\" lang=\"{language}\">{name}</a>", list, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("hreflang=\"en\"", list, StringComparison.Ordinal);
        var german = WebUtility.HtmlDecode(System.Text.RegularExpressions.Regex.Match(list, "<a href=\"([^\"]+)\" hreflang=\"de\"").Groups[1].Value);
        Assert.Equal($"/t/{setup.Tenant.Slug}/language?lang=de&returnUrl=%2Ft%2F{setup.Tenant.Slug}%2Flogin", german);

        using var chosen = await browser.GetAsync(german);
        Assert.Equal(HttpStatusCode.SeeOther, chosen.StatusCode);
        Assert.Equal($"/t/{setup.Tenant.Slug}/login", HostedFlow.LocalRedirect(chosen));
        var cookie = Assert.Single(chosen.Headers.GetValues("Set-Cookie"), c => c.StartsWith(PageLanguage.ChoiceCookieName + "=", StringComparison.Ordinal));
        Assert.StartsWith($"{PageLanguage.ChoiceCookieName}=de;", cookie, StringComparison.Ordinal);
        Assert.Contains("max-age=31536000", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"path=/t/{setup.Tenant.Slug}", cookie, StringComparison.OrdinalIgnoreCase);

        // An application asking for French afterwards does not override the person.
        var (_, challenge) = HostedFlow.Pkce();
        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["ui_locales"] = "fr" }));
        using var page = await browser.GetAsync(HostedFlow.LocalRedirect(authorize)!);
        var germanHtml = await ReadableAsync(page);
        AssertLanguage(page, germanHtml, "de");
        Assert.Contains("hreflang=\"fr\"", germanHtml, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://evil.example/")]
    [InlineData("//evil.example/")]
    [InlineData("/t/another-tenant/login")]
    [InlineData("/t/{slug}/../another-tenant/login")]
    [InlineData("/t/{slug}/%2e%2e/another-tenant/login")]
    [InlineData("/t/{slug}/login\\evil")]
    public async Task ChoosingALanguage_GoesBackOnlyToTheTenantsOwnPages(string returnUrl)
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();

        using var chosen = await browser.GetAsync($"/t/{setup.Tenant.Slug}/language?lang=es&returnUrl={Uri.EscapeDataString(returnUrl.Replace("{slug}", setup.Tenant.Slug, StringComparison.Ordinal))}");

        Assert.Equal(HttpStatusCode.SeeOther, chosen.StatusCode);
        Assert.Equal($"/t/{setup.Tenant.Slug}/login", chosen.Headers.Location!.OriginalString);
    }

    [Theory]
    [InlineData("tlh")]
    [InlineData("")]
    [InlineData("de")]
    public async Task ChoosingALanguageNotOffered_IsABadRequest_AndRemembersNothing(string language)
    {
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { localization = new { languages = new[] { "en", "es" } } }));
        }

        using var browser = suite.Browser();
        var response = await ApiAssert.EventuallyAsync(async () =>
        {
            var attempt = await browser.GetAsync($"/t/{setup.Tenant.Slug}/language?lang={language}&returnUrl=%2Ft%2F{setup.Tenant.Slug}%2Flogin");
            return language != "de" || attempt.StatusCode == HttpStatusCode.BadRequest ? attempt : null;
        });

        using (response)
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith(PageLanguage.ChoiceCookieName, StringComparison.Ordinal)));
        }
    }

    [Fact]
    public async Task ATenantsOwnWording_ReplacesOurSentences_InItsLanguageOnly()
    {
        var setup = await suite.SetUpAsync();
        var forgotten = Translated("de", "Forgot your password?");
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new
            {
                localization = new { texts = new Dictionary<string, Dictionary<string, string>>
                {
                    ["de"] = new() { ["Forgot your password?"] = "Kennwort bei <Acme> vergessen?" },
                    ["en"] = new() { ["Forgot your password?"] = "Lost your Acme password?" },
                } },
            }));
        }

        // Admin's event evicts the token service's copy of the settings; the next page follows them.
        var german = await ApiAssert.EventuallyAsync(async () =>
        {
            using var browser = suite.Browser();
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/t/{setup.Tenant.Slug}/login");
            request.Headers.TryAddWithoutValidation("Accept-Language", "de");
            using var page = await browser.SendAsync(request);
            var html = await page.Content.ReadAsStringAsync();
            return html.Contains("Acme", StringComparison.Ordinal) ? html : null;
        });

        // The tenant's words are text, encoded like ours; the rest of the page is our German.
        Assert.Contains("Kennwort bei &lt;Acme&gt; vergessen?", german, StringComparison.Ordinal);
        Assert.DoesNotContain(forgotten, WebUtility.HtmlDecode(german), StringComparison.Ordinal);
        Assert.Contains(WebUtility.HtmlEncode(Translated("de", "Password")), german, StringComparison.Ordinal);
        using var english = suite.Browser();
        var englishHtml = await english.GetStringAsync($"/t/{setup.Tenant.Slug}/login");
        Assert.Contains("Lost your Acme password?", englishHtml, StringComparison.Ordinal);

        // Another tenant's pages keep our wording.
        var other = await suite.SetUpAsync();
        using var elsewhere = suite.Browser();
        Assert.Contains("Forgot your password?", await elsewhere.GetStringAsync($"/t/{other.Tenant.Slug}/login"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ARightToLeftLanguage_IsWrittenRightToLeft()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/t/{setup.Tenant.Slug}/login");
        request.Headers.TryAddWithoutValidation("Accept-Language", "ar-EG, en;q=0.5");

        using var page = await browser.SendAsync(request);
        var html = await ReadableAsync(page);

        Assert.Contains("<html lang=\"ar\" dir=\"rtl\">", html, StringComparison.Ordinal);
        Assert.Equal(["ar"], page.Content.Headers.ContentLanguage);
        Assert.Contains(Translated("ar", "Forgot your password?"), html, StringComparison.Ordinal);
        // The other languages, each in its own name and direction-neutral markup.
        Assert.Contains("hreflang=\"en\" lang=\"en\">English</a>", html, StringComparison.Ordinal);
        Assert.Contains("padding-inline-start", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATenantWithOneLanguage_ShowsNoList()
    {
        var setup = await suite.SetUpAsync();
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { localization = new { languages = new[] { "de" }, defaultLanguage = "de" } }));
        }

        var html = await ApiAssert.EventuallyAsync(async () =>
        {
            using var browser = suite.Browser();
            using var page = await browser.GetAsync($"/t/{setup.Tenant.Slug}/login");
            return page.Content.Headers.ContentLanguage.SequenceEqual(["de"]) ? await page.Content.ReadAsStringAsync() : null;
        });

        Assert.DoesNotContain("class=\"languages\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Discovery_NamesThePagesLanguages()
    {
        var setup = await suite.SetUpAsync();
        using var client = suite.Browser();

        using var discovery = await client.GetAsync($"/t/{setup.Tenant.Slug}/.well-known/openid-configuration");
        using var document = JsonDocument.Parse(await discovery.Content.ReadAsStringAsync());

        var languages = document.RootElement.GetProperty("ui_locales_supported").EnumerateArray().Select(l => l.GetString()).ToList();
        Assert.Equal(["en", "ar", "de", "es", "fr", "it", "nl", "pt"], languages);
    }
}
