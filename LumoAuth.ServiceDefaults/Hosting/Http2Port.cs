using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LumoAuth.ServiceDefaults.Hosting;

/// <summary>
/// A second port on which a service speaks HTTP/2 without TLS (h2c, prior knowledge), for the gateway. Over HTTP/2 the
/// gateway carries many forwarded requests on one connection and writes and reads them in fewer system calls: about a
/// third less gateway CPU per request than over HTTP/1.1 (bench/README.md, step 16). Kestrel cannot offer both versions
/// on one cleartext port (without TLS there is no ALPN to choose by), so this port, named by <c>LumoAuth:Http2Port</c>
/// and listed among the service's URLs, takes HTTP/2 only, and the first port stays HTTP/1.1 for every other caller.
/// Service discovery knows it as the service's <c>h2c</c> endpoint (<c>services:{name}:h2c:0</c>).
/// </summary>
public static class Http2Port
{
    public const string Setting = "LumoAuth:Http2Port";

    /// <summary>The endpoint's name in the AppHost and in service discovery.</summary>
    public const string EndpointName = "h2c";

    /// <summary>Kestrel's default bound on all of a request's headers, which the gateway keeps at its edge.</summary>
    public const int EdgeHeadersLimit = 32 * 1024;

    /// <summary>Makes the endpoint on the configured port HTTP/2-only; without the setting nothing changes.</summary>
    public static TBuilder AddHttp2Port<TBuilder>(this TBuilder builder)
        where TBuilder : IHostApplicationBuilder
    {
        if (builder.Configuration.GetValue<int?>(Setting) is not { } port)
        {
            return builder;
        }

        builder.Services.Configure<KestrelServerOptions>(kestrel =>
        {
            // The gateway adds its own headers (forwarding, trace, correlation, client certificate) to a caller's, which
            // its edge bounds at Kestrel's 32 KB, so a request the edge let in could still be refused here (431) once it
            // grew. Behind the gateway a service allows twice the edge's bound: what the edge let in crosses the hop.
            kestrel.Limits.MaxRequestHeadersTotalSize = 2 * EdgeHeadersLimit;
            kestrel.ConfigureEndpointDefaults(listen =>
            {
                if (listen.IPEndPoint?.Port == port)
                {
                    listen.Protocols = HttpProtocols.Http2;
                }
            });
        });
        return builder;
    }
}
