using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace LumoAuth.Testing;

/// <summary>A request a <see cref="LoopbackReceiver"/> took: its <c>Authorization</c> header and body.</summary>
public sealed record ReceivedCall(string? Authorization, string Body);

/// <summary>
/// A client's server on 127.0.0.1, for the calls our services make to clients (back-channel logout tokens, CIBA pings):
/// it records every request and answers <c>status</c>. The services under test must be allowed private targets.
/// </summary>
public sealed class LoopbackReceiver : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly BlockingCollection<ReceivedCall> _calls = new();

    public LoopbackReceiver(string path, int status = 200)
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Uri = $"http://127.0.0.1:{port}/{path.Trim('/')}/";
        _listener.Prefixes.Add(Uri);
        _listener.Start();
        _ = Task.Run(async () =>
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                using var reader = new StreamReader(context.Request.InputStream);
                _calls.Add(new ReceivedCall(context.Request.Headers["Authorization"], await reader.ReadToEndAsync()));
                context.Response.StatusCode = status;
                context.Response.Close();
            }
        });
    }

    public string Uri { get; }

    /// <summary>The next request taken (waiting up to 30 s for it).</summary>
    public Task<ReceivedCall> NextAsync() =>
        Task.Run(() => _calls.TryTake(out var call, TimeSpan.FromSeconds(30)) ? call : throw new TimeoutException($"nothing reached {Uri}"));

    public void Dispose()
    {
        if (_listener.IsListening)
        {
            _listener.Stop();
        }

        _listener.Close();
        _calls.Dispose();
    }
}
