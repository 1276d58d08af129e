using System.Net;
using System.Net.Http.Json;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The consent page says what each scope allows: built-in texts, and a custom scope's own description; what was consented
/// to is part of what the token service tells admin about a user (the GDPR export).
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class ConsentScopesTests(TokenSuite suite)
{
    [Fact]
    public async Task ConsentPage_ShowsEachScopesConsentText_CustomOnesAsTheAdminWroteThem()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using (var scope = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/scopes", new { name = "orders.read", description = "See your <orders> & invoices" }))
        {
            Assert.Equal(HttpStatusCode.Created, scope.StatusCode);
        }

        using (var client = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}",
                   new { allowedScopes = new[] { "openid", "profile", "orders.read", "orders.undescribed" } }))
        {
            Assert.Equal(HttpStatusCode.OK, client.StatusCode);
        }

        using var browser = suite.Browser();
        using var consent = await ConsentPageAsync(browser, setup, "openid orders.read orders.undescribed");
        var html = await consent.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, consent.StatusCode);
        Assert.Contains("<li>Sign you in with your account <small>(openid)</small></li>", html, StringComparison.Ordinal);
        Assert.Contains("<li>See your &lt;orders&gt; &amp; invoices <small>(orders.read)</small></li>", html, StringComparison.Ordinal);
        Assert.Contains("<li>orders.undescribed</li>", html, StringComparison.Ordinal);

        // The tenant words its own description for German readers, as it words our sentences; English stays as written.
        using (var settings = suite.Admin.ClientFor(setup.Tenant))
        {
            await LumoAuth.Testing.ApiAssert.OkAsync(await settings.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new
            {
                localization = new { texts = new Dictionary<string, Dictionary<string, string>> { ["de"] = new() { ["See your <orders> & invoices"] = "Ihre <Bestellungen> & Rechnungen sehen" } } },
            }));
        }

        var german = await LumoAuth.Testing.ApiAssert.EventuallyAsync(async () =>
        {
            using var inGerman = suite.Browser();
            inGerman.DefaultRequestHeaders.AcceptLanguage.ParseAdd("de");
            using var page = await ConsentPageAsync(inGerman, setup, "openid orders.read");
            var body = await page.Content.ReadAsStringAsync();
            return body.Contains("Bestellungen", StringComparison.Ordinal) ? body : null;
        });
        Assert.Contains("<li>Ihre &lt;Bestellungen&gt; &amp; Rechnungen sehen <small>(orders.read)</small></li>", german, StringComparison.Ordinal);
        using var english = suite.Browser();
        using var englishConsent = await ConsentPageAsync(english, setup, "openid orders.read");
        Assert.Contains("See your &lt;orders&gt; &amp; invoices", await englishConsent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>
    /// The client's logo, home page, privacy policy and terms (set through the Admin API or registration) are on its
    /// consent page; the logo's origin is the page's only other image source. Clearing one takes it off.
    /// </summary>
    [Fact]
    public async Task ConsentPage_ShowsTheClientsLogoAndLinks_AndAllowsOnlyThatImage()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using (var client = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}", new
               {
                   clientUri = "https://shop.example.com/", logoUri = "https://cdn.example.net:8443/logo.png?v=\"2\"",
                   policyUri = "https://shop.example.com/privacy", tosUri = "https://shop.example.com/terms",
               }))
        {
            var updated = await HttpAssert.JsonAsync(client, HttpStatusCode.OK);
            Assert.Equal("https://shop.example.com/terms", updated.GetProperty("data").GetProperty("tosUri").GetString());
        }

        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        using var consent = await ConsentPageAsync(browser, setup, "openid");
        var html = await consent.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, consent.StatusCode);
        Assert.Contains("<img class=\"client-logo\" src=\"https://cdn.example.net:8443/logo.png?v=%222%22\"", html, StringComparison.Ordinal);
        Assert.Contains("<a href=\"https://shop.example.com/\" rel=\"noopener noreferrer\"><strong>", html, StringComparison.Ordinal);
        Assert.Contains("<a href=\"https://shop.example.com/privacy\" rel=\"noopener noreferrer\">Privacy policy</a>", html, StringComparison.Ordinal);
        Assert.Contains("<a href=\"https://shop.example.com/terms\" rel=\"noopener noreferrer\">Terms of service</a>", html, StringComparison.Ordinal);
        Assert.Contains("; img-src https://cdn.example.net:8443;", consent.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);

        using (var cleared = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}", new { logoUri = "", tosUri = "" }))
        {
            var data = (await HttpAssert.JsonAsync(cleared, HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal(System.Text.Json.JsonValueKind.Null, data.GetProperty("logoUri").ValueKind);
            Assert.Equal("https://shop.example.com/privacy", data.GetProperty("policyUri").GetString());
        }

        using var again = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = "openid", ["prompt"] = "consent" }));
        var page = await again.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.DoesNotContain("client-logo", page, StringComparison.Ordinal);
        Assert.DoesNotContain("Terms of service", page, StringComparison.Ordinal);
        Assert.Contains("Privacy policy", page, StringComparison.Ordinal);
        Assert.DoesNotContain("img-src", again.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsersRecords_ForTheGdprExport_HoldTheSessionAndTheConsent_AndOnlyWithTheInternalKey()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        var redirect = await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = "openid profile" }));
        Assert.NotNull(HostedFlow.Parameters(redirect)["code"]);

        var route = LumoAuth.Contracts.Internal.UserSessionData.Route(setup.UserId, setup.Tenant.Id);
        using var internalApi = suite.Token.CreateDirectClient();
        using (var anonymous = await internalApi.GetAsync(route))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }

        internalApi.DefaultRequestHeaders.Add(LumoAuth.Contracts.Internal.InternalRoutes.InternalKeyHeader, LumoAuth.Testing.TestInfrastructure.InternalKey);
        var records = await internalApi.GetFromJsonAsync<LumoAuth.Contracts.Internal.UserSessionData>(route);
        var session = Assert.Single(records!.Sessions);
        Assert.Equal("password", session.AuthMethod);
        Assert.Null(session.RevokedAt);
        var consent = Assert.Single(records.Consents);
        Assert.Equal(setup.ClientId, consent.ClientId);
        Assert.Equal(["openid", "profile"], consent.Scopes.Order(StringComparer.Ordinal));
        Assert.NotNull(consent.GrantedAt);

        // Another tenant's id names nobody there.
        var other = await suite.SetUpAsync();
        var foreign = await internalApi.GetFromJsonAsync<LumoAuth.Contracts.Internal.UserSessionData>(LumoAuth.Contracts.Internal.UserSessionData.Route(setup.UserId, other.Tenant.Id));
        Assert.Empty(foreign!.Sessions);
        Assert.Empty(foreign.Consents);
    }

    [Fact]
    public async Task AuthorizeWithoutScope_GrantsTheTenantsDefaultScopesTheClientMayHave()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        foreach (var (name, isDefault) in new[] { ("orders.read", true), ("orders.write", false), ("billing.read", true) })
        {
            using var created = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/scopes", new { name, description = "About " + name, isDefault });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        // billing.read is a default scope, but not one this client may have.
        using (var client = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}",
                   new { allowedScopes = new[] { "openid", "orders.read", "orders.write" } }))
        {
            Assert.Equal(HttpStatusCode.OK, client.StatusCode);
        }

        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = null })))["code"];
        using var http = suite.Token.CreateClient();
        using var exchanged = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));

        Assert.Equal("orders.read", (await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("scope").GetString());
    }
    /// <summary>An authorization request for <paramref name="scope"/> in <paramref name="browser"/>, signed in there: its consent page.</summary>
    private async Task<HttpResponseMessage> ConsentPageAsync(HttpClient browser, SignInSetup setup, string scope)
    {
        var (_, challenge) = HostedFlow.Pkce();
        using var first = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = scope }));
        using var login = await HostedFlow.SubmitLoginAsync(browser, HostedFlow.LocalRedirect(first)!, setup.Email, setup.Password);
        return await browser.GetAsync(HostedFlow.LocalRedirect(login)!);
    }
}
