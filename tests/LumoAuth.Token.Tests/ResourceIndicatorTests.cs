using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Resource indicators (RFC 8707): <c>resource</c> at the authorization, PAR and token endpoints, checked against the
/// client's audience URIs (exact or prefix; the tenant's own API always), narrowing only within the grant, and the
/// access token's <c>aud</c> set to the named resources.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class ResourceIndicatorTests(TokenSuite suite)
{
    private const string Billing = "https://billing.example.com";
    private const string Users = "https://users.example.com/api";

    private sealed record Machine(string ClientId, string Secret);

    private async Task<Machine> MachineAsync(SignInSetup setup, string matching = "exact")
    {
        var data = await suite.CreateClientAsync(setup, new
        {
            name = "reports", grantTypes = new[] { "client_credentials" }, allowedScopes = new[] { "reports.read" },
            audienceUris = new[] { Billing, Users }, audienceMatching = matching,
        });
        Assert.Equal([Billing, Users], data.GetProperty("audienceUris").EnumerateArray().Select(u => u.GetString()));
        Assert.Equal(matching, data.GetProperty("audienceMatching").GetString());
        return new Machine(data.GetProperty("clientId").GetString()!, data.GetProperty("secret").GetString()!);
    }

    private Task<HttpResponseMessage> PostAsync(string url, IEnumerable<KeyValuePair<string, string>> form, Machine? client = null) =>
        suite.PostFormAsync(url, form, client is null ? null : (client.ClientId, client.Secret));

    private Task<HttpResponseMessage> ClientCredentialsAsync(SignInSetup setup, Machine client, params string[] resources) =>
        PostAsync(setup.TokenEndpoint, [new("grant_type", "client_credentials"), .. resources.Select(r => new KeyValuePair<string, string>("resource", r))], client);

    private static List<string> Audiences(JsonElement tokenResponse)
    {
        var token = new JsonWebToken(tokenResponse.GetProperty("access_token").GetString());
        return token.Audiences.ToList();
    }

    [Fact]
    public async Task ClientCredentials_NamedResources_BecomeTheAudience_WithoutThem_TheTenantsApi()
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineAsync(setup);

        using var one = await ClientCredentialsAsync(setup, client, Billing);
        using var two = await ClientCredentialsAsync(setup, client, Billing, Users);
        using var none = await ClientCredentialsAsync(setup, client);
        using var own = await ClientCredentialsAsync(setup, client, setup.Issuer);

        var single = await HttpAssert.JsonAsync(one, HttpStatusCode.OK);
        Assert.Equal([Billing], Audiences(single));
        Assert.Equal([Billing, Users], Audiences(await HttpAssert.JsonAsync(two, HttpStatusCode.OK)));
        Assert.Equal([setup.Issuer], Audiences(await HttpAssert.JsonAsync(none, HttpStatusCode.OK)));
        Assert.Equal([setup.Issuer], Audiences(await HttpAssert.JsonAsync(own, HttpStatusCode.OK)));

        using var introspected = await PostAsync(setup.Issuer + "/oauth/introspect", [new("token", single.GetProperty("access_token").GetString()!)], client);
        Assert.Equal(Billing, (await HttpAssert.JsonAsync(introspected, HttpStatusCode.OK)).GetProperty("aud").GetString());
    }

    [Fact]
    public async Task Introspection_TokenForTwoResources_NamesBothAsAnAudienceArray()
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineAsync(setup);
        using var issued = await ClientCredentialsAsync(setup, client, Billing, Users);
        var token = (await HttpAssert.JsonAsync(issued, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;

        using var introspected = await PostAsync(setup.Issuer + "/oauth/introspect", [new("token", token)], client);

        // RFC 7662 §2.2 / RFC 7519 §4.1.3: one audience is a string, several are an array.
        var facts = await HttpAssert.JsonAsync(introspected, HttpStatusCode.OK);
        Assert.True(facts.GetProperty("active").GetBoolean());
        var aud = facts.GetProperty("aud");
        Assert.Equal(JsonValueKind.Array, aud.ValueKind);
        Assert.Equal([Billing, Users], aud.EnumerateArray().Select(a => a.GetString()).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("/relative", "Resource URI must be an absolute URI without fragment")]
    [InlineData("https://billing.example.com#frag", "Resource URI must be an absolute URI without fragment")]
    [InlineData("https://billing.example.com/a b", "Resource URI must be an absolute URI without fragment")]
    [InlineData("https://other.example.com", "Resource 'https://other.example.com' is not registered for this client")]
    [InlineData("https://billing.example.com/v2", "Resource 'https://billing.example.com/v2' is not registered for this client")]
    public async Task ClientCredentials_BadResource_InvalidTarget(string resource, string description)
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineAsync(setup);

        using var response = await ClientCredentialsAsync(setup, client, resource);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_target", description);
    }

    [Theory]
    [InlineData("https://billing.example.com/v2", true)]
    [InlineData("https://billing.example.com/v2/invoices", true)]
    [InlineData("https://users.example.com/api/admins", true)]
    [InlineData("https://users.example.com/apiary", false)]
    [InlineData("https://billing.example.com.evil.com", false)]
    [InlineData("http://billing.example.com/v2", false)]
    public async Task PrefixMatching_AdmitsPathsUnderARegisteredUri_Only(string resource, bool admitted)
    {
        var setup = await suite.SetUpAsync();
        var client = await MachineAsync(setup, "prefix");

        using var response = await ClientCredentialsAsync(setup, client, resource);

        if (admitted)
        {
            Assert.Equal([resource], Audiences(await HttpAssert.JsonAsync(response, HttpStatusCode.OK)));
        }
        else
        {
            await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_target");
        }
    }

    [Fact]
    public async Task CodeFlow_ResourcesGranted_TokenAndRefreshNarrowWithinThem()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Dashboard", applicationType = "spa", redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code", "refresh_token" }, allowedScopes = new[] { "openid", "offline_access" },
            audienceUris = new[] { Billing, Users, "https://audit.example.com" },
        });
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var authorize = HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = "openid offline_access" }) + $"&resource={Uri.EscapeDataString(Billing)}&resource={Uri.EscapeDataString(Users)}";
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, authorize))["code"];

        using var exchanged = await PostAsync(setup.TokenEndpoint,
        [
            new("grant_type", "authorization_code"), new("code", code), new("redirect_uri", SignInSetup.RedirectUri),
            new("client_id", setup.ClientId), new("code_verifier", verifier),
        ]);
        var tokens = await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
        Assert.Equal([Billing, Users], Audiences(tokens));
        var refreshToken = tokens.GetProperty("refresh_token").GetString()!;

        using var narrowed = await PostAsync(setup.TokenEndpoint,
            [new("grant_type", "refresh_token"), new("refresh_token", refreshToken), new("client_id", setup.ClientId), new("resource", Users)]);
        var narrowedTokens = await HttpAssert.JsonAsync(narrowed, HttpStatusCode.OK);
        Assert.Equal([Users], Audiences(narrowedTokens));

        // Registered for the client, but not part of this grant; and the rotated refresh token still holds both.
        using var beyond = await PostAsync(setup.TokenEndpoint,
        [
            new("grant_type", "refresh_token"), new("refresh_token", narrowedTokens.GetProperty("refresh_token").GetString()!),
            new("client_id", setup.ClientId), new("resource", "https://audit.example.com"),
        ]);
        await HttpAssert.OAuthErrorAsync(beyond, HttpStatusCode.BadRequest, "invalid_target", "Requested resources must be a subset of granted resources");
        using var both = await PostAsync(setup.TokenEndpoint,
            [new("grant_type", "refresh_token"), new("refresh_token", narrowedTokens.GetProperty("refresh_token").GetString()!), new("client_id", setup.ClientId)]);
        Assert.Equal([Billing, Users], Audiences(await HttpAssert.JsonAsync(both, HttpStatusCode.OK)));
    }

    [Fact]
    public async Task Consent_NamesTheApis_AndIsRememberedForThem_ANewApiAsksAgain()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Dashboard", applicationType = "spa", redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code" }, allowedScopes = new[] { "openid" }, audienceUris = new[] { Billing, Users },
        });
        using var browser = suite.Browser();
        string Authorize(string resource, string? prompt = null)
        {
            var (_, challenge) = HostedFlow.Pkce();
            var overrides = new Dictionary<string, string?> { ["scope"] = "openid" };
            if (prompt is not null)
            {
                overrides["prompt"] = prompt;
            }

            return HostedFlow.AuthorizeUrl(setup, challenge, overrides) + "&resource=" + Uri.EscapeDataString(resource);
        }

        using (var first = await browser.GetAsync(Authorize(Billing)))
        using (var login = await HostedFlow.SubmitLoginAsync(browser, HostedFlow.LocalRedirect(first)!, setup.Email, setup.Password))
        using (var consentPage = await browser.GetAsync(HostedFlow.LocalRedirect(login)))
        {
            var html = await consentPage.Content.ReadAsStringAsync();
            Assert.Contains("<li>" + Billing + "</li>", html, StringComparison.Ordinal);
            using var decided = await HostedFlow.DecideConsentAsync(browser, html, accept: true);
            Assert.True(HostedFlow.Parameters(decided.Headers.Location!).ContainsKey("code"));
        }

        // The same API again: remembered. Another one the client may ask for: the user has not said yes to it.
        using var again = await browser.GetAsync(Authorize(Billing, "none"));
        Assert.True(HostedFlow.Parameters(again.Headers.Location!).ContainsKey("code"), again.Headers.Location!.ToString());
        using var other = await browser.GetAsync(Authorize(Users, "none"));
        Assert.Equal("consent_required", HostedFlow.Parameters(other.Headers.Location!)["error"]);
    }

    [Fact]
    public async Task AuthorizationRequest_UnregisteredResource_InvalidTargetAtTheRedirectUri()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();

        using var response = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge) + "&resource=" + Uri.EscapeDataString(Billing));

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var error = HostedFlow.Parameters(response.Headers.Location!);
        Assert.Equal("invalid_target", error["error"]);
    }

    [Fact]
    public async Task PushedRequest_KeepsItsResources_ForTheCodeItLeadsTo()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Portal", applicationType = "spa", redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code" }, allowedScopes = new[] { "openid" }, audienceUris = new[] { Billing },
        });
        var (verifier, challenge) = HostedFlow.Pkce();
        using var pushed = await PostAsync(setup.Issuer + "/oauth/par",
        [
            new("client_id", setup.ClientId), new("response_type", "code"), new("redirect_uri", SignInSetup.RedirectUri), new("scope", "openid"),
            new("code_challenge", challenge), new("code_challenge_method", "S256"), new("resource", Billing),
        ]);
        var requestUri = (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString()!;
        using var browser = suite.Browser();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup,
            $"{setup.Tenant.Api}/oauth/authorize?client_id={setup.ClientId}&request_uri={Uri.EscapeDataString(requestUri)}"))["code"];

        using var exchanged = await PostAsync(setup.TokenEndpoint,
        [
            new("grant_type", "authorization_code"), new("code", code), new("redirect_uri", SignInSetup.RedirectUri),
            new("client_id", setup.ClientId), new("code_verifier", verifier),
        ]);

        Assert.Equal([Billing], Audiences(await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)));
    }

    [Fact]
    public async Task PushedRequest_UnregisteredResource_InvalidTarget()
    {
        var setup = await suite.SetUpAsync();
        var (_, challenge) = HostedFlow.Pkce();

        using var pushed = await PostAsync(setup.Issuer + "/oauth/par",
        [
            new("client_id", setup.ClientId), new("response_type", "code"), new("redirect_uri", SignInSetup.RedirectUri), new("scope", "openid"),
            new("code_challenge", challenge), new("code_challenge_method", "S256"), new("resource", Billing),
        ]);

        await HttpAssert.OAuthErrorAsync(pushed, HttpStatusCode.BadRequest, "invalid_target");
    }

    [Fact]
    public async Task Discovery_SaysResourceIndicatorsAreSupported_AndBadAudienceUrisAreRefused()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();
        var metadata = await http.GetFromJsonAsync<JsonElement>($"{setup.Tenant.Api}/.well-known/openid-configuration");
        Assert.True(metadata.GetProperty("resource_indicators_supported").GetBoolean());

        http.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var relative = await http.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients",
            new { name = "x", grantTypes = new[] { "client_credentials" }, audienceUris = new[] { "/api" } });
        using var badMode = await http.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients",
            new { name = "x", grantTypes = new[] { "client_credentials" }, audienceUris = new[] { Billing }, audienceMatching = "regex" });
        await HttpAssert.EnvelopeAsync(relative, HttpStatusCode.BadRequest, "validation_error");
        await HttpAssert.EnvelopeAsync(badMode, HttpStatusCode.BadRequest, "validation_error");
    }
}
