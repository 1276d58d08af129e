using LumoAuth.Agents.Data;
using LumoAuth.ServiceDefaults;
using System.Net.Http.Json;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LumoAuth.Authorization.Tests.Agents;

/// <summary>
/// The agents service beside a real admin (tenants, API keys, the audit log) and a real authorization service (agents'
/// roles), all three on one messaging prefix so each one's events reach the others.
/// </summary>
public sealed class AgentsSuite : IAsyncLifetime
{
    private readonly AdminWithAuthorization _inner = new();

    public AdminFactory Admin => _inner.Admin;

    public AuthorizationFactory Authorization => _inner.Authorization;

    public AgentsFactory Agents { get; private set; } = null!;

    /// <summary>The token service, which signs JIT tokens and introspects them.</summary>
    public TokenServiceFactory Token { get; private set; } = null!;

    /// <summary>Workload issuers' discovery documents and key sets, on https://127.0.0.1, trusted by the token service.</summary>
    public HttpsSite Issuers { get; } = new();

    /// <summary>A client of the agents service (through the gateway) with the tenant's API key.</summary>
    public HttpClient AdminClientFor(TestTenant tenant)
    {
        var client = Agents.CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        return client;
    }

    /// <summary>A browser of the token service's hosted pages (cookies kept, redirects not followed).</summary>
    public HttpClient Browser() => Token.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    /// <summary>A client of the agents service (through the gateway) that calls as the agent whose key it is.</summary>
    public HttpClient AgentClient(string key, System.Net.IPAddress? from = null)
    {
        var client = from is null ? Agents.CreateClient() : Agents.CreateClientFrom(from);
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>A confidential machine client of the tenant at the token service, enabled for client credentials and token exchange.</summary>
    public async Task<(string Id, string Secret)> AppClientAsync(TestTenant tenant)
    {
        using var tokenAdmin = Token.CreateClient();
        tokenAdmin.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        var client = (await ApiAssert.OkAsync(await tokenAdmin.PostAsJsonAsync($"{tenant.Api}/admin/clients", new
        {
            name = "Application",
            type = "m2m",
            grantTypes = new[] { "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange" },
        }), 201))["data"]!;
        return (client["clientId"]!.GetValue<string>(), client["secret"]!.GetValue<string>());
    }

    /// <summary>A form POST to one of the token service's endpoints (the token endpoint unless named), the client authenticating with Basic.</summary>
    public async Task<HttpResponseMessage> TokenRequestAsync(TestTenant tenant, string clientId, string secret, Dictionary<string, string> form, string endpoint = "oauth/token")
    {
        using var http = Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/{endpoint}") { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{clientId}:{secret}")));
        return await http.SendAsync(request);
    }

    public async Task InitializeAsync()
    {
        await _inner.InitializeAsync();
        await Issuers.StartAsync();
        Token = new TokenServiceFactory(Admin, () => Agents, Issuers);
        await Token.InitializeAsync();
        Agents = new AgentsFactory(Admin, Authorization, Token, Issuers);
        await Agents.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Agents.DisposeAsync();
        await Token.DisposeAsync();
        await _inner.DisposeAsync();
        await Issuers.DisposeAsync();
    }

    private sealed class AdminWithAuthorization() : AdminWithAuthorizationSuite(
        adminSettings: new Dictionary<string, string?> { ["RoleLookup:Timeout"] = "00:00:20", ["RoleLookup:Pause"] = "00:00:00" });
}

/// <summary>The agents service in-process; its internal clients reach the in-process admin and authorization services.</summary>
public sealed class AgentsFactory(AdminFactory admin, AuthorizationFactory authorization, TokenServiceFactory token, HttpsSite issuers)
    : ServiceFactory<AgentsDbContext, AgentsDbContext>(ServiceNames.AgentsDb, admin.MessagingPrefix)
{
    /// <summary>Callbacks go to a receiver on loopback.</summary>
    protected override IDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Agents:Jit:AllowPrivateCallbackTargets"] = "true",
        ["Agents:WorkloadIdentity:AllowPrivateIssuers"] = "true",
        ["Agents:AAuth:AllowPrivateTargets"] = "true",
    };

    /// <summary>Allow-lists are about the caller's address, so this suite's service believes the one the gateway forwards.</summary>
    protected override bool SeesGatewayOnLoopback => true;

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddHttpClient(InternalClients.Admin).ConfigurePrimaryHttpMessageHandler(admin.AdminHandler);
        services.AddHttpClient(InternalClients.Authorization).ConfigurePrimaryHttpMessageHandler(() => authorization.Server.CreateHandler());
        services.AddHttpClient(InternalClients.Token).ConfigurePrimaryHttpMessageHandler(() => token.Server.CreateHandler());
        // AAuth parties' key sets are served by the local https site.
        services.AddHttpClient(LumoAuth.ServiceDefaults.Security.OpenIdProviders.HttpClientName).ConfigurePrimaryHttpMessageHandler(issuers.TrustingHandler);
    }
}

/// <summary>
/// The token service in-process beside the real admin (tenants and API keys come from it) and the agents service (MCP
/// servers, workload trusts), which starts after it: its handler is asked for on first use. Workload issuers are a local
/// https site.
/// </summary>
public sealed class TokenServiceFactory(AdminFactory admin, Func<AgentsFactory> agents, HttpsSite issuers)
    : ServiceFactory<LumoAuth.Token.Data.TokenDbContext, LumoAuth.Token.Data.TokenDbContext>(ServiceNames.TokenDb, admin.MessagingPrefix)
{
    /// <summary>The token service's clock: a test moves it past the floor between two fetches of an issuer's keys.</summary>
    public MovableClock Clock { get; } = new();

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.Replace(ServiceDescriptor.Singleton<TimeProvider>(Clock));
        services.AddHttpClient(InternalClients.Admin).ConfigurePrimaryHttpMessageHandler(admin.AdminHandler);
        services.AddHttpClient(InternalClients.Agents).ConfigurePrimaryHttpMessageHandler(() => agents().Server.CreateHandler());
        services.AddHttpClient(LumoAuth.ServiceDefaults.Security.OpenIdProviders.HttpClientName).ConfigurePrimaryHttpMessageHandler(issuers.TrustingHandler);
    }
}
