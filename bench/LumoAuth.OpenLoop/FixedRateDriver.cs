using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;

namespace LumoAuth.OpenLoop;

/// <summary>
/// Each connection owns every N-th slot of a fixed schedule (rate / N per connection) and sends one request
/// at a time: when it is free at a slot's time it sends then, when it is late it sends at once, and the
/// latency still counts from the slot's time. So a slow answer shows up in the latencies of every request
/// it delayed (no coordinated omission), and the requests in flight stay bounded by the connections.
/// Sending stops when the time is up: slots the server was too slow to reach are counted as unsent.
/// </summary>
public sealed class FixedRateDriver(LoadOptions options) : IDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = options.Connections,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        UseCookies = false,
        UseProxy = false,
    })
    { Timeout = Timeout.InfiniteTimeSpan };

    private readonly byte[][] _bodies = [.. options.Bodies.Select(Encoding.UTF8.GetBytes)];
    private static readonly MediaTypeHeaderValue Json = new("application/json");

    public async Task<LoadResult> RunAsync(int seconds)
    {
        var perConnection = Enumerable.Range(0, options.Connections).Select(_ => new ConnectionLog()).ToArray();
        var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 100; // 10 ms for every connection to be ready
        var end = start + (seconds * Stopwatch.Frequency);
        var slotTicks = Stopwatch.Frequency / options.Rate;
        await Task.WhenAll(perConnection.Select((log, k) => Task.Run(() => ConnectionLoopAsync(k, log, start, end, slotTicks))));
        var finished = perConnection.Max(l => l.LastCompletion);
        return LoadResult.From(perConnection, TimeSpanOf(Math.Max(finished, end) - start));
    }

    private async Task ConnectionLoopAsync(int connection, ConnectionLog log, long start, long end, double slotTicks)
    {
        for (long slot = connection; ; slot += options.Connections)
        {
            var scheduled = start + (long)(slot * slotTicks);
            if (scheduled >= end)
            {
                return;
            }

            var now = Stopwatch.GetTimestamp();
            if (now >= end)
            {
                // The time is up while this connection is still behind: what it never sent is reported.
                log.Unsent += 1 + (long)((end - scheduled) / (slotTicks * options.Connections));
                return;
            }

            if (scheduled > now)
            {
                // Whole milliseconds rounded up: never early; how late the timer woke is reported as send lag.
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Ceiling(TimeSpanOf(scheduled - now).TotalMilliseconds)));
            }

            var sent = Stopwatch.GetTimestamp();
            var error = await SendAsync(_bodies[slot % _bodies.Length]);
            var done = Stopwatch.GetTimestamp();
            log.LastCompletion = done;
            if (error is null)
            {
                log.FromSchedule.Add(TimeSpanOf(done - scheduled).TotalMilliseconds);
                log.Service.Add(TimeSpanOf(done - sent).TotalMilliseconds);
                log.SendLag.Add(TimeSpanOf(sent - scheduled).TotalMilliseconds);
            }
            else
            {
                log.Errors++;
                log.FirstError ??= error;
            }
        }
    }

    /// <summary>One request; null when it succeeded, else why it did not.</summary>
    private async Task<string?> SendAsync(byte[] body)
    {
        using var timeout = new CancellationTokenSource(RequestTimeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, options.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = Json;
        foreach (var (name, value) in options.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token);
            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                return $"HTTP {(int)response.StatusCode}: {Truncate(text)}";
            }

            return options.Expect is { } expected && !text.Contains(expected, StringComparison.Ordinal)
                ? $"answer without '{expected}': {Truncate(text)}"
                : null;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
        {
            return ex.GetType().Name + ": " + ex.Message;
        }
    }

    private static string Truncate(string text) => text.Length <= 200 ? text : text[..200] + "…";

    private static TimeSpan TimeSpanOf(long ticks) => TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency);

    public void Dispose() => _http.Dispose();
}

/// <summary>What one connection saw; only its own task writes it.</summary>
public sealed class ConnectionLog
{
    public List<double> FromSchedule { get; } = new(4096);

    public List<double> Service { get; } = new(4096);

    public List<double> SendLag { get; } = new(4096);

    public long Errors { get; set; }

    public long Unsent { get; set; }

    public string? FirstError { get; set; }

    public long LastCompletion { get; set; }
}
