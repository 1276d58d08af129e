extern alias TokenService;

using System.Net;
using System.Net.Sockets;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.Testing;
using LumoAuth.Token.Data;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.BrowserTests;

/// <summary>
/// The token service on a real loopback port (a browser cannot reach an in-memory test server) beside the
/// real admin service, which it reaches over its internal client as in production.
/// </summary>
public sealed class BrowserSuite : IAsyncLifetime
{
    public AdminFactory Admin { get; } = new();

    public KestrelTokenFactory Token { get; private set; } = null!;

    public string TokenBaseUrl { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        await Admin.InitializeAsync();
        var port = FreePort();
        TokenBaseUrl = $"http://127.0.0.1:{port}";
        Token = new KestrelTokenFactory(Admin) { PublicBaseUrl = TokenBaseUrl };
        Token.UseKestrel(port);
        await Token.InitializeAsync();
        Token.StartServer();
    }

    public async Task DisposeAsync()
    {
        await Token.DisposeAsync();
        await Admin.DisposeAsync();
    }

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

public sealed class KestrelTokenFactory(AdminFactory admin)
    : ServiceFactory<TokenService::Program, TokenDbContext>(ServiceNames.TokenDb, admin.MessagingPrefix)
{
    protected override void ConfigureServices(IServiceCollection services) =>
        services.AddHttpClient(InternalClients.Admin).ConfigurePrimaryHttpMessageHandler(admin.AdminHandler);
}
