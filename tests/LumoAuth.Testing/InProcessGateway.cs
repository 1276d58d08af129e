using System.Net;
using LumoAuth.Gateway;
using LumoAuth.ServiceDefaults;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Forwarder;

namespace LumoAuth.Testing;

/// <summary>
/// The real gateway (routes, internal-path blocker, error envelope, correlation, YARP forwarding) in
/// front of in-process services. Only the last hop is swapped: each cluster's forwarder sends to the
/// service's in-memory test server instead of a socket, so every service test request crosses the same
/// gateway code as production. Edge rate limits are off here (one test process is one caller for them);
/// <c>LumoAuth.Gateway.Tests</c> covers them.
/// </summary>
public sealed class InProcessGateway : IAsyncDisposable
{
    private static readonly string[] Clusters =
        [ServiceNames.Token, ServiceNames.Authorization, ServiceNames.Agents, ServiceNames.Federation, ServiceNames.Admin];

    private readonly WebApplicationFactory<InternalPathBlocker> _factory;

    public InProcessGateway(IReadOnlyDictionary<string, Func<HttpMessageHandler>> backends)
    {
        var invokers = new BackendInvokers(backends);
        _factory = new WebApplicationFactory<InternalPathBlocker>().WithWebHostBuilder(web =>
        {
            web.UseEnvironment("Testing");
            web.UseSetting("LumoAuth:InternalKey", TestInfrastructure.InternalKey);
            web.UseSetting("Gateway:RateLimits:Enabled", "false");
            foreach (var cluster in Clusters)
            {
                web.UseSetting($"services:{cluster}:http:0", "http://localhost");
            }

            web.ConfigureServices(services => services.AddSingleton<IForwarderHttpClientFactory>(invokers));
        });
    }

    /// <summary>A handler that enters the gateway (the innermost handler of a test client).</summary>
    public HttpMessageHandler CreateHandler() => _factory.Server.CreateHandler();

    public ValueTask DisposeAsync() => _factory.DisposeAsync();

    /// <summary>One invoker per cluster into its service's test server; a cluster with no service answers 503.</summary>
    private sealed class BackendInvokers(IReadOnlyDictionary<string, Func<HttpMessageHandler>> backends) : IForwarderHttpClientFactory
    {
        public HttpMessageInvoker CreateClient(ForwarderHttpClientContext context) =>
            new(backends.TryGetValue(context.ClusterId, out var backend) ? backend() : new Unavailable(), disposeHandler: false);
    }

    private sealed class Unavailable : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) { RequestMessage = request });
    }
}
