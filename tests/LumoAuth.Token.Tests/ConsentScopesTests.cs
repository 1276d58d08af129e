using System.Net;
using System.Net.Http.Json;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>The consent page says what each scope allows: built-in texts, and a custom scope's own description.</summary>
public sealed class ConsentScopesTests(TokenSuite suite) : IClassFixture<TokenSuite>
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
        var (_, challenge) = HostedFlow.Pkce();
        var authorize = HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = "openid orders.read orders.undescribed" });
        using var first = await browser.GetAsync(authorize);
        using var login = await HostedFlow.SubmitLoginAsync(browser, HostedFlow.LocalRedirect(first)!, setup.Email, setup.Password);
        using var consent = await browser.GetAsync(HostedFlow.LocalRedirect(login)!);
        var html = await consent.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, consent.StatusCode);
        Assert.Contains("<li>Sign you in with your account <small>(openid)</small></li>", html, StringComparison.Ordinal);
        Assert.Contains("<li>See your &lt;orders&gt; &amp; invoices <small>(orders.read)</small></li>", html, StringComparison.Ordinal);
        Assert.Contains("<li>orders.undescribed</li>", html, StringComparison.Ordinal);
    }
}
