namespace LumoAuth.Token.Protocol;

/// <summary>
/// The HTTP client for calls to clients' own servers (back-channel logout, CIBA pings): short timeouts, no redirects
/// followed, and only to addresses the SSRF guard permits.
/// </summary>
public static class ClientCallbacks
{
    public const string HttpClientName = "client-callbacks";
}
