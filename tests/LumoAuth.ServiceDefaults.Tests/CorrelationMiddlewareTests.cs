using LumoAuth.ServiceDefaults.Correlation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>The caller's <c>X-Request-ID</c> is echoed (AuthZEN 1.0 §Request Identification) only when it is short, visible ASCII.</summary>
public sealed class CorrelationMiddlewareTests
{
    [Theory]
    [InlineData("bfe9eb29-ab87-4ca3-be83-a1d5d8305716")]
    [InlineData("req:42/\"quoted\"{braces}~!")]
    public async Task RequestId_IsEchoed_AndLoggedInTheScope(string requestId)
    {
        var (http, logger) = await RunAsync(requestId);

        Assert.Equal(requestId, http.Response.Headers[CorrelationMiddleware.RequestIdHeaderName].ToString());
        Assert.Equal(requestId, logger.Scope!["CallerRequestId"]);
        Assert.False(string.IsNullOrEmpty(http.Response.Headers[CorrelationMiddleware.HeaderName].ToString()));
    }

    [Fact]
    public async Task RequestId_OfExactly128Characters_IsEchoed()
    {
        var (http, _) = await RunAsync(new string('a', CorrelationMiddleware.MaxRequestIdLength));

        Assert.Equal(CorrelationMiddleware.MaxRequestIdLength, http.Response.Headers[CorrelationMiddleware.RequestIdHeaderName].ToString().Length);
    }

    [Theory]
    [InlineData("")]
    [InlineData("with space")]
    [InlineData("tab\there")]
    [InlineData("new\r\nline")]
    [InlineData("caf\u00e9")]
    [InlineData("del\u007f")]
    public async Task RequestId_ThatIsNotVisibleAscii_IsIgnored(string requestId)
    {
        var (http, logger) = await RunAsync(requestId);

        Assert.False(http.Response.Headers.ContainsKey(CorrelationMiddleware.RequestIdHeaderName));
        Assert.False(logger.Scope!.ContainsKey("CallerRequestId"));
    }

    [Fact]
    public async Task RequestId_LongerThan128Characters_IsNeitherEchoedNorLogged()
    {
        var (http, logger) = await RunAsync(new string('a', CorrelationMiddleware.MaxRequestIdLength + 1));

        Assert.False(http.Response.Headers.ContainsKey(CorrelationMiddleware.RequestIdHeaderName));
        Assert.False(logger.Scope!.ContainsKey("CallerRequestId"));
    }

    [Fact]
    public async Task TwoRequestIds_AreIgnored()
    {
        var (http, _) = await RunAsync("a", "b");

        Assert.False(http.Response.Headers.ContainsKey(CorrelationMiddleware.RequestIdHeaderName));
    }

    [Fact]
    public async Task WithoutARequestId_NoneIsSent()
    {
        var (http, logger) = await RunAsync();

        Assert.False(http.Response.Headers.ContainsKey(CorrelationMiddleware.RequestIdHeaderName));
        Assert.True(logger.Scope!.ContainsKey("CorrelationId"));
    }

    private static async Task<(HttpContext Http, ScopeLogger Logger)> RunAsync(params string[] requestIds)
    {
        var http = new DefaultHttpContext();
        var response = new StartingResponseFeature();
        http.Features.Set<IHttpResponseFeature>(response);
        if (requestIds.Length > 0)
        {
            http.Request.Headers[CorrelationMiddleware.RequestIdHeaderName] = requestIds;
        }

        var logger = new ScopeLogger();
        await new CorrelationMiddleware(_ => Task.CompletedTask, logger).InvokeAsync(http);
        await response.StartAsync();
        return (http, logger);
    }

    /// <summary>A response whose OnStarting callbacks run when the test says the response starts.</summary>
    private sealed class StartingResponseFeature : HttpResponseFeature
    {
        private readonly List<(Func<object, Task> Callback, object State)> _starting = [];

        public override void OnStarting(Func<object, Task> callback, object state) => _starting.Add((callback, state));

        public async Task StartAsync()
        {
            foreach (var (callback, state) in Enumerable.Reverse(_starting))
            {
                await callback(state);
            }
        }
    }

    private sealed class ScopeLogger : ILogger<CorrelationMiddleware>
    {
        public IReadOnlyDictionary<string, object>? Scope { get; private set; }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
        {
            Scope = state as IReadOnlyDictionary<string, object>;
            return null;
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
        }
    }
}
