namespace LumoAuth.Token.Protocol;

/// <summary>
/// The HTTP client for calls to clients' own servers (back-channel logout, CIBA pings): short timeouts, no redirects
/// followed, and only to addresses the SSRF guard permits.
/// </summary>
public static class ClientCallbacks
{
    public const string HttpClientName = "client-callbacks";

    /// <summary>What of an answer we would ever buffer; we never read one (only its status counts).</summary>
    public const int MaxAnswerBytes = 64 * 1024;

    /// <summary>
    /// Sends a call and hands back the answer once its headers are in: a client's server decides how big its body is, and
    /// reading it would let one server hold our memory and a delivery slot for as long as it streams.
    /// </summary>
    public static Task<HttpResponseMessage> SendAsync(HttpClient http, HttpRequestMessage request, CancellationToken cancellationToken) =>
        http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
}
