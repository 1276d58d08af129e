using System.Net;
using LumoAuth.Gateway;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Hosting;
using LumoAuth.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Gateway.Tests;

/// <summary>
/// The real gateway in-process, its five clusters pointed (through service discovery configuration) at
/// five loopback listeners that answer with the name of the service they stand for and the path, protocol and
/// headers they received. Token's listener also has an HTTP/2-only port (<see cref="Http2Port"/>) that service
/// discovery names as its h2c endpoint, as the AppHost deploys every service; the others are HTTP/1.1 only.
/// </summary>
public class GatewayFixture : IAsyncLifetime
{
    private static readonly string[] Services =
        [ServiceNames.Token, ServiceNames.Authorization, ServiceNames.Agents, ServiceNames.Federation, ServiceNames.Admin];

    private WebApplication _backends = null!;

    public WebApplicationFactory<InternalPathBlocker> Gateway { get; private set; } = null!;

    /// <summary>Extra gateway settings (a subclass lowers rate limits).</summary>
    protected virtual IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        // The HTTP/2 port must be named before the listeners start: should another test's server take it in between, try another.
        int tokenHttp2Port;
        var names = new Dictionary<int, string>();
        for (var attempt = 1; ; attempt++)
        {
            tokenHttp2Port = LoopbackApp.FreePort();
            names[tokenHttp2Port] = ServiceNames.Token;
            var builder = WebApplication.CreateSlimBuilder();
            builder.Configuration[Http2Port.Setting] = tokenHttp2Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            builder.AddHttp2Port();
            builder.WebHost.UseUrls([.. Services.Select(_ => "http://127.0.0.1:0"), $"http://127.0.0.1:{tokenHttp2Port}"]);
            _backends = builder.Build();
            _backends.Run(async context =>
            {
                context.Response.Headers["X-Backend"] = names[context.Connection.LocalPort];
                context.Response.Headers["X-Seen-Path"] = context.Request.Path.Value;
                context.Response.Headers["X-Seen-Protocol"] = context.Request.Protocol;
                context.Response.Headers["X-Seen-Correlation"] = context.Request.Headers["X-Correlation-Id"].ToString();
                context.Response.Headers["X-Seen-Forwarded"] = string.Join(";", context.Request.Headers
                    .Where(h => h.Key.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase))
                    .OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase)
                    .Select(h => $"{h.Key.ToLowerInvariant()}={h.Value}"));
                if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true)
                {
                    using var body = new MemoryStream();
                    await context.Request.Body.CopyToAsync(body);
                    context.Response.Headers["X-Seen-Body-Length"] = body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    context.Response.Headers["X-Seen-Body-Sha256"] = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(body.ToArray()));
                    context.Response.Headers["X-Seen-Content-Type"] = context.Request.ContentType;
                }
            });
            try
            {
                await _backends.StartAsync();
                break;
            }
            catch (IOException) when (attempt < 5)
            {
                await _backends.DisposeAsync();
                names.Clear();
            }
        }

        var addresses = _backends.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => new Uri(a)).Where(a => a.Port != tokenHttp2Port).ToList();
        for (var i = 0; i < addresses.Count; i++)
        {
            names[addresses[i].Port] = Services[i];
        }

        Gateway = new WebApplicationFactory<InternalPathBlocker>().WithWebHostBuilder(web =>
        {
            web.UseSetting("LumoAuth:InternalKey", TestInfrastructure.InternalKey);
            foreach (var (key, value) in Settings)
            {
                web.UseSetting(key, value);
            }

            for (var i = 0; i < Services.Length; i++)
            {
                web.UseSetting($"services:{Services[i]}:http:0", addresses[i].ToString());
            }

            web.UseSetting($"services:{ServiceNames.Token}:{Http2Port.EndpointName}:0", $"http://127.0.0.1:{tokenHttp2Port}");
        });
    }

    public virtual async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await _backends.DisposeAsync();
    }
}
