using System.Collections.Concurrent;
using LumoAuth.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace LumoAuth.Admin.Tests;

public sealed record ReceivedWebhook(IReadOnlyDictionary<string, string> Headers, string Body, int AnsweredStatus);

/// <summary>A real HTTP endpoint on 127.0.0.1 (Kestrel, random port) that records what it receives and answers as scripted.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private WebApplication? _app;
    private int _calls;
    private int _inFlight;
    private int _mostInFlight;

    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    /// <summary>The status to answer a call with, given the call's number (1-based) and body.</summary>
    public Func<int, string, int> StatusFor { get; set; } = (_, _) => 200;

    /// <summary>How long to take before answering a call, given its number (1-based) and body.</summary>
    public Func<int, string, TimeSpan> DelayFor { get; set; } = (_, _) => TimeSpan.Zero;

    public string Url { get; private set; } = string.Empty;

    /// <summary>Calls that have arrived, answered or not.</summary>
    public int Started => Volatile.Read(ref _calls);

    /// <summary>The most calls that were being answered at the same time.</summary>
    public int MostInFlight => Volatile.Read(ref _mostInFlight);

    public static async Task<WebhookReceiver> StartAsync()
    {
        var receiver = new WebhookReceiver();
        (receiver._app, var baseUrl) = await LoopbackApp.StartAsync(app => app.MapPost("/hook", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            var call = Interlocked.Increment(ref receiver._calls);
            var inFlight = Interlocked.Increment(ref receiver._inFlight);
            for (var most = receiver.MostInFlight; inFlight > most; most = receiver.MostInFlight)
            {
                Interlocked.CompareExchange(ref receiver._mostInFlight, inFlight, most);
            }

            var status = receiver.StatusFor(call, body);
            try
            {
                if (receiver.DelayFor(call, body) is { Ticks: > 0 } delay)
                {
                    await Task.Delay(delay);
                }
            }
            finally
            {
                Interlocked.Decrement(ref receiver._inFlight);
            }

            receiver.Received.Enqueue(new ReceivedWebhook(
                context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body, status));
            return Results.StatusCode(status);
        }));
        receiver.Url = baseUrl + "/hook";
        return receiver;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }
    }
}
