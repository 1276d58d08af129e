using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Features.Sms;

/// <summary>
/// The SMS provider (section <c>Sms</c>): any service speaking Twilio's Messages API (Twilio itself, or a compatible
/// gateway at <see cref="BaseUrl"/>). Without an account, sender and token, no text messages are sent.
/// </summary>
public sealed class SmsOptions
{
    public const string SectionName = "Sms";

    public Uri BaseUrl { get; set; } = new("https://api.twilio.com/");

    public string? AccountSid { get; set; }

    public string? AuthToken { get; set; }

    /// <summary>The sending number (E.164) or messaging service the provider knows.</summary>
    public string? From { get; set; }

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Sends one text message (<c>POST …/2010-04-01/Accounts/{sid}/Messages.json</c>, Basic authentication). A refusal or an
/// unreachable provider throws, so the consumer's message is retried and finally parked. Numbers and texts are never logged.
/// </summary>
public sealed partial class SmsSender(IHttpClientFactory httpClientFactory, IOptions<SmsOptions> options, ILogger<SmsSender> logger)
{
    public const string HttpClientName = "sms";

    public bool IsEnabled =>
        !string.IsNullOrEmpty(options.Value.AccountSid) && !string.IsNullOrEmpty(options.Value.AuthToken) && !string.IsNullOrEmpty(options.Value.From);

    public async Task SendAsync(string to, string text, CancellationToken cancellationToken)
    {
        var o = options.Value;
        using var request = new HttpRequestMessage(HttpMethod.Post,
            new Uri($"{o.BaseUrl.AbsoluteUri.TrimEnd('/')}/2010-04-01/Accounts/{Uri.EscapeDataString(o.AccountSid!)}/Messages.json"))
        {
            Content = new FormUrlEncodedContent([new("To", to), new("From", o.From!), new("Body", text)]),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{o.AccountSid}:{o.AuthToken}")));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(o.Timeout);
        using var response = await httpClientFactory.CreateClient(HttpClientName).SendAsync(request, timeout.Token);
        if (!response.IsSuccessStatusCode)
        {
            LogRefused(logger, (int)response.StatusCode);
            throw new HttpRequestException($"The SMS provider answered {(int)response.StatusCode}", null, response.StatusCode);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The SMS provider refused a message with {Status}; it will be retried")]
    private static partial void LogRefused(ILogger logger, int status);
}
