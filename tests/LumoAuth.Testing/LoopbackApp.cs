using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LumoAuth.Testing;

/// <summary>The small real web servers tests stand up for a third party (a webhook receiver, a breach list, a web site).</summary>
public static class LoopbackApp
{
    /// <summary>
    /// A quiet Kestrel app on 127.0.0.1 at a free port — HTTPS with <paramref name="certificate"/> when given — with the routes
    /// <paramref name="map"/> adds, started; returns it and its base URL (<c>http[s]://127.0.0.1:port</c>, no trailing slash).
    /// </summary>
    public static async Task<(WebApplication App, string BaseUrl)> StartAsync(Action<WebApplication> map, X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return (app, address.Replace("localhost", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/'));
    }

    /// <summary>
    /// A loopback port that refuses connections for as long as the result is held: a socket bound to it without
    /// listening, without address reuse, so no other test's server can take the port meanwhile.
    /// </summary>
    public static ClosedPort ClosedPort() => new();

    /// <summary>A loopback port free a moment ago, for a server that must know its port before it starts.</summary>
    public static int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}

/// <summary>See <see cref="LoopbackApp.ClosedPort"/>.</summary>
public sealed class ClosedPort : IDisposable
{
    private readonly System.Net.Sockets.Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    internal ClosedPort()
    {
        _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, false);
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public void Dispose() => _socket.Dispose();
}
