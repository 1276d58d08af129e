using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.ServiceDefaults;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
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
        : base(new AdminFactory { ExtraSettings = TestDomains.AdminSettings })
    {
    }

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
    private static string NewDomain() => TestDomains.NewName();

    /// <summary>Registers, publishes the records for, and verifies a domain of the tenant; its id. The gateway has loaded it.</summary>
    private async Task<string> VerifiedDomainAsync(TestTenant tenant, string domain)
    {
        var id = await TestDomains.VerifyAsync(suite.Admin, tenant, domain);
        await suite.Gateway.RefreshCustomDomainsAsync();
        return id;
    }

    /// <summary>The issuer discovery names on <paramref name="host"/> at <paramref name="path"/>, once it is <paramref name="expected"/>.</summary>
    private async Task WaitForIssuerAsync(string host, string path, string expected)
    {
        // The token service hears of domain changes through TenantUpdated (RabbitMQ) and then reads the tenant afresh.
        using var http = suite.On(host);
        await ApiAssert.EventuallyAsync(async () =>
        {
            var discovery = await http.GetFromJsonAsync<JsonElement>(path);
            return discovery.GetProperty("issuer").GetString() == expected ? "ok" : null;
        });
    }

    private async Task<(string ClientId, string Secret)> MachineClientAsync(TestTenant tenant, object? extra = null)
    {
        using var platform = suite.On("localhost");
        platform.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        var created = await HttpAssert.JsonAsync(
            await platform.PostAsJsonAsync($"{tenant.Api}/admin/clients", extra ?? new { name = "automation", allowedScopes = new[] { "admin:read" } }),
            HttpStatusCode.Created);
        return (created.GetProperty("data").GetProperty("clientId").GetString()!, created.GetProperty("data").GetProperty("secret").GetString()!);
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
        await WaitForIssuerAsync(domain, "/.well-known/openid-configuration", $"http://{domain}/api/v1");
        using var http = suite.On(domain);
        var discovery = await http.GetFromJsonAsync<JsonElement>("/api/v1/.well-known/openid-configuration");
        Assert.Equal($"http://{domain}/api/v1/oauth/token", discovery.GetProperty("token_endpoint").GetString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/v1/.well-known/jwks.json")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/t/{tenant.Slug}/api/v1/.well-known/openid-configuration")).StatusCode);
        // Any case and a trailing dot name the same host.
        using var shouted = suite.On(domain.ToUpperInvariant() + ".");
        Assert.Equal(HttpStatusCode.OK, (await shouted.GetAsync("/.well-known/openid-configuration")).StatusCode);
        // The deployment's own host keeps the tenant's path issuer, so clients set up there go on working.
        await WaitForIssuerAsync("localhost", $"{tenant.Api}/.well-known/openid-configuration", $"http://localhost/t/{tenant.Slug}/api/v1");

        // Another tenant's paths, the platform API and the internal API are no route on this tenant's domain.
        await ApiAssert.ErrorAsync(await http.GetAsync($"/t/{other.Slug}/api/v1/.well-known/openid-configuration"), 404, "route_not_found");
        await ApiAssert.ErrorAsync(await http.GetAsync($"/t/{other.Slug.ToUpperInvariant()}/api/v1/.well-known/openid-configuration"), 404, "route_not_found");
        await ApiAssert.ErrorAsync(await http.GetAsync("/t"), 404, "route_not_found");
        await ApiAssert.ErrorAsync(await http.GetAsync($"/api/v1/tenants/{tenant.Slug}"), 404, "route_not_found");
        await ApiAssert.ErrorAsync(await http.GetAsync("/internal/v1/custom-domains"), 404, "route_not_found");

        // The tenant's Admin API answers there, to the tenant's own key only.
        using var admin = suite.On(domain);
        admin.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        await ApiAssert.OkAsync(await admin.GetAsync("/api/v1/custom-domains"));
        using var stranger = suite.On(domain);
        stranger.DefaultRequestHeaders.Add("X-API-Key", other.ApiKey);
        Assert.Equal(HttpStatusCode.Unauthorized, (await stranger.GetAsync("/api/v1/custom-domains")).StatusCode);

        // A caller cannot pose as a request on the tenant's domain from the deployment's own host: the gateway drops the header.
        using var spoof = suite.On("localhost");
        spoof.DefaultRequestHeaders.Add("X-LumoAuth-Domain", domain);
        Assert.Equal($"http://localhost/t/{tenant.Slug}/api/v1",
            (await spoof.GetFromJsonAsync<JsonElement>($"/t/{tenant.Slug}/api/v1/.well-known/openid-configuration")).GetProperty("issuer").GetString());

        // Behind the gateway, a service believes the header only for one of the request's own tenant's domains.
        using (var direct = suite.Token.CreateDirectClient())
        {
            direct.DefaultRequestHeaders.Add("X-LumoAuth-Domain", domain);
            Assert.Equal($"http://localhost/t/{other.Slug}/api/v1",
                (await direct.GetFromJsonAsync<JsonElement>($"/t/{other.Slug}/api/v1/.well-known/openid-configuration")).GetProperty("issuer").GetString());
            Assert.Equal($"http://{domain}/api/v1",
                (await direct.GetFromJsonAsync<JsonElement>($"/t/{tenant.Slug}/api/v1/.well-known/openid-configuration")).GetProperty("issuer").GetString());
        }

        // Removed, the domain serves nothing once the gateway reloads its map.
        using var owner = suite.Admin.ClientFor(tenant);
        var id = (await ApiAssert.OkAsync(await owner.GetAsync($"{tenant.Api}/custom-domains")))["data"]![0]!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"{tenant.Api}/custom-domains/{id}")).StatusCode);
        await suite.Gateway.RefreshCustomDomainsAsync();
        await ApiAssert.ErrorAsync(await http.GetAsync("/api/v1/.well-known/openid-configuration"), 404, "route_not_found");
    }

    [Fact]
    public async Task EachHost_IssuesUnderItsOwnIssuer_ThePrimaryChangesNone_AndEveryTokenStaysTheTenants()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var (first, second) = (NewDomain(), NewDomain());
        var firstId = await VerifiedDomainAsync(tenant, first);
        await VerifiedDomainAsync(tenant, second);
        await WaitForIssuerAsync(second, "/.well-known/openid-configuration", $"http://{second}/api/v1");
        await WaitForIssuerAsync(first, "/.well-known/openid-configuration", $"http://{first}/api/v1");
        var (clientId, secret) = await MachineClientAsync(tenant);
        using var platform = suite.On("localhost");
        var onPlatform = await TokenAsync(platform, $"{tenant.Api}/oauth/token", clientId, secret);
        using var onSecondHost = suite.On(second);
        var onSecond = await TokenAsync(onSecondHost, "/api/v1/oauth/token", clientId, secret);
        Assert.Equal($"http://localhost/t/{tenant.Slug}/api/v1", new JsonWebToken(onPlatform).Issuer);
        Assert.Equal($"http://{second}/api/v1", new JsonWebToken(onSecond).Issuer);
        Assert.Equal([$"http://{second}/api/v1"], new JsonWebToken(onSecond).Audiences);

        // The primary domain is where links and notifications point; it changes no host's issuer (each names itself, as
        // discovery must: RFC 8414 §3.3).
        using var owner = suite.Admin.ClientFor(tenant);
        await ApiAssert.OkAsync(await owner.PostAsync($"{tenant.Api}/custom-domains/{firstId}/primary", null));
        var directory = suite.Token.Services.GetRequiredService<LumoAuth.ServiceDefaults.Tenancy.TenantDirectory>();
        await ApiAssert.EventuallyAsync(async () => (await directory.FindAsync(tenant.Slug, CancellationToken.None))?.PrimaryDomain == first ? "seen" : null);
        var discovery = await onSecondHost.GetFromJsonAsync<JsonElement>("/.well-known/openid-configuration");
        Assert.Equal($"http://{second}/api/v1", discovery.GetProperty("issuer").GetString());
        Assert.Equal($"http://{second}/api/v1/oauth/token", discovery.GetProperty("token_endpoint").GetString());
        using var onFirstHost = suite.On(first);
        var underPrimary = await TokenAsync(onFirstHost, "/api/v1/oauth/token", clientId, secret);
        Assert.Equal($"http://{first}/api/v1", new JsonWebToken(underPrimary).Issuer);

        // Every one of them is the tenant's, on every host.
        foreach (var (host, path) in new[] { (second, "/api/v1/admin/clients"), ("localhost", $"{tenant.Api}/admin/clients"), (first, "/api/v1/admin/clients") })
        {
            foreach (var bearer in new[] { onPlatform, onSecond, underPrimary })
            {
                using var client = suite.On(host);
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(path)).StatusCode);
            }
        }

        using var introspected = await platform.PostAsync($"{tenant.Api}/oauth/introspect", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = onSecond, ["client_id"] = clientId, ["client_secret"] = secret,
        }));
        Assert.True((await HttpAssert.JsonAsync(introspected, HttpStatusCode.OK)).GetProperty("active").GetBoolean());

        // Another tenant's tokens are not, on this tenant's domain.
        var other = await suite.Admin.CreateTenantAsync();
        var (otherClient, otherSecret) = await MachineClientAsync(other);
        using (var foreign = suite.On(second))
        {
            foreign.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync(platform, $"{other.Api}/oauth/token", otherClient, otherSecret));
            Assert.Equal(HttpStatusCode.Unauthorized, (await foreign.GetAsync("/api/v1/admin/clients")).StatusCode);
        }

        // A removed domain's tokens end with it; the others go on.
        var secondId = (await ApiAssert.OkAsync(await owner.GetAsync($"{tenant.Api}/custom-domains")))["data"]!.AsArray()
            .Single(d => d!["domain"]!.GetValue<string>() == second)!["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.NoContent, (await owner.DeleteAsync($"{tenant.Api}/custom-domains/{secondId}")).StatusCode);
        using var check = suite.On("localhost");
        await ApiAssert.EventuallyAsync(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"{tenant.Api}/admin/clients");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", onSecond);
            return (await check.SendAsync(request)).StatusCode == HttpStatusCode.Unauthorized ? "ended" : null;
        });
        using var stillGood = new HttpRequestMessage(HttpMethod.Get, $"{tenant.Api}/admin/clients");
        stillGood.Headers.Authorization = new AuthenticationHeaderValue("Bearer", underPrimary);
        Assert.Equal(HttpStatusCode.OK, (await check.SendAsync(stillGood)).StatusCode);
    }

    [Fact]
    public async Task ADPoPProof_NamesTheUrlOnTheDomain_WithOrWithoutThePrefix()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var domain = NewDomain();
        await VerifiedDomainAsync(tenant, domain);
        await WaitForIssuerAsync(domain, "/.well-known/openid-configuration", $"http://{domain}/api/v1");
        var (clientId, secret) = await MachineClientAsync(tenant);
        using var key = new DPoPKey();
        using var http = suite.On(domain);

        async Task<HttpResponseMessage> RequestAsync(string path, string htu)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path)
            {
                Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "admin:read" }),
            };
            request.Headers.Authorization = HttpAssert.Basic(clientId, secret);
            request.Headers.Add("DPoP", key.Proof("POST", htu));
            return await http.SendAsync(request);
        }

        var bound = await HttpAssert.JsonAsync(await RequestAsync("/api/v1/oauth/token", $"http://{domain}/api/v1/oauth/token"), HttpStatusCode.OK);
        Assert.Equal("DPoP", bound.GetProperty("token_type").GetString());
        await HttpAssert.JsonAsync(await RequestAsync($"{tenant.Api}/oauth/token", $"http://{domain}{tenant.Api}/oauth/token"), HttpStatusCode.OK);
        // The deployment host's URL is another URL: the proof was not made for this request.
        await HttpAssert.OAuthErrorAsync(
            await RequestAsync("/api/v1/oauth/token", $"http://localhost{tenant.Api}/oauth/token"), HttpStatusCode.BadRequest, "invalid_dpop_proof");

        // At a resource server on the domain the bound token goes with a proof naming that URL.
        using var use = new HttpRequestMessage(HttpMethod.Get, "/api/v1/admin/clients");
        var accessToken = bound.GetProperty("access_token").GetString()!;
        use.Headers.Authorization = new AuthenticationHeaderValue("DPoP", accessToken);
        use.Headers.Add("DPoP", key.Proof("GET", $"http://{domain}/api/v1/admin/clients", accessToken));
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(use)).StatusCode);
    }

    [Fact]
    public async Task ABrowser_SignsInOnTheDomain_AndItsSessionCoversTheWholeHost()
    {
        var setup = await suite.SetUpAsync();
        var domain = NewDomain();
        var issuer = $"http://{domain}/api/v1";
        await VerifiedDomainAsync(setup.Tenant, domain);
        await WaitForIssuerAsync(domain, "/.well-known/openid-configuration", issuer);
        using var browser = suite.On(domain, cookies: true);

        var (verifier, challenge) = HostedFlow.Pkce();
        string Authorize(string pkce) => HostedFlow.AuthorizeUrl(setup, pkce).Replace(setup.Tenant.Api, "/api/v1", StringComparison.Ordinal);
        var redirect = await HostedFlow.SignInAsync(browser, setup, Authorize(challenge));
        var parameters = HostedFlow.Parameters(redirect);
        Assert.Equal(issuer, parameters["iss"]);
        using var exchanged = await browser.PostAsync("/api/v1/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = parameters["code"], ["redirect_uri"] = SignInSetup.RedirectUri,
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

        // The refresh token, issued on the domain, is good on the deployment's host too.
        using var platform = suite.On("localhost");
        using var refreshed = await platform.PostAsync($"{setup.Tenant.Api}/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()!, ["client_id"] = setup.ClientId,
        }));
        await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK);
    }

    [Fact]
    public async Task APasskeyMadeOnTheDomain_HasTheDomainAsItsRelyingParty_AndSignsInThere()
    {
        var setup = await suite.SetUpAsync();
        var domain = NewDomain();
        await VerifiedDomainAsync(setup.Tenant, domain);
        await WaitForIssuerAsync(domain, "/.well-known/openid-configuration", $"http://{domain}/api/v1");
        var origin = $"http://{domain}";
        using var browser = suite.On(domain, cookies: true);
        using (var login = await HostedFlow.SubmitLoginAsync(browser, $"/t/{setup.Tenant.Slug}/login", setup.Email, setup.Password))
        {
            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        }

        async Task<JsonElement> OptionsAsync(HttpClient client, string kind)
        {
            using var response = await client.PostAsync($"/t/{setup.Tenant.Slug}/webauthn/{kind}/options", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
            return await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        }

        Task<HttpResponseMessage> AnswerAsync(HttpClient client, string path, System.Text.Json.Nodes.JsonObject answer) =>
            client.PostAsync($"/t/{setup.Tenant.Slug}/webauthn/{path}", new StringContent(answer.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));

        // Made on the domain: the domain is the relying party, and an answer for the deployment's origin is refused.
        using var passkey = new SoftwarePasskey();
        var creation = await OptionsAsync(browser, "register");
        Assert.Equal(domain, creation.GetProperty("rp").GetProperty("id").GetString());
        using (var foreign = await AnswerAsync(browser, "register", passkey.Create(creation, "http://localhost")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, foreign.StatusCode);
        }

        creation = await OptionsAsync(browser, "register");
        using (var made = await AnswerAsync(browser, "register?name=Phone", passkey.Create(creation, origin)))
        {
            Assert.Equal(HttpStatusCode.Created, made.StatusCode);
        }

        // Another browser on the domain signs in with it.
        using var fresh = suite.On(domain, cookies: true);
        var assertion = await OptionsAsync(fresh, "authenticate");
        Assert.Equal(domain, assertion.GetProperty("rpId").GetString());
        using (var signedIn = await AnswerAsync(fresh, "authenticate", passkey.Get(assertion, origin)))
        {
            Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        }

        // On the deployment's host the ceremony names that host, a relying party of its own.
        using var platform = suite.On("localhost", cookies: true);
        Assert.Equal("localhost", (await OptionsAsync(platform, "authenticate")).GetProperty("rpId").GetString());
    }

    [Fact]
    public async Task ASignInLink_AskedForOnTheDomain_IsForTheDomain_AndContinuesTheAuthorizationThere()
    {
        var setup = await suite.SetUpAsync();
        using (var settings = suite.Admin.ClientFor(setup.Tenant))
        {
            await ApiAssert.OkAsync(await settings.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true } }));
        }

        var domain = NewDomain();
        await VerifiedDomainAsync(setup.Tenant, domain);
        await WaitForIssuerAsync(domain, "/.well-known/openid-configuration", $"http://{domain}/api/v1");
        using var browser = suite.On(domain, cookies: true);
        var authorize = HostedFlow.AuthorizeUrl(setup, HostedFlow.Pkce().Challenge).Replace(setup.Tenant.Api, "/api/v1", StringComparison.Ordinal);
        using var toLogin = await browser.GetAsync(authorize);
        var loginPage = await browser.GetStringAsync(HostedFlow.LocalRedirect(toLogin)!);
        var returnUrl = HostedFlow.HiddenFields(loginPage)["returnUrl"];
        using (var requested = await browser.PostAsync("/magic-link", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["email"] = setup.Email, ["returnUrl"] = returnUrl,
        })))
        {
            Assert.Equal(HttpStatusCode.OK, requested.StatusCode);
        }

        // Admin stages the link for the domain the request came in on (its mail then points there), and it works there.
        var token = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await using (var scope = suite.Admin.Services.CreateAsyncScope())
        {
            var links = scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>().MagicLinkTokens.IgnoreQueryFilters();
            var hash = LumoAuth.Admin.Features.Credentials.TokenRedemptionEndpoints.HashOf(token);
            await ApiAssert.EventuallyAsync(async () =>
                await links.Where(t => t.UserId == setup.UserId && t.UsedAt == null && t.Domain == domain)
                    .ExecuteUpdateAsync(u => u.SetProperty(t => t.TokenHash, hash)) == 1 ? "staged" : null);
        }

        var confirm = await browser.GetStringAsync($"/magic-link/verify?token={token}");
        var form = HostedFlow.HiddenFields(confirm);
        var action = System.Text.RegularExpressions.Regex.Match(confirm, "<form method=\"post\" action=\"([^\"]+)\"").Groups[1].Value;
        using var signedIn = await browser.PostAsync(WebUtility.HtmlDecode(action), new FormUrlEncodedContent(form));
        Assert.Equal(returnUrl, HostedFlow.LocalRedirect(signedIn));
        using var consent = await browser.GetAsync(returnUrl);
        Assert.Contains("consent_decision", await consent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BeforeTheMapFirstLoads_OtherHostsWait_AndTheDeploymentsHostDoesNot()
    {
        // Admin answers the map with errors: the gateway starts anyway, with nothing loaded.
        await using var gateway = new InProcessGateway(new Dictionary<string, GatewayBackend>
        {
            [ServiceNames.Admin] = GatewayBackend.InMemory(() => new Refusing()),
            [ServiceNames.Token] = GatewayBackend.InMemory(() => suite.Token.Server.CreateHandler()),
        });
        var tenant = await suite.Admin.CreateTenantAsync();
        using var domainHost = new HttpClient(gateway.CreateHandler()) { BaseAddress = new Uri($"http://{NewDomain()}") };
        using var waiting = await domainHost.GetAsync($"/t/{tenant.Slug}/api/v1/.well-known/openid-configuration");
        await ApiAssert.ErrorAsync(waiting, 503, "service_unavailable");
        Assert.NotNull(waiting.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.OK, (await domainHost.GetAsync("/health")).StatusCode);

        // The deployment's own host (the gateway's LumoAuth:PublicBaseUrl) is served as ever.
        using var deployment = new HttpClient(gateway.CreateHandler()) { BaseAddress = new Uri("http://127.0.0.1:8080") };
        Assert.Equal(HttpStatusCode.OK, (await deployment.GetAsync($"/t/{tenant.Slug}/api/v1/.well-known/openid-configuration")).StatusCode);
    }

    private sealed class Refusing : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.InternalServerError) { RequestMessage = request });
    }

    [Fact]
    public async Task Verify_IsRefusedForAFewSecondsAfterACheck()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.Admin.ClientFor(tenant);
        var added = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/custom-domains", new { domain = NewDomain() }), 201))["data"]!;
        var verify = $"{tenant.Api}/custom-domains/{added["id"]}/verify";
        await ApiAssert.ErrorAsync(await admin.PostAsync(verify, null), 422, "domain_verification_failed");
        using var again = await admin.PostAsync(verify, null);
        await ApiAssert.ErrorAsync(again, 429, "rate_limit_exceeded");
        Assert.NotNull(again.Headers.RetryAfter);
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
