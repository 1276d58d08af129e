using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using MimeKit;

namespace LumoAuth.Testing;

/// <summary>A mail as the receiver accepted it: the envelope and the parsed message.</summary>
public sealed record ReceivedMail(string From, IReadOnlyList<string> To, MimeMessage Message)
{
    public string Text => Message.TextBody ?? string.Empty;

    public string Html => Message.HtmlBody ?? string.Empty;

    public string? Kind => Message.Headers[LumoAuth.Admin.Features.Email.EmailKinds.Header];
}

/// <summary>
/// A minimal SMTP server on 127.0.0.1 (random port) for the tests: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
/// QUIT, no extensions (so no TLS, no pipelining). It can answer 451 to DATA for chosen recipients.
/// </summary>
public sealed class SmtpReceiver : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, int> _failuresLeft = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, int> _rejected = new(StringComparer.OrdinalIgnoreCase);
    private readonly Task _acceptLoop;

    private SmtpReceiver()
    {
        _listener.Start();
        _acceptLoop = AcceptAsync();
    }

    public static SmtpReceiver Start() => new();

    /// <summary>The admin service's settings that send its mail here.</summary>
    public Dictionary<string, string?> AdminSettings() => new()
    {
        ["Email:Host"] = "127.0.0.1",
        ["Email:Port"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Email:Sender"] = "no-reply@lumoauth.test",
        ["Email:Security"] = "None",
        ["Email:Timeout"] = "00:00:10",
    };

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public ConcurrentQueue<ReceivedMail> Received { get; } = new();

    /// <summary>The mails to <paramref name="address"/>, of one kind (<c>EmailKinds</c>) when given.</summary>
    public IReadOnlyList<ReceivedMail> To(string address, string? kind = null) =>
        Received.Where(m => m.To.Contains(address, StringComparer.OrdinalIgnoreCase) && (kind is null || m.Kind == kind)).ToList();

    /// <summary>Answers 451 to the next <paramref name="times"/> DATA commands of a transaction addressed to <paramref name="recipient"/>.</summary>
    public void FailDataFor(string recipient, int times) => _failuresLeft[recipient] = times;

    public int RejectedFor(string recipient) => _rejected.GetValueOrDefault(recipient);

    private async Task AcceptAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = Task.Run(() => ServeAsync(client));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        try
        {
            await using var stream = client.GetStream();
            using var reader = new StreamReader(stream, Encoding.Latin1);
            await using var writer = new StreamWriter(stream, Encoding.Latin1) { NewLine = "\r\n", AutoFlush = true };
            await writer.WriteLineAsync("220 localhost test SMTP");
            string? from = null;
            var to = new List<string>();
            while (await reader.ReadLineAsync(_stop.Token) is { } line)
            {
                var verb = line.Split(' ', 2)[0].ToUpperInvariant();
                switch (verb)
                {
                    case "EHLO":
                    case "HELO":
                        await writer.WriteLineAsync("250 localhost");
                        break;
                    case "MAIL":
                        (from, to) = (AddressIn(line), []);
                        await writer.WriteLineAsync("250 2.1.0 OK");
                        break;
                    case "RCPT":
                        to.Add(AddressIn(line));
                        await writer.WriteLineAsync("250 2.1.5 OK");
                        break;
                    case "DATA" when from is null || to.Count == 0:
                        await writer.WriteLineAsync("503 5.5.1 MAIL and RCPT first");
                        break;
                    case "DATA" when ShouldFail(to):
                        // As real servers do, the reply quotes the recipient.
                        await writer.WriteLineAsync($"451 4.3.0 <{to[0]}>: try again later");
                        break;
                    case "DATA":
                        await writer.WriteLineAsync("354 End data with <CR><LF>.<CR><LF>");
                        var message = await ReadDataAsync(reader);
                        Received.Enqueue(new ReceivedMail(from, to.ToList(), message));
                        (from, to) = (null, []);
                        await writer.WriteLineAsync("250 2.0.0 Queued");
                        break;
                    case "RSET":
                        (from, to) = (null, []);
                        await writer.WriteLineAsync("250 2.0.0 OK");
                        break;
                    case "NOOP":
                        await writer.WriteLineAsync("250 2.0.0 OK");
                        break;
                    case "QUIT":
                        await writer.WriteLineAsync("221 2.0.0 Bye");
                        return;
                    default:
                        await writer.WriteLineAsync("502 5.5.2 Command not implemented");
                        break;
                }
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client hung up (e.g. after a 451): nothing was accepted on this connection.
        }
    }

    private bool ShouldFail(List<string> to)
    {
        foreach (var recipient in to)
        {
            if (_failuresLeft.TryGetValue(recipient, out var left) && left > 0)
            {
                _failuresLeft[recipient] = left - 1;
                _rejected.AddOrUpdate(recipient, 1, (_, n) => n + 1);
                return true;
            }
        }

        return false;
    }

    private async Task<MimeMessage> ReadDataAsync(StreamReader reader)
    {
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(_stop.Token) is { } line && line != ".")
        {
            // Dot-stuffing (RFC 5321 §4.5.2): a leading dot was doubled by the client.
            data.Append(line.StartsWith("..", StringComparison.Ordinal) ? line[1..] : line).Append("\r\n");
        }

        using var content = new MemoryStream(Encoding.Latin1.GetBytes(data.ToString()));
        return await MimeMessage.LoadAsync(content);
    }

    private static string AddressIn(string command)
    {
        var start = command.IndexOf('<', StringComparison.Ordinal);
        var end = command.IndexOf('>', StringComparison.Ordinal);
        return start >= 0 && end > start ? command[(start + 1)..end] : string.Empty;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        _stop.Dispose();
    }
}
