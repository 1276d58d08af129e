using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;
using LumoAuth.Testing;
using Microsoft.AspNetCore.WebUtilities;

namespace LumoAuth.EndToEnd.Tests;

/// <summary>
/// The hosted pages in the person's language through the gateway: an application's <c>ui_locales</c> holds for the whole
/// sign-in (its cookie on the tenant's public path), and the browser's language serves where no application said; a user's
/// own language, set through the admin API, is taken on at sign-in and is their ID token's <c>locale</c>.
/// </summary>
[Collection(SuiteCollection.Name)]
public sealed class HostedPageLanguageTests(SuiteFixture suite)
{
    private const string RedirectUri = "http://127.0.0.1:7777/callback";

    private const string Verifier = "a-verifier-of-this-test-long-enough-for-rfc-7636-rules";

    [Fact]
    public async Task AnApplicationAskingForSpanish_GetsSpanishPages_UntilItsUserIsBack()
    {
        var tenant = await suite.CreateTenantAsync();
        var (email, password) = await suite.CreateUserAsync(tenant, "Lucia");
        using var createdClient = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "Tienda", applicationType = "native", redirectUris = new[] { RedirectUri }, grantTypes = new[] { "authorization_code" }, allowedScopes = new[] { "openid" },
        }, SuiteFixture.ApiKey(tenant.ApiKey));
        var clientId = (await ApiAssert.OkAsync(createdClient, 201))["data"]!["clientId"]!.GetValue<string>();
        var authorizeUrl = QueryHelpers.AddQueryString($"{tenant.Api}/oauth/authorize", new Dictionary<string, string?>
        {
            ["response_type"] = "code", ["client_id"] = clientId, ["redirect_uri"] = RedirectUri, ["scope"] = "openid", ["state"] = "s",
            ["code_challenge"] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGUSjL8dVM", ["code_challenge_method"] = "S256", ["ui_locales"] = "es-MX",
        });
        using var browser = suite.Browser();

        using var toLogin = await browser.GetAsync(authorizeUrl);
        Assert.Equal(HttpStatusCode.SeeOther, toLogin.StatusCode);
        Assert.Contains(toLogin.Headers.GetValues("Set-Cookie"), c => c.StartsWith("lumo_locale=es;", StringComparison.Ordinal) && c.Contains($"path=/t/{tenant.Slug}", StringComparison.OrdinalIgnoreCase));

        using var loginPage = await browser.GetAsync(toLogin.Headers.Location!.OriginalString);
        var loginHtml = await loginPage.Content.ReadAsStringAsync();
        Assert.Contains("<html lang=\"es\">", loginHtml, StringComparison.Ordinal);
        Assert.Equal(["es"], loginPage.Content.Headers.ContentLanguage);

        var form = HostedForms.HiddenFields(loginHtml);
        form["email"] = email;
        form["password"] = password;
        using var signedIn = await browser.PostAsync($"/t/{tenant.Slug}/login", new FormUrlEncodedContent(form));
        using var consent = await browser.GetAsync(signedIn.Headers.Location!.OriginalString);
        Assert.Contains("<html lang=\"es\">", await consent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutUiLocales_TheBrowsersLanguageServes_ThroughTheGateway()
    {
        var tenant = await suite.CreateTenantAsync();
        using var browser = suite.Browser();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/t/{tenant.Slug}/login");
        request.Headers.TryAddWithoutValidation("Accept-Language", "de-AT, en;q=0.5");

        using var page = await browser.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<html lang=\"de\">", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AUsersOwnLanguage_SetThroughTheAdminApi_ServesTheirPagesAfterSignIn_AndIsTheirLocaleClaim()
    {
        var tenant = await suite.CreateTenantAsync();
        var email = $"amelie-{Guid.NewGuid():N}"[..15] + "@example.com";
        const string password = "Corr3ct-Horse-Battery!";
        using var createdUser = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users", new { email, password, name = "Amélie", locale = "fr-BE" }, SuiteFixture.ApiKey(tenant.ApiKey));
        await ApiAssert.OkAsync(createdUser, 201);
        using var createdClient = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/clients", new
        {
            name = "Boutique", applicationType = "native", redirectUris = new[] { RedirectUri }, grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid", "profile" },
        }, SuiteFixture.ApiKey(tenant.ApiKey));
        var clientId = (await ApiAssert.OkAsync(createdClient, 201))["data"]!["clientId"]!.GetValue<string>();
        var authorizeUrl = QueryHelpers.AddQueryString($"{tenant.Api}/oauth/authorize", new Dictionary<string, string?>
        {
            ["response_type"] = "code", ["client_id"] = clientId, ["redirect_uri"] = RedirectUri, ["scope"] = "openid profile", ["state"] = "s",
            ["code_challenge"] = Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(Verifier))), ["code_challenge_method"] = "S256",
        });
        using var browser = suite.Browser();
        browser.DefaultRequestHeaders.AcceptLanguage.ParseAdd("en");

        // The login page speaks the browser's English; once she is known, her French.
        using var toLogin = await browser.GetAsync(authorizeUrl);
        using var loginPage = await browser.GetAsync(toLogin.Headers.Location!.OriginalString);
        var loginHtml = await loginPage.Content.ReadAsStringAsync();
        Assert.Contains("<html lang=\"en\">", loginHtml, StringComparison.Ordinal);
        var form = HostedForms.HiddenFields(loginHtml);
        form["email"] = email;
        form["password"] = password;
        using var signedIn = await browser.PostAsync($"/t/{tenant.Slug}/login", new FormUrlEncodedContent(form));
        Assert.Contains(signedIn.Headers.GetValues("Set-Cookie"), c => c.StartsWith("lumo_language=fr;", StringComparison.Ordinal));
        using var consent = await browser.GetAsync(signedIn.Headers.Location!.OriginalString);
        var consentHtml = await consent.Content.ReadAsStringAsync();
        Assert.Contains("<html lang=\"fr\">", consentHtml, StringComparison.Ordinal);

        var decision = HostedForms.HiddenPairs(consentHtml).Where(p => p.Key != "consent_decision").Append(new("consent_decision", "accept"));
        using var decided = await browser.PostAsync($"{tenant.Api}/oauth/authorize", new FormUrlEncodedContent(decision));
        var code = QueryHelpers.ParseQuery(decided.Headers.Location!.Query)["code"].ToString();
        using var redeemed = await suite.Gateway.PostAsync($"{tenant.Api}/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = RedirectUri, ["client_id"] = clientId,
            ["code_verifier"] = Verifier,
        }));
        var idToken = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken((await ApiAssert.OkAsync(redeemed))["id_token"]!.GetValue<string>());
        Assert.Equal("fr-BE", idToken.GetClaim("locale").Value);
    }

    /// <summary>A language picked from the login page's list, then a sign-in, through the gateway: admin keeps it as the person's locale.</summary>
    [Fact]
    public async Task ALanguagePickedOnTheLoginPage_IsKeptAsTheUsersLocale_ThroughTheGateway()
    {
        var tenant = await suite.CreateTenantAsync();
        var (email, password) = await suite.CreateUserAsync(tenant, "Pilar");
        using var browser = suite.Browser();
        var loginPath = $"/t/{tenant.Slug}/login";
        using (var picked = await browser.GetAsync($"/t/{tenant.Slug}/language?lang=es&returnUrl={Uri.EscapeDataString(loginPath)}"))
        {
            Assert.Equal(HttpStatusCode.SeeOther, picked.StatusCode);
        }

        var loginHtml = await browser.GetStringAsync(loginPath);
        Assert.Contains("<html lang=\"es\">", loginHtml, StringComparison.Ordinal);
        var form = HostedForms.HiddenFields(loginHtml);
        form["email"] = email;
        form["password"] = password;
        // Without a way back to an application, the page says (in Spanish) that she is signed in.
        using var signedIn = await browser.PostAsync(loginPath, new FormUrlEncodedContent(form));
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        Assert.Contains(signedIn.Headers.GetValues("Set-Cookie"), c => c.StartsWith("lumo_session=", StringComparison.Ordinal));

        using var users = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users?search={Uri.EscapeDataString(email)}", null, SuiteFixture.ApiKey(tenant.ApiKey));
        var user = (await ApiAssert.OkAsync(users))["data"]!.AsArray().Single()!;
        Assert.Equal("es", user["locale"]!.GetValue<string>());
    }
}
