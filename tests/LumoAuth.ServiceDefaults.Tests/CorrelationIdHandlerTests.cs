using LumoAuth.ServiceDefaults.Correlation;
using LumoAuth.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>
/// Internal calls carry the caller's correlation id, so the callee (and the events it records) use the same one. Header
/// plumbing only: the outgoing request is captured before it would leave the process.
/// </summary>
public sealed class CorrelationIdHandlerTests
{
    [Fact]
    public async Task InternalCall_DuringARequest_CarriesTheRequestsCorrelationId()
    {
        var sent = await SendDuringRequestAsync("checkout-42", new HttpRequestMessage(HttpMethod.Post, "http://admin/internal/v1/users/authenticate"));

        Assert.Equal("checkout-42", Assert.Single(sent.Headers.GetValues(CorrelationMiddleware.HeaderName)));
    }

    [Fact]
    public async Task InternalCall_ThatSetsItsOwnCorrelationId_KeepsIt()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "http://admin/internal/v1/tenants");
        request.Headers.Add(CorrelationMiddleware.HeaderName, "explicit-1");

        var sent = await SendDuringRequestAsync("checkout-42", request);

        Assert.Equal("explicit-1", Assert.Single(sent.Headers.GetValues(CorrelationMiddleware.HeaderName)));
    }

    [Fact]
    public async Task InternalCall_OutsideARequest_CarriesNoCorrelationId()
    {
        var capture = new CapturingHandler();
        using var invoker = new HttpMessageInvoker(new CorrelationIdHandler(new HttpContextAccessor()) { InnerHandler = capture });

        await invoker.SendAsync(new HttpRequestMessage(HttpMethod.Get, "http://admin/internal/v1/tenants"), CancellationToken.None);

        Assert.False(capture.Request!.Headers.Contains(CorrelationMiddleware.HeaderName));
    }

    [Theory]
    [InlineData(InternalClients.Admin)]
    [InlineData(InternalClients.Token)]
    [InlineData(InternalClients.Authorization)]
    [InlineData(InternalClients.Agents)]
    public async Task EveryInternalClient_ForwardsTheCorrelationId(string clientName)
    {
        var capture = new CapturingHandler();
        var services = new ServiceCollection();
        services.AddInternalClients();
        services.Configure<LumoAuthOptions>(o => o.InternalKey = new string('k', 32));
        services.AddHttpClient(clientName).ConfigurePrimaryHttpMessageHandler(() => capture);
        await using var provider = services.BuildServiceProvider();
        var accessor = provider.GetRequiredService<IHttpContextAccessor>();

        await RunRequestAsync("login-7", accessor, async () =>
        {
            using var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient(clientName);
            await client.GetAsync(new Uri("/internal/v1/ping", UriKind.Relative));
        });

        Assert.Equal("login-7", Assert.Single(capture.Request!.Headers.GetValues(CorrelationMiddleware.HeaderName)));
    }

    private static async Task<HttpRequestMessage> SendDuringRequestAsync(string correlationId, HttpRequestMessage request)
    {
        var accessor = new HttpContextAccessor();
        var capture = new CapturingHandler();
        using var invoker = new HttpMessageInvoker(new CorrelationIdHandler(accessor) { InnerHandler = capture });
        await RunRequestAsync(correlationId, accessor, () => invoker.SendAsync(request, CancellationToken.None));
        return capture.Request!;
    }

    /// <summary>Runs <paramref name="during"/> inside a request that came in with the correlation id, as the middleware sees it.</summary>
    private static async Task RunRequestAsync(string correlationId, IHttpContextAccessor accessor, Func<Task> during)
    {
        var http = new DefaultHttpContext();
        http.Request.Headers[CorrelationMiddleware.HeaderName] = correlationId;
        accessor.HttpContext = http;
        try
        {
            var middleware = new CorrelationMiddleware(_ => during(), NullLogger<CorrelationMiddleware>.Instance);
            await middleware.InvokeAsync(http);
        }
        finally
        {
            accessor.HttpContext = null;
        }
    }

    private sealed class CapturingHandler : HttpMessageHandler
    {
        public HttpRequestMessage? Request { get; private set; }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Request = request;
            return Task.FromResult(new HttpResponseMessage(System.Net.HttpStatusCode.OK));
        }
    }
}
