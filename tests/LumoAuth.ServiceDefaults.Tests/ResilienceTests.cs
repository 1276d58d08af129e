using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using LumoAuth.ServiceDefaults.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Polly.CircuitBreaker;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>The HTTP clients every service gets from <c>AddServiceDefaults</c>, when one dependency fails hard.</summary>
public sealed class ResilienceTests : IAsyncDisposable
{
    private readonly WebApplication _servers;
    private readonly ConcurrentDictionary<string, int> _hits = new();

    public ResilienceTests()
    {
        // One local server on two ports: one a failing dependency (503), the other a healthy one.
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0", "http://127.0.0.1:0");
        _servers = builder.Build();
        _servers.Run(context =>
        {
            _hits.AddOrUpdate(context.Request.Method + " " + context.Request.Path, 1, (_, n) => n + 1);
            context.Response.Headers.RetryAfter = "0"; // no back-off between the retries this test counts
            context.Response.StatusCode = context.Connection.LocalPort == FailingPort ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
            return Task.CompletedTask;
        });
        _servers.StartAsync().GetAwaiter().GetResult();
        var ports = _servers.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a).Port).ToArray();
        FailingPort = ports[0];
        HealthyPort = ports[1];
    }

    private int FailingPort { get; }

    private int HealthyPort { get; }

    public async ValueTask DisposeAsync() => await _servers.DisposeAsync();

    [Fact]
    public async Task AnOpenCircuit_IsThatDependencysAlone_AndSurfacesAsHttpRequestException()
    {
        var host = Host.CreateApplicationBuilder();
        host.AddServiceDefaults();
        host.Services.AddHttpClient("failing", c => c.BaseAddress = new Uri($"http://127.0.0.1:{FailingPort}"));
        host.Services.AddHttpClient("healthy", c => c.BaseAddress = new Uri($"http://127.0.0.1:{HealthyPort}"));
        using var services = host.Build();
        var clients = services.Services.GetRequiredService<IHttpClientFactory>();

        // Enough failures at once to reach the breaker's minimum throughput: its circuit opens.
        var calls = Enumerable.Range(0, 120).Select(async _ =>
        {
            using var response = await clients.CreateClient("failing").GetAsync(new Uri("/", UriKind.Relative));
            return response.StatusCode;
        }).ToArray();
        var failures = new List<Exception>();
        foreach (var call in calls)
        {
            try
            {
                await call;
            }
            catch (Exception ex)
            {
                failures.Add(ex);
            }
        }

        Assert.NotEmpty(failures);
        Assert.All(failures, ex => Assert.IsType<HttpRequestException>(ex));
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => clients.CreateClient("failing").GetAsync(new Uri("/", UriKind.Relative)));
        Assert.IsType<BrokenCircuitException>(refused.InnerException);

        // Another dependency's calls go through: its circuit is its own.
        using var healthy = await clients.CreateClient("healthy").GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
    }

    [Fact]
    public async Task APost_IsSentOnce_UnlessItIsMarkedRepeatable_WhileIdempotentCallsAreRetried()
    {
        var host = Host.CreateApplicationBuilder();
        host.AddServiceDefaults();
        host.Services.AddHttpClient("failing", c => c.BaseAddress = new Uri($"http://127.0.0.1:{FailingPort}"));
        using var services = host.Build();
        var client = services.Services.GetRequiredService<IHttpClientFactory>().CreateClient("failing");

        using (await client.PostAsJsonAsync("/authenticate", new { password = "wrong" }))
        {
        }

        using (var marked = RepeatableRequests.PostJson("/roles-of", new { subject = "u1" }))
        using (await client.SendAsync(marked))
        {
        }

        using (await client.GetAsync(new Uri("/profile", UriKind.Relative)))
        {
        }

        Assert.Equal(1, _hits["POST /authenticate"]);
        Assert.Equal(4, _hits["POST /roles-of"]); // the first attempt and the standard handler's three retries
        Assert.Equal(4, _hits["GET /profile"]);
    }
}
