using System.Net;
using LumoAuth.Testing;
using Microsoft.AspNetCore.WebUtilities;

namespace LumoAuth.EndToEnd.Tests;

/// <summary>
/// The hosted pages in the person's language through the gateway: an application's <c>ui_locales</c> holds for the whole
/// sign-in (its cookie on the tenant's public path), and the browser's language serves where no application said.
/// </summary>
[Collection(SuiteCollection.Name)]
public sealed class HostedPageLanguageTests(SuiteFixture suite)
{
    private const string RedirectUri = "http://127.0.0.1:7777/callback";

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
}
