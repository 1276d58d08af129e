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
    private readonly HttpListener _listener;
    private readonly BlockingCollection<ReceivedCall> _calls = new();

    /// <param name="path">The path it listens on.</param>
    /// <param name="status">The status of every answer.</param>
    /// <param name="answerBytes">How big a body every answer carries (a server that talks too much).</param>
    public LoopbackReceiver(string path, int status = 200, int answerBytes = 0)
    {
        (_listener, Uri) = Listen(path);
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
                if (answerBytes > 0)
                {
                    try
                    {
                        await context.Response.OutputStream.WriteAsync(new byte[answerBytes]);
                    }
                    catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
                    {
                        // The caller hung up without reading the body: as it should.
                    }
                }

                context.Response.Close();
            }
        });
    }

    /// <summary>
    /// HttpListener must be told its port, so it takes one that was free a moment ago; should another test's server
    /// take it in between, it tries another.
    /// </summary>
    private static (HttpListener Listener, string Uri) Listen(string path)
    {
        for (var attempt = 1; ; attempt++)
        {
            var uri = $"http://127.0.0.1:{LoopbackApp.FreePort()}/{path.Trim('/')}/";
            var listener = new HttpListener();
            listener.Prefixes.Add(uri);
            try
            {
                listener.Start();
                return (listener, uri);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }

    public string Uri { get; }

    /// <summary>The next request taken (waiting up to 30 s for it).</summary>
    public Task<ReceivedCall> NextAsync() =>
        Task.Run(() => _calls.TryTake(out var call, TimeSpan.FromSeconds(30)) ? call : throw new TimeoutException($"nothing reached {Uri}"));

    /// <summary>Whether another request arrives within <paramref name="wait"/>.</summary>
    public bool TakesAnother(TimeSpan wait) => _calls.TryTake(out _, wait);

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
