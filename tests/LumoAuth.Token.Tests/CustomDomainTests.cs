using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.ServiceDefaults;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using TestTenant = LumoAuth.Testing.TestTenant;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Admin and the token service behind one gateway that knows both (so it loads admin's verified custom domains), with
/// domain checks answered by a DNS server of the test's own.
/// </summary>
public sealed class CustomDomainSuite : TokenSuite, IAsyncDisposable
{
    public CustomDomainSuite()
        : base(new AdminFactory
        {
            ExtraSettings = new Dictionary<string, string?>
            {
                ["CustomDomains:NameServers:0"] = SharedDns.Endpoint,
                ["CustomDomains:Target"] = Target,
            },
        })
    {
    }

    public const string Target = "edge.lumoauth.test";

    // One per process: the admin factory's settings are fixed before the suite's own constructor body runs.
    private static readonly TestDnsServer SharedDns = new();

    public TestDnsServer Dns => SharedDns;

    private InProcessGateway? _gateway;

    public InProcessGateway Gateway => _gateway ??= new InProcessGateway(new Dictionary<string, GatewayBackend>
    {
        [ServiceNames.Admin] = GatewayBackend.InMemory(Admin.AdminHandler),
        [ServiceNames.Token] = GatewayBackend.InMemory(() => Token.Server.CreateHandler()),
    });

    /// <summary>A client of the combined gateway addressing <paramref name="host"/> (its Host header), optionally with cookies.</summary>
    public HttpClient On(string host, bool cookies = false)
    {
        var handler = Gateway.CreateHandler();
        if (cookies)
        {
            handler = new CookieContainerHandler { InnerHandler = handler };
        }

        return new HttpClient(handler) { BaseAddress = new Uri($"http://{host}") };
    }

    public override async Task DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        await base.DisposeAsync();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
}

public sealed class CustomDomainTests(CustomDomainSuite suite) : IClassFixture<CustomDomainSuite>
{
    private static string NewDomain() => $"login-{Guid.NewGuid().ToString("N")[..12]}.acme.example";

    /// <summary>Registers, publishes the records for, and verifies a domain of the tenant; its id. The gateway has loaded it.</summary>
    private async Task<string> VerifiedDomainAsync(TestTenant tenant, string domain)
    {
        using var admin = suite.Admin.ClientFor(tenant);
        var added = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain }), 201))["data"]!;
        foreach (var record in added["dnsRecords"]!.AsArray())
        {
            if (record!["type"]!.GetValue<string>() == "TXT")
            {
                suite.Dns.AddTxt(record["name"]!.GetValue<string>(), record["value"]!.GetValue<string>());
            }
        }

        suite.Dns.AddCname(domain, CustomDomainSuite.Target);
        var id = added["id"]!.GetValue<string>();
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/custom-domains/{id}/verify", null));
        await suite.Gateway.RefreshCustomDomainsAsync();
        return id;
    }

    private async Task MakePrimaryAsync(TestTenant tenant, string id, string expectedIssuer)
    {
        using var admin = suite.Admin.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/custom-domains/{id}/primary", null));
        // The token service hears of it through TenantUpdated (RabbitMQ), then builds the tenant's configuration afresh.
        using var platform = suite.On("localhost");
        await ApiAssert.EventuallyAsync(async () =>
        {
            var discovery = await platform.GetFromJsonAsync<JsonElement>($"{tenant.Api}/.well-known/openid-configuration");
            return discovery.GetProperty("issuer").GetString() == expectedIssuer ? "ok" : null;
        });
    }

    [Fact]
    public async Task AVerifiedDomain_ServesTheTenantWithoutItsPrefix_AndOnlyThatTenant()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var other = await suite.Admin.CreateTenantAsync();
        var domain = NewDomain();
        using var before = suite.On(domain);
        await ApiAssert.ErrorAsync(await before.GetAsync("/api/v1/.well-known/openid-configuration"), 404, "route_not_found");

        await VerifiedDomainAsync(tenant, domain);
        using var http = suite.On(domain);
        var discovery = await http.GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration");
        // Not primary yet: the issuer stays the path form.
        Assert.Equal($"http://localhost/t/{tenant.Slug}/api/v1", discovery.GetProperty("issuer").GetString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/v1/.well-known/jwks.json")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/t/{tenant.Slug}/api/v1/.well-known/openid-configuration")).StatusCode);

        // Another tenant's paths, the platform API and the internal API are no route on this tenant's domain.
        await ApiAssert.ErrorAsync(await http.GetAsync($"/t/{other.Slug}/api/v1/.well-known/openid-configuration"), 404, "route_not_found");
        await ApiAssert.ErrorAsync(await http.GetAsync($"/t/{other.Slug.ToUpperInvariant()}/api/v1/.well-known/openid-configuration"), 404, "route_not_found");
        await ApiAssert.ErrorAsync(await http.GetAsync($"/api/v1/tenants/{tenant.Slug}"), 404, "route_not_found");
        await ApiAssert.ErrorAsync(await http.GetAsync("/internal/v1/custom-domains"), 404, "route_not_found");

        // The tenant's Admin API answers there, to the tenant's own key only.
        using var admin = suite.On(domain);
        admin.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        await ApiAssert.OkAsync(await admin.GetAsync("/api/v1/custom-domains"));
        using var stranger = suite.On(domain);
        stranger.DefaultRequestHeaders.Add("X-API-Key", other.ApiKey);
        Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.GetAsync("/api/v1/custom-domains")).StatusCode);

        // A caller cannot pose as a custom-domain request on the deployment's own host.
        using var spoof = suite.On("localhost");
        spoof.DefaultRequestHeaders.Add("X-LumoAuth-Domain", domain);
        Assert.Equal(HttpStatusCode.OK, (await spoof.GetAsync($"/t/{tenant.Slug}/api/v1/.well-known/openid-configuration")).StatusCode);

        // Removed, the domain serves nothing once the gateway reloads its map.
        using var owner = suite.Admin.ClientFor(tenant);
        var id = (await ApiAssert.OkAsync(await owner.GetAsync($"{tenant.Api}/custom-domains")))["data"]![0]!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"{tenant.Api}/custom-domains/{id}")).StatusCode);
        await suite.Gateway.RefreshCustomDomainsAsync();
        await ApiAssert.ErrorAsync(await http.GetAsync("/api/v1/.well-known/openid-configuration"), 404, "route_not_found");
    }

    [Fact]
    public async Task ThePrimaryDomain_IsTheIssuer_OfDiscoveryAndTokens_AndEarlierTokensStayValid()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var domain = NewDomain();
        var issuer = $"http://{domain}/api/v1";
        var id = await VerifiedDomainAsync(tenant, domain);
        using var platform = suite.On("localhost");
        platform.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        var created = await HttpAssert.JsonAsync(
            await platform.PostAsJsonAsync($"{tenant.Api}/admin/clients", new { name = "automation", allowedScopes = new[] { "admin:read" } }), HttpStatusCode.Created);
        var (clientId, secret) = (created.GetProperty("data").GetProperty("clientId").GetString()!, created.GetProperty("data").GetProperty("secret").GetString()!);
        var earlier = await TokenAsync(platform, $"{tenant.Api}/oauth/token", clientId, secret);

        await MakePrimaryAsync(tenant, id, issuer);
        using var http = suite.On(domain);
        var discovery = await http.GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration");
        Assert.Equal(issuer, discovery.GetProperty("issuer").GetString());
        Assert.Equal(issuer + "/oauth/token", discovery.GetProperty("token_endpoint").GetString());
        Assert.Equal(issuer + "/.well-known/jwks.json", discovery.GetProperty("jwks_uri").GetString());
        // The same document on the deployment's own host: one issuer per tenant.
        Assert.Equal(issuer, (await platform.GetFromJsonAsync<JsonElement>($"{tenant.Api}/.well-known/openid-configuration")).GetProperty("issuer").GetString());

        var token = await TokenAsync(http, "/api/v1/oauth/token", clientId, secret);
        var jwt = new JsonWebToken(token);
        Assert.Equal(issuer, jwt.Issuer);
        Assert.Equal([issuer], jwt.Audiences);

        // Both the new token and one issued under the path issuer are the tenant's, on either host.
        foreach (var (client, path) in new[] { (http, "/api/v1/admin/clients"), (platform, $"{tenant.Api}/admin/clients") })
        {
            foreach (var bearer in new[] { token, earlier })
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, path);
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
                request.Headers.Remove("X-API-Key");
                using var response = await new HttpClient(suite.Gateway.CreateHandler()) { BaseAddress = client.BaseAddress }.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }

        using var introspected = await http.PostAsync("/api/v1/oauth/introspect", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = earlier, ["client_id"] = clientId, ["client_secret"] = secret,
        }));
        Assert.True((await HttpAssert.JsonAsync(introspected, HttpStatusCode.OK)).GetProperty("active").GetBoolean());

        // Removing the primary domain gives the tenant its path issuer back.
        using var admin = suite.Admin.ClientFor(tenant);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{tenant.Api}/custom-domains/{id}")).StatusCode);
        await ApiAssert.EventuallyAsync(async () =>
            (await platform.GetFromJsonAsync<JsonElement>($"{tenant.Api}/.well-known/openid-configuration")).GetProperty("issuer").GetString()
                == $"http://localhost/t/{tenant.Slug}/api/v1" ? "ok" : null);
    }

    [Fact]
    public async Task ABrowser_SignsInOnTheDomain_AndItsSessionCoversTheWholeHost()
    {
        var setup = await suite.SetUpAsync();
        var domain = NewDomain();
        var issuer = $"http://{domain}/api/v1";
        var id = await VerifiedDomainAsync(setup.Tenant, domain);
        await MakePrimaryAsync(setup.Tenant, id, issuer);
        using var browser = suite.On(domain, cookies: true);

        var (verifier, challenge) = HostedFlow.Pkce();
        string Authorize(string pkce) => HostedFlow.AuthorizeUrl(setup, pkce).Replace(setup.Tenant.Api, "/api/v1", StringComparison.Ordinal);
        var redirect = await HostedFlow.SignInAsync(browser, setup, Authorize(challenge));
        var code = HostedFlow.Parameters(redirect)["code"];
        using var exchanged = await browser.PostAsync("/api/v1/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        var tokens = await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
        Assert.Equal(issuer, new JsonWebToken(tokens.GetProperty("id_token").GetString()!).Issuer);

        // The session cookie was scoped to the host, so an authorization request on the unprefixed path needs no new login.
        using var again = await browser.GetAsync(Authorize(HostedFlow.Pkce().Challenge));
        Assert.DoesNotContain("/login", again.Headers.Location?.OriginalString ?? string.Empty, StringComparison.Ordinal);
        Assert.Contains(again.StatusCode, new[] { HttpStatusCode.Found, HttpStatusCode.SeeOther, HttpStatusCode.OK });

        // Userinfo on the domain, with the access token it issued.
        using var userinfo = new HttpRequestMessage(HttpMethod.Get, "/api/v1/oauth/userinfo");
        userinfo.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens.GetProperty("access_token").GetString());
        var claims = await HttpAssert.JsonAsync(await browser.SendAsync(userinfo), HttpStatusCode.OK);
        Assert.Equal(setup.UserId.ToString(), claims.GetProperty("sub").GetString());
    }

    private static async Task<string> TokenAsync(HttpClient http, string endpoint, string clientId, string secret)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint)
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin:read" }),
        };
        request.Headers.Authorization = HttpAssert.Basic(clientId, secret);
        using var response = await http.SendAsync(request);
        return (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("access_token").GetString()!;
    }
}
