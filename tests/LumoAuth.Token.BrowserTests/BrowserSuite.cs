extern alias TokenService;

using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.Testing;
using LumoAuth.Token.Data;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.BrowserTests;

/// <summary>
/// The gateway and the token service on real loopback ports (a browser cannot reach an in-memory test
/// server), beside the real admin service, which the token service reaches over its internal client as in
/// production. The browser and the relying party only ever talk to the gateway.
/// </summary>
public sealed class BrowserSuite : IAsyncLifetime
{
    public AdminFactory Admin { get; } = new();

    public KestrelTokenFactory Token { get; private set; } = null!;

    public InProcessGateway Gateway { get; private set; } = null!;

    /// <summary>The public base URL: the gateway's.</summary>
    public string GatewayBaseUrl => Gateway.BaseUrl!;

    public async Task InitializeAsync()
    {
        await Admin.InitializeAsync();
        var tokenPort = LoopbackApp.FreePort();
        var gatewayPort = LoopbackApp.FreePort();
        Token = new KestrelTokenFactory(Admin) { PublicBaseUrl = $"http://127.0.0.1:{gatewayPort}" };
        Token.UseKestrel(tokenPort);
        await Token.InitializeAsync();
        Token.StartServer();
        Gateway = new InProcessGateway(new Dictionary<string, GatewayBackend>
        {
            [ServiceNames.Token] = GatewayBackend.Socket($"http://127.0.0.1:{tokenPort}"),
            [ServiceNames.Admin] = GatewayBackend.InMemory(Admin.AdminHandler),
        }, gatewayPort);
    }

    /// <summary>A plain HTTP client to the gateway.</summary>
    public HttpClient Public() => new() { BaseAddress = new Uri(GatewayBaseUrl) };

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await Token.DisposeAsync();
        await Admin.DisposeAsync();
    }
}

public sealed class KestrelTokenFactory(AdminFactory admin)
    : ServiceFactory<TokenService::Program, TokenDbContext>(ServiceNames.TokenDb, admin.MessagingPrefix)
{
    protected override void ConfigureServices(IServiceCollection services) =>
        services.AddHttpClient(InternalClients.Admin).ConfigurePrimaryHttpMessageHandler(admin.AdminHandler);
}
