using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LumoAuth.Testing;

public sealed record ReceivedText(string Path, string Authorization, string To, string From, string Body);

/// <summary>A local stand-in for Twilio's Messages API (<c>POST /2010-04-01/Accounts/{sid}/Messages.json</c>) that keeps every text.</summary>
public sealed partial class SmsReceiver : IAsyncDisposable
{
    public const string AccountSid = "AC0000000000test";
    public const string AuthToken = "sms-provider-secret";
    public const string From = "+15005550006";

    private readonly WebApplication _app;

    private SmsReceiver()
    {
        (_app, BaseUrl) = LoopbackApp.StartAsync(app => app.MapPost("/2010-04-01/Accounts/{sid}/Messages.json", async (HttpContext context) =>
        {
            var form = await context.Request.ReadFormAsync();
            Received.Enqueue(new ReceivedText(context.Request.Path.Value!, context.Request.Headers.Authorization.ToString(),
                form["To"].ToString(), form["From"].ToString(), form["Body"].ToString()));
            return Results.Json(new { sid = "SM" + Guid.NewGuid().ToString("N"), status = "queued" }, statusCode: StatusCodes.Status201Created);
        })).GetAwaiter().GetResult();
    }

    public static SmsReceiver Start() => new();

    public string BaseUrl { get; }

    public ConcurrentQueue<ReceivedText> Received { get; } = new();

    /// <summary>The admin service's settings that send its texts here.</summary>
    public Dictionary<string, string?> AdminSettings() => new()
    {
        ["Sms:BaseUrl"] = BaseUrl, ["Sms:AccountSid"] = AccountSid, ["Sms:AuthToken"] = AuthToken, ["Sms:From"] = From,
    };

    public IReadOnlyList<ReceivedText> To(string phone) => Received.Where(t => t.To == phone).ToList();

    /// <summary>The six-digit code of the <paramref name="nth"/> text (1-based) to <paramref name="phone"/>, once it has arrived.</summary>
    public Task<string> CodeAsync(string phone, int nth) =>
        ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            var texts = To(phone);
            return texts.Count >= nth ? SixDigits().Match(texts[nth - 1].Body).Value : null;
        }, TimeSpan.FromSeconds(30));

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();

    [GeneratedRegex(@"\b\d{6}\b")]
    private static partial Regex SixDigits();
}
