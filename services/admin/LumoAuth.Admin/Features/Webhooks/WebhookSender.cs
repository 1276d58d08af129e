using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Features.Webhooks;

/// <summary>Webhook signing secrets: <c>whsec_…</c>, shown once, kept encrypted (they are needed to sign).</summary>
public sealed class WebhookSecrets(IDataProtectionProvider dataProtection)
{
    private readonly IDataProtector _protector = dataProtection.CreateProtector("LumoAuth.Admin.WebhookSecret.v1");

    public (string Secret, string Protected) Generate()
    {
        var secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return (secret, _protector.Protect(secret));
    }

    public string Reveal(string protectedSecret) => _protector.Unprotect(protectedSecret);
}

/// <summary>The outcome of one HTTP attempt.</summary>
public sealed record WebhookAttemptResult(bool Succeeded, int? StatusCode, string? Error, int DurationMs);

/// <summary>
/// Signs and posts one delivery. Headers: <c>X-Lumo-Signature</c> = hex HMAC-SHA256 of the raw body (the
/// documented check), and <c>X-Lumo-Signature-256: t=&lt;unix&gt;,v1=&lt;hex HMAC of "t.body"&gt;</c> with
/// <c>X-Lumo-Timestamp</c>, which lets receivers refuse replays of old deliveries. Redirects are not
/// followed; the connection itself passes the SSRF guard.
/// For a while after a rotation, <c>X-Lumo-Signature-256</c> carries a second <c>v1=</c> entry, the HMAC under the
/// previous secret (<c>t=…,v1=&lt;new&gt;,v1=&lt;previous&gt;</c>, as Stripe-style schemes allow): a receiver accepts the
/// delivery when any <c>v1</c> verifies. <c>X-Lumo-Signature</c> holds one value, so it is signed with the current secret only.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    public const string SignatureHeader = "X-Lumo-Signature";
    public const string TimestampedSignatureHeader = "X-Lumo-Signature-256";
    public const string TimestampHeader = "X-Lumo-Timestamp";
    private readonly HttpClient _client;
    private readonly TimeProvider _time;

    public WebhookSender(IOptions<WebhookOptions> options, TimeProvider time)
    {
        _time = time;
        // Not an IHttpClientFactory client: the service defaults add retries and service discovery to
        // those, and deliveries must be attempted exactly once per try, to the address we vetted.
        var handler = SsrfGuard.Handler(options.Value.AllowPrivateTargets);
        _client = new HttpClient(handler) { Timeout = options.Value.Timeout };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("LumoAuth-Webhooks/1.0");
    }

    /// <param name="previousSecret">The secret replaced by a rotation still within its overlap, or null.</param>
    public async Task<WebhookAttemptResult> SendAsync(
        string url, string secret, string? previousSecret, string body, string eventId, string eventType, Guid deliveryId, CancellationToken cancellationToken)
    {
        var timestamp = _time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Add(SignatureHeader, Sign(secret, body));
        request.Headers.Add(TimestampHeader, timestamp);
        request.Headers.Add(TimestampedSignatureHeader, TimestampedSignature(timestamp, body, secret, previousSecret));
        request.Headers.Add("X-Lumo-Event-Id", eventId);
        request.Headers.Add("X-Lumo-Event-Type", eventType);
        request.Headers.Add("X-Lumo-Delivery-Id", deliveryId.ToString());
        var watch = Stopwatch.StartNew();
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var status = (int)response.StatusCode;
            return new WebhookAttemptResult(status is >= 200 and < 300, status, status is >= 200 and < 300 ? null : $"HTTP {status}", (int)watch.ElapsedMilliseconds);
        }
        catch (Exception ex) when (ex.IsRemoteFailure(cancellationToken))
        {
            // One message for every connection failure: whether a name resolves, and to what kind of address, is what an
            // SSRF probe through the test endpoint would want to learn.
            var message = ex is TaskCanceledException ? "Timed out" : "The endpoint could not be reached, or is not an allowed target";
            return new WebhookAttemptResult(false, null, message, (int)watch.ElapsedMilliseconds);
        }
    }

    /// <summary><c>t=&lt;unix&gt;,v1=&lt;current&gt;</c>, plus <c>,v1=&lt;previous&gt;</c> while a rotated-out secret still signs.</summary>
    public static string TimestampedSignature(string timestamp, string body, string secret, string? previousSecret)
    {
        var signed = timestamp + "." + body;
        var header = $"t={timestamp},v1={Sign(secret, signed)}";
        return previousSecret is null || previousSecret == secret ? header : $"{header},v1={Sign(previousSecret, signed)}";
    }

    public static string Sign(string secret, string content) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(content)));

    public void Dispose() => _client.Dispose();
}
