using System.Net;
using LumoAuth.Gateway;
using LumoAuth.Gateway.Forwarding;
using LumoAuth.ServiceDefaults;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Forwarder;

namespace LumoAuth.Testing;

/// <summary>
/// The real gateway (routes, internal-path blocker, error envelope, correlation, YARP forwarding) in
/// front of in-process services. Only the last hop is swapped: each cluster's forwarder sends (through the
/// gateway's <see cref="SmallBodyHandler"/>) to the service's in-memory test server instead of a socket, so every service test request crosses the same
/// gateway code as production. Edge rate limits are off here (one test process is one caller for them);
/// <c>LumoAuth.Gateway.Tests</c> covers them. With a port it listens on loopback for a real browser, and a
/// backend may then be a real listener too (<see cref="GatewayBackend.Socket"/>).
/// </summary>
public sealed class InProcessGateway : IAsyncDisposable
{
    private static readonly string[] Clusters =
        [ServiceNames.Token, ServiceNames.Authorization, ServiceNames.Agents, ServiceNames.Federation, ServiceNames.Admin];

    private readonly GatewayFactory _factory;

    public InProcessGateway(IReadOnlyDictionary<string, GatewayBackend> backends, int? port = null)
    {
        _factory = new GatewayFactory(backends);
        if (port is { } listenOn)
        {
            _factory.UseKestrel(listenOn);
            _factory.StartServer();
            BaseUrl = $"http://127.0.0.1:{listenOn}";
        }
    }

    /// <summary>Where a real client reaches it (only with a port; otherwise use <see cref="CreateHandler"/>).</summary>
    public string? BaseUrl { get; }

    /// <summary>A handler that enters the in-memory gateway (the innermost handler of a test client).</summary>
    public HttpMessageHandler CreateHandler() => _factory.Server.CreateHandler();

    /// <summary>A handler whose requests reach the gateway from <paramref name="client"/>, as a caller on the network's would.</summary>
    public HttpMessageHandler CreateHandler(IPAddress client) => _factory.Server.CreateHandler(context => context.Connection.RemoteIpAddress = client);

    public ValueTask DisposeAsync() => _factory.DisposeAsync();

    /// <summary>Loads admin's verified custom domains into the gateway now (it otherwise polls; with an admin backend only).</summary>
    public Task RefreshCustomDomainsAsync() =>
        _factory.Services.GetRequiredService<LumoAuth.Gateway.CustomDomains.CustomDomainMap>().RefreshAsync(CancellationToken.None);

    private sealed class GatewayFactory(IReadOnlyDictionary<string, GatewayBackend> backends) : WebApplicationFactory<InternalPathBlocker>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseEnvironment("Testing");
            builder.QuietConsole();
            builder.UseSetting("LumoAuth:InternalKey", TestInfrastructure.InternalKey);
            builder.UseSetting("LumoAuth:GatewayKey", TestInfrastructure.GatewayKey);
            builder.UseSetting("Gateway:RateLimits:Enabled", "false");
            foreach (var cluster in Clusters)
            {
                var address = backends.TryGetValue(cluster, out var backend) ? backend.Address : "http://localhost";
                builder.UseSetting($"services:{cluster}:http:0", address);
            }

            // The custom domain map comes from admin's internal API, when admin is one of the backends; tests load it on demand.
            var admin = backends.GetValueOrDefault(ServiceNames.Admin);
            builder.UseSetting("Gateway:CustomDomains:Enabled", admin is null ? "false" : "true");
            builder.UseSetting("Gateway:CustomDomains:RefreshInterval", "01:00:00");
            var invokers = new BackendInvokers(backends);
            builder.ConfigureServices(services =>
            {
                services.AddSingleton<IForwarderHttpClientFactory>(invokers);
                if (admin is not null)
                {
                    services.AddHttpClient(LumoAuth.Gateway.CustomDomains.CustomDomainMap.AdminClient).ConfigurePrimaryHttpMessageHandler(admin.Handler);
                }
            });
        }
    }

    /// <summary>One invoker per cluster into its service; a cluster with no service answers 503.</summary>
    private sealed class BackendInvokers(IReadOnlyDictionary<string, GatewayBackend> backends) : IForwarderHttpClientFactory
    {
        public HttpMessageInvoker CreateClient(ForwarderHttpClientContext context) =>
            new(new SmallBodyHandler { InnerHandler = backends.TryGetValue(context.ClusterId, out var backend) ? backend.Handler() : new Unavailable() }, disposeHandler: false);
    }

    private sealed class Unavailable : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { RequestMessage = request });
    }
}

/// <summary>Where the gateway sends one cluster's requests, and through which handler.</summary>
public sealed record GatewayBackend(string Address, Func<HttpMessageHandler> Handler)
{
    /// <summary>An in-memory test server.</summary>
    public static GatewayBackend InMemory(Func<HttpMessageHandler> handler) => new("http://localhost", handler);

    /// <summary>A service listening on a real loopback port.</summary>
    public static GatewayBackend Socket(string baseUrl) =>
        new(baseUrl, () => new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false });
}
