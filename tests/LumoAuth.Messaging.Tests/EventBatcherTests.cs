using System.Diagnostics.Metrics;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Messaging.Tests;

/// <summary>
/// Facts sent in batches: straight to the broker while it answers, through the outbox while it does not. In the
/// broker-outage collection, which runs alone, so the counters it reads are its own.
/// </summary>
[Collection(BrokerOutageCollection.Name)]
public sealed class EventBatcherTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    private EventBatcher<WidgetDbContext> Batcher => host.Host.Services.GetRequiredService<EventBatcher<WidgetDbContext>>();

    [Fact]
    public async Task BatchedEvents_GoStraightToTheBroker()
    {
        using var sent = new SentCounter();
        var ids = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToList();
        foreach (var id in ids)
        {
            Assert.True(Batcher.TryAdd(new WidgetCreated(id, "batched")));
        }

        foreach (var id in ids)
        {
            await WaitForEffectAsync(id, TimeSpan.FromSeconds(20));
        }

        Assert.Equal(5, sent.Broker);
        Assert.Equal(0, sent.Outbox);
        await using var scope = host.Host.Services.CreateAsyncScope();
        Assert.Equal(0, await OutboxRowsMentioningAsync(scope.ServiceProvider.GetRequiredService<WidgetDbContext>(), ids[0]));
    }

    [Fact]
    public async Task BatchedEvents_WhileTheBrokerIsDown_WaitInTheOutbox_AndArriveOnceWhenItIsBack()
    {
        using var sent = new SentCounter();
        var id = Guid.NewGuid();
        await TestInfrastructure.InfraAsync("stop", "rabbitmq");
        try
        {
            Assert.True(Batcher.TryAdd(new WidgetCreated(id, "batched during an outage")));
            await ApiAssert.EventuallyAsync(async () =>
            {
                await using var scope = host.Host.Services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
                return await OutboxRowsMentioningAsync(db, id) == 1 ? "stored" : null;
            }, TimeSpan.FromSeconds(30));
            Assert.Equal(1, sent.Outbox);
        }
        finally
        {
            await TestInfrastructure.InfraAsync("start", "rabbitmq");
        }

        await WaitForEffectAsync(id, TimeSpan.FromSeconds(90));
        await using var after = host.Host.Services.CreateAsyncScope();
        var verify = after.ServiceProvider.GetRequiredService<WidgetDbContext>();
        await ApiAssert.EventuallyAsync(async () => await OutboxRowsMentioningAsync(verify, id) == 0 ? "relayed" : null);
        Assert.Equal(1, await verify.Effects.CountAsync(e => e.WidgetId == id));
    }

    private async Task WaitForEffectAsync(Guid widgetId, TimeSpan timeout) =>
        await ApiAssert.EventuallyAsync(async () =>
        {
            await using var scope = host.Host.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
            return await db.Effects.AnyAsync(e => e.WidgetId == widgetId) ? "delivered" : null;
        }, timeout);

    private static Task<int> OutboxRowsMentioningAsync(WidgetDbContext db, Guid id) =>
        db.Database.SqlQuery<int>($"SELECT count(*)::int AS \"Value\" FROM outbox_messages WHERE body::text LIKE {"%" + id + "%"}").SingleAsync();

    /// <summary>Reads <c>lumoauth.events.batched_sent</c> by its <c>via</c> tag.</summary>
    private sealed class SentCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _broker;
        private long _outbox;

        public SentCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "lumoauth.events.batched_sent")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "via")
                    {
                        _ = (string?)tag.Value == "broker" ? Interlocked.Add(ref _broker, value) : Interlocked.Add(ref _outbox, value);
                    }
                }
            });
            _listener.Start();
        }

        public long Broker => Interlocked.Read(ref _broker);

        public long Outbox => Interlocked.Read(ref _outbox);

        public void Dispose() => _listener.Dispose();
    }
}
