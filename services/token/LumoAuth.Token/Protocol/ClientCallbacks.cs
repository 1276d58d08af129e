using System.Collections.Concurrent;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Calls to clients' own servers (back-channel logout, CIBA pings): short timeouts, no redirects followed, only to
/// addresses the SSRF guard permits — and not to a server that has stopped answering. After
/// <see cref="FailuresToSkip"/> calls in a row to one origin got no answer (refused, reset, timed out), calls to it are
/// skipped for <see cref="SkipFor"/>; then one is tried again, and an answer of any status resumes them. A delivery that
/// waits through the bus's retries holds one of the few delivery slots every tenant shares, so a handful of dead servers
/// (one tenant's mass logout to them) would otherwise hold up everyone's logouts and pings for minutes. Back-channel
/// logout is best effort (OIDC Back-Channel Logout §2.8 lets the OP give up), and a pinged client can still poll.
/// </summary>
public sealed class ClientCallbacks(IHttpClientFactory httpClientFactory, TimeProvider time)
{
    public const string HttpClientName = "client-callbacks";

    /// <summary>What of an answer we would ever buffer; we never read one (only its status counts).</summary>
    public const int MaxAnswerBytes = 64 * 1024;

    public const int FailuresToSkip = 5;

    public static readonly TimeSpan SkipFor = TimeSpan.FromMinutes(1);

    /// <summary>Origins no longer tracked once this many are: a bound on memory whatever clients register.</summary>
    private const int MaxTrackedOrigins = 10_000;

    private readonly ConcurrentDictionary<string, Silence> _silentOrigins = new(StringComparer.Ordinal);

    /// <summary>
    /// Sends a call and hands back the answer once its headers are in (a client's server decides how big its body is, and
    /// reading it would let one server hold our memory and a delivery slot while it streams); null when the call was
    /// skipped because its origin stopped answering. A call that gets no answer throws, as before, for the bus to retry.
    /// </summary>
    public async Task<HttpResponseMessage?> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var origin = request.RequestUri!.GetLeftPart(UriPartial.Authority);
        var now = time.GetUtcNow();
        if (_silentOrigins.TryGetValue(origin, out var silence) && silence.Failures >= FailuresToSkip && now < silence.Since + SkipFor)
        {
            return null;
        }

        try
        {
            var response = await httpClientFactory.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            _silentOrigins.TryRemove(origin, out _);
            return response;
        }
        catch (Exception e) when ((e is HttpRequestException or TaskCanceledException) && !cancellationToken.IsCancellationRequested)
        {
            if (_silentOrigins.Count < MaxTrackedOrigins || _silentOrigins.ContainsKey(origin))
            {
                _silentOrigins.AddOrUpdate(origin, _ => new Silence(1, now), (_, s) => new Silence(s.Failures + 1, s.Failures + 1 >= FailuresToSkip ? now : s.Since));
            }

            throw;
        }
    }

    /// <summary>Calls in a row that got no answer, and when the last one that counted towards skipping failed.</summary>
    private sealed record Silence(int Failures, DateTimeOffset Since);
}
