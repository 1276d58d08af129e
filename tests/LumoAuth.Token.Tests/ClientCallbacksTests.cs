using System.Net;
using LumoAuth.Testing;
using LumoAuth.Token.Protocol;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Calls to a client's server that stopped answering are skipped for a while after a few in a row got nothing, so its
/// deliveries stop holding the delivery slots every tenant shares; an answer of any status resumes them.
/// </summary>
public sealed class ClientCallbacksTests
{
    private readonly MovableClock _clock = new();
    private readonly Transport _transport = new();
    private readonly ClientCallbacks _callbacks;

    public ClientCallbacksTests()
    {
        var services = new ServiceCollection();
        services.AddHttpClient(ClientCallbacks.HttpClientName).ConfigurePrimaryHttpMessageHandler(() => _transport);
        _callbacks = new ClientCallbacks(services.BuildServiceProvider().GetRequiredService<IHttpClientFactory>(), _clock);
    }

    [Fact]
    public async Task SilentServer_IsSkippedAfterFiveCallsInARow_ThenTriedAgainAfterAMinute()
    {
        _transport.Answering = false;
        for (var i = 0; i < ClientCallbacks.FailuresToSkip; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => SendAsync("https://rp.example.com/logout"));
        }

        Assert.Null(await SendAsync("https://rp.example.com/logout"));
        Assert.Null(await SendAsync("https://rp.example.com:443/other-path"));
        Assert.Equal(ClientCallbacks.FailuresToSkip, _transport.Calls);

        // Another origin (another port too) is not held to it.
        await Assert.ThrowsAsync<HttpRequestException>(() => SendAsync("https://rp.example.com:8443/logout"));
        Assert.Equal(ClientCallbacks.FailuresToSkip + 1, _transport.Calls);

        // After the pause one call is tried; still silent, the origin is skipped again at once.
        _clock.Advance(ClientCallbacks.SkipFor + TimeSpan.FromSeconds(1));
        await Assert.ThrowsAsync<HttpRequestException>(() => SendAsync("https://rp.example.com/logout"));
        Assert.Null(await SendAsync("https://rp.example.com/logout"));

        // Back: the next try after a pause gets through, and calls go on.
        _clock.Advance(ClientCallbacks.SkipFor + TimeSpan.FromSeconds(1));
        _transport.Answering = true;
        using (var answer = await SendAsync("https://rp.example.com/logout"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, answer!.StatusCode);
        }

        using var next = await SendAsync("https://rp.example.com/logout");
        Assert.NotNull(next);
    }

    [Fact]
    public async Task AnAnswer_StartsTheCountAgain()
    {
        _transport.Answering = false;
        for (var i = 0; i < ClientCallbacks.FailuresToSkip - 1; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => SendAsync("https://rp.example.com/ping"));
        }

        _transport.Answering = true;
        (await SendAsync("https://rp.example.com/ping"))!.Dispose();
        _transport.Answering = false;
        for (var i = 0; i < ClientCallbacks.FailuresToSkip - 1; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => SendAsync("https://rp.example.com/ping"));
        }

        await Assert.ThrowsAsync<HttpRequestException>(() => SendAsync("https://rp.example.com/ping"));
        Assert.Equal(2 * ClientCallbacks.FailuresToSkip, _transport.Calls);
    }

    private Task<HttpResponseMessage?> SendAsync(string url)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url);
        return _callbacks.SendAsync(request, CancellationToken.None);
    }

    /// <summary>The network: a server that answers 400 (any answer counts), or none that does.</summary>
    private sealed class Transport : HttpMessageHandler
    {
        private int _calls;

        public bool Answering { get; set; }

        public int Calls => Volatile.Read(ref _calls);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            return Answering
                ? Task.FromResult(new HttpResponseMessage(HttpStatusCode.BadRequest))
                : Task.FromException<HttpResponseMessage>(new HttpRequestException("Connection refused"));
        }
    }
}
