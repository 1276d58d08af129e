using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;

namespace LumoAuth.Token.Benchmarks;

/// <summary>
/// A bounded closed-loop load on a running token service: <c>connections</c> workers each post
/// client-credentials requests back to back for <c>seconds</c>, then the rate, latency percentiles and
/// error count are printed. Loopback only by intent; it is a measuring tool, not a stress test.
/// </summary>
public static class HttpLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length < 3)
        {
            await Console.Error.WriteLineAsync("usage: http <issuer> <client_id> <client_secret> [connections=64] [seconds=20]");
            return 2;
        }

        var tokenEndpoint = new Uri(args[0].TrimEnd('/') + "/oauth/token");
        var basic = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(
            Uri.EscapeDataString(args[1]) + ":" + Uri.EscapeDataString(args[2]))));
        var connections = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 64;
        var seconds = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 20;

        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        using var http = new HttpClient(handler);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var latencies = new List<double>[connections];
        var errors = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async worker =>
        {
            var mine = latencies[worker] = new List<double>(4096);
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                using var request = new HttpRequestMessage(HttpMethod.Post, tokenEndpoint)
                {
                    Content = new FormUrlEncodedContent([new("grant_type", "client_credentials")]),
                };
                request.Headers.Authorization = basic;
                try
                {
                    using var response = await http.SendAsync(request, CancellationToken.None);
                    await response.Content.ReadAsByteArrayAsync(CancellationToken.None);
                    if (!response.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref errors);
                        continue;
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                    continue;
                }

                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }));
        var elapsed = clock.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToList();
        double Percentile(double p) => all.Count == 0 ? 0 : all[Math.Min(all.Count - 1, (int)(p * all.Count))];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{all.Count} tokens in {elapsed:F1} s = {all.Count / elapsed:F0}/s with {connections} connections; p50 {Percentile(0.5):F2} ms, p99 {Percentile(0.99):F2} ms; {errors} errors"));
        return errors == 0 ? 0 : 1;
    }
}
