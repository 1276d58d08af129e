using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The token service calls a client's back-channel logout URI itself, so by default that URI may not point into the
/// deployment's own network: refused when registered, and refused again when connecting (DNS may change).
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class BackchannelLogoutTargetTests(TokenSuite suite)
{
    [Theory]
    [InlineData("http://127.0.0.1:9/backchannel")]
    [InlineData("http://localhost:9/backchannel")]
    [InlineData("https://169.254.169.254/latest/meta-data")]
    [InlineData("https://10.1.2.3/logout")]
    [InlineData("https://[::1]/logout")]
    [InlineData("https://admin/logout")]
    public async Task PrivateOrLoopbackTarget_IsRefusedAtRegistration(string target)
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);

        using var response = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new
        {
            name = "Probe", applicationType = "web", redirectUris = new[] { "https://rp.example.com/cb" },
            grantTypes = new[] { "authorization_code" }, allowedScopes = new[] { "openid" }, backchannelLogoutUri = target,
        });

        var body = await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.Contains("backchannelLogoutUri", body.GetRawText(), StringComparison.Ordinal);
    }

    /// <summary>
    /// The clients that call URLs tenants or callers choose go straight to the guarded socket handler: no service discovery
    /// (which would make <c>https://admin/…</c> one of our services before the guard sees it) and no resilience pipeline.
    /// </summary>
    [Theory]
    [InlineData(LumoAuth.Token.Protocol.ClientCallbacks.HttpClientName)]
    [InlineData(LumoAuth.Token.Features.Clients.ClientMetadataDocuments.HttpClientName)]
    public void OutsideTargetClient_HasOnlyTheGuardedHandler(string name)
    {
        var factory = (IHttpMessageHandlerFactory)suite.Token.Services.GetService(typeof(IHttpMessageHandlerFactory))!;
        List<HttpMessageHandler> ChainOf(string client)
        {
            var chain = new List<HttpMessageHandler>();
            for (HttpMessageHandler? handler = factory.CreateHandler(client); handler is not null; handler = (handler as DelegatingHandler)?.InnerHandler)
            {
                chain.Add(handler);
            }

            return chain;
        }

        // What every other client has, so the check below looks for something real.
        Assert.Contains(ChainOf(LumoAuth.ServiceDefaults.Http.InternalClients.Admin), LumoAuth.ServiceDefaults.Http.OutsideTargets.IsServiceDiscovery);
        var chain = ChainOf(name);
        Assert.DoesNotContain(chain, LumoAuth.ServiceDefaults.Http.OutsideTargets.IsServiceDiscovery);
        Assert.DoesNotContain(chain, h => h.GetType().Namespace!.StartsWith("Microsoft.Extensions.Http.Resilience", StringComparison.Ordinal));
        Assert.IsType<SocketsHttpHandler>(chain[^1]);
    }

    [Fact]
    public async Task GuardedHandler_WillNotConnectToLoopback()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var guarded = new HttpClient(SsrfGuard.Handler(allowPrivateTargets: false));
        using var open = new HttpClient(SsrfGuard.Handler(allowPrivateTargets: true)) { Timeout = TimeSpan.FromSeconds(2) };

        await Assert.ThrowsAsync<HttpRequestException>(() => guarded.PostAsync($"http://127.0.0.1:{port}/", new StringContent("x")));
        // The same target with private targets allowed gets as far as connecting (the listener never answers).
        var accepted = listener.AcceptTcpClientAsync();
        _ = open.PostAsync($"http://127.0.0.1:{port}/", new StringContent("x"));
        using var connection = await accepted.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(connection.Connected);
    }
}
