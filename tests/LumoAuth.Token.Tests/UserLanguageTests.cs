using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// A person's own language, through the gateway: chosen on the account page and kept as their <c>locale</c> (OIDC Core §5.1,
/// in the ID token and userinfo with the <c>profile</c> scope), taken on at every sign-in, given to the account a person
/// registers or accepts an invitation on; and the mails asked for from a page are written in the page's language, their
/// links opening the next page in it.
/// </summary>
public sealed partial class UserLanguageTests(MailingSuite suite) : IClassFixture<MailingSuite>
{
    private static string Translated(string language, string english) => PageCatalogue.For(language)[english];

    private static string? ChoiceCookie(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var cookies)
            ? cookies.FirstOrDefault(c => c.StartsWith(PageLanguage.ChoiceCookieName + "=", StringComparison.Ordinal))
            : null;

    private async Task<JsonElement> UserAsync(SignInSetup setup, Guid userId)
    {
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        return JsonDocument.Parse(await admin.GetStringAsync($"{setup.Tenant.Api}/admin/users/{userId}")).RootElement.GetProperty("data");
    }

    private async Task<(JsonWebToken IdToken, string AccessToken)> ExchangeAsync(SignInSetup setup, Uri redirect, string verifier)
    {
        using var http = suite.Token.CreateClient();
        using var exchange = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = HostedFlow.Parameters(redirect)["code"], ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        var json = await HttpAssert.JsonAsync(exchange, HttpStatusCode.OK);
        return (new JsonWebToken(json.GetProperty("id_token").GetString()), json.GetProperty("access_token").GetString()!);
    }

    private static Task<HttpResponseMessage> SubmitProfileAsync(HttpClient browser, string html, string locale) =>
        HostedFlow.SubmitFormAsync(browser, html, new() { ["name"] = "Alice Example", ["given_name"] = "", ["family_name"] = "", ["locale"] = locale });

    [Fact]
    public async Task TheLanguageChosenOnTheAccountPage_IsTheLocaleClaim_AndEverySignInTakesItOn()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var page = $"/t/{setup.Tenant.Slug}/account/profile";
        var html = await HostedFlow.OpenSignedInAsync(browser, setup, page);
        // The tenant's languages in their own names, and the browser's choice while none is set.
        Assert.Contains("<option value=\"\" selected>As my browser asks</option>", html, StringComparison.Ordinal);
        Assert.Contains("<option value=\"de\" lang=\"de\">Deutsch</option>", html, StringComparison.Ordinal);

        using (var saved = await SubmitProfileAsync(browser, html, "de"))
        {
            var body = WebUtility.HtmlDecode(await saved.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
            Assert.Contains("<html lang=\"de\">", body, StringComparison.Ordinal);
            Assert.Contains(Translated("de", "Your profile is saved."), body, StringComparison.Ordinal);
            Assert.Contains("<option value=\"de\" lang=\"de\" selected>", body, StringComparison.Ordinal);
            Assert.StartsWith($"{PageLanguage.ChoiceCookieName}=de;", ChoiceCookie(saved), StringComparison.Ordinal);
        }

        Assert.Equal("de", (await UserAsync(setup, setup.UserId)).GetProperty("locale").GetString());

        // Another browser, asking for English: the sign-in makes the person's language this browser's too.
        using var other = suite.Browser();
        other.DefaultRequestHeaders.AcceptLanguage.ParseAdd("en");
        var (verifier, challenge) = HostedFlow.Pkce();
        using var authorize = await other.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));
        using var login = await HostedFlow.SubmitLoginAsync(other, HostedFlow.LocalRedirect(authorize)!, setup.Email, setup.Password);
        Assert.StartsWith($"{PageLanguage.ChoiceCookieName}=de;", ChoiceCookie(login), StringComparison.Ordinal);
        using var consent = await other.GetAsync(HostedFlow.LocalRedirect(login)!);
        var consentHtml = await consent.Content.ReadAsStringAsync();
        Assert.Contains("<html lang=\"de\">", consentHtml, StringComparison.Ordinal);
        using var decided = await HostedFlow.DecideConsentAsync(other, consentHtml, accept: true);
        var (idToken, accessToken) = await ExchangeAsync(setup, decided.Headers.Location!, verifier);
        Assert.Equal("de", idToken.GetClaim("locale").Value);

        using var http = suite.Token.CreateClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", accessToken);
        var userinfo = await HttpAssert.JsonAsync(await http.GetAsync($"{setup.Issuer}/oauth/userinfo"), HttpStatusCode.OK);
        Assert.Equal("de", userinfo.GetProperty("locale").GetString());
        using var discovery = await http.GetAsync($"{setup.Issuer}/.well-known/openid-configuration");
        Assert.Contains("\"locale\"", await discovery.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A language the tenant does not offer changes nothing; none at all clears it and forgets this browser's choice.
        var germanHtml = await browser.GetStringAsync(page);
        using (var unknown = await SubmitProfileAsync(browser, germanHtml, "tlh"))
        {
            Assert.Equal(HttpStatusCode.OK, unknown.StatusCode);
        }

        Assert.Equal("de", (await UserAsync(setup, setup.UserId)).GetProperty("locale").GetString());
        using (var cleared = await SubmitProfileAsync(browser, germanHtml, ""))
        {
            Assert.Equal(HttpStatusCode.OK, cleared.StatusCode);
            Assert.Contains("expires=Thu, 01 Jan 1970", ChoiceCookie(cleared), StringComparison.OrdinalIgnoreCase);
        }

        Assert.Equal(JsonValueKind.Null, (await UserAsync(setup, setup.UserId)).GetProperty("locale").ValueKind);
    }

    /// <summary>
    /// A language picked from the login page's list before signing in is saved as the person's (Keycloak keeps the locale
    /// chosen on its login page); the pick is spent by that sign-in, so the next one takes the profile's language again.
    /// </summary>
    [Fact]
    public async Task ALanguagePickedOnTheLoginPage_IsSavedToTheProfile_AtTheNextSignInOnly()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));
        var loginPage = HostedFlow.LocalRedirect(authorize)!;
        using (var picked = await browser.GetAsync($"/t/{setup.Tenant.Slug}/language?lang=fr&returnUrl={Uri.EscapeDataString(loginPage)}"))
        {
            var marker = Assert.Single(picked.Headers.GetValues("Set-Cookie"), c => c.StartsWith(PageLanguage.PickedCookieName + "=", StringComparison.Ordinal));
            Assert.Contains("max-age=1800", marker, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(loginPage, HostedFlow.LocalRedirect(picked));
        }

        Assert.Equal(JsonValueKind.Null, (await UserAsync(setup, setup.UserId)).GetProperty("locale").ValueKind);
        using var login = await HostedFlow.SubmitLoginAsync(browser, loginPage, setup.Email, setup.Password);
        Assert.Contains(login.Headers.GetValues("Set-Cookie"), c => c.StartsWith(PageLanguage.PickedCookieName + "=;", StringComparison.Ordinal));
        Assert.Equal("fr", (await UserAsync(setup, setup.UserId)).GetProperty("locale").GetString());
        using var consent = await browser.GetAsync(HostedFlow.LocalRedirect(login)!);
        var consentHtml = await consent.Content.ReadAsStringAsync();
        Assert.Contains("<html lang=\"fr\">", consentHtml, StringComparison.Ordinal);
        using var decided = await HostedFlow.DecideConsentAsync(browser, consentHtml, accept: true);
        Assert.Equal("fr", (await ExchangeAsync(setup, decided.Headers.Location!, verifier)).IdToken.GetClaim("locale").Value);

        // The administrator gives the person German; the next sign-in in this browser (no new pick) takes it on.
        using (var admin = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}", new { locale = "de" }));
        }

        var (_, again) = HostedFlow.Pkce();
        using var reauthorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, again, new() { ["prompt"] = "login" }));
        using var relogin = await HostedFlow.SubmitLoginAsync(browser, HostedFlow.LocalRedirect(reauthorize)!, setup.Email, setup.Password);
        Assert.StartsWith($"{PageLanguage.ChoiceCookieName}=de;", ChoiceCookie(relogin), StringComparison.Ordinal);
        Assert.Equal("de", (await UserAsync(setup, setup.UserId)).GetProperty("locale").GetString());
    }

    [Fact]
    public async Task ARegistrationInSpanish_GivesTheNewAccountSpanish()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["prompt"] = "create", ["ui_locales"] = "es-MX" }));
        var registration = HostedFlow.LocalRedirect(authorize)!;
        var html = await browser.GetStringAsync(registration);
        Assert.Contains("<html lang=\"es\">", html, StringComparison.Ordinal);
        var form = HostedFlow.HiddenFields(html);
        var email = $"nueva-{Guid.NewGuid():N}"[..14] + "@example.com";
        form["email"] = email;
        form["password"] = "Br4nd-New-Passw0rd!";
        form["name"] = "Nueva";
        using var registered = await browser.PostAsync(registration.Split('?')[0], new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.SeeOther, registered.StatusCode);

        using var consent = await browser.GetAsync(HostedFlow.LocalRedirect(registered)!);
        using var decided = await HostedFlow.DecideConsentAsync(browser, await consent.Content.ReadAsStringAsync(), accept: true);
        var (idToken, _) = await ExchangeAsync(setup, decided.Headers.Location!, verifier);
        Assert.Equal("es", idToken.GetClaim("locale").Value);
    }

    [Fact]
    public async Task AResetAskedForOnAFrenchPage_IsMailedInFrench_AndItsLinkOpensTheNextPageInFrench()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        browser.DefaultRequestHeaders.AcceptLanguage.ParseAdd("fr-FR");
        var forgot = $"/t/{setup.Tenant.Slug}/forgot-password";
        var html = await browser.GetStringAsync(forgot);
        Assert.Contains("<html lang=\"fr\">", html, StringComparison.Ordinal);
        using (var sent = await HostedFlow.SubmitFormAsync(browser, html, new() { ["email"] = setup.Email }))
        {
            Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
        }

        var mail = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            return suite.Smtp.To(setup.Email, "password_reset") is [var first, ..] ? first : null;
        }, TimeSpan.FromSeconds(40));
        Assert.Contains("<html lang=\"fr\">", mail.Html, StringComparison.Ordinal);
        var link = ResetLink().Match(mail.Text);
        Assert.True(link.Success, mail.Text);

        // A browser with no language of its own opens the link: the page, and the one after it, read in the mail's French.
        using var fresh = suite.Browser();
        using var opened = await fresh.GetAsync(new Uri(link.Value).PathAndQuery);
        var openedHtml = await opened.Content.ReadAsStringAsync();
        Assert.Contains("<html lang=\"fr\">", openedHtml, StringComparison.Ordinal);
        Assert.Contains(opened.Headers.GetValues("Set-Cookie"), c => c.StartsWith($"{PageLanguage.CookieName}=fr;", StringComparison.Ordinal));
        using var next = await fresh.GetAsync($"/t/{setup.Tenant.Slug}/login");
        Assert.Contains("<html lang=\"fr\">", await next.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [GeneratedRegex(@"https?://\S+/forgot-password/reset\?token=[A-Za-z0-9_-]+&ui_locales=fr")]
    private static partial Regex ResetLink();
}
