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
        using var sent = new CounterByTag("lumoauth.events.batched_sent", "via");
        var ids = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToList();
        foreach (var id in ids)
        {
            Assert.True(Batcher.TryAdd(new WidgetCreated(id, "batched")));
        }

        foreach (var id in ids)
        {
            await host.WaitForEffectAsync(id);
        }

        Assert.Equal(5, sent["broker"]);
        Assert.Equal(0, sent["outbox"]);
        Assert.Equal(0, await host.OutboxRowsMentioningAsync(ids[0]));
    }

    [Fact]
    public async Task BatchedEvents_WhileTheBrokerIsDown_WaitInTheOutbox_AndArriveOnceWhenItIsBack()
    {
        using var sent = new CounterByTag("lumoauth.events.batched_sent", "via");
        var id = Guid.NewGuid();
        await TestInfrastructure.InfraAsync("stop", "rabbitmq");
        try
        {
            Assert.True(Batcher.TryAdd(new WidgetCreated(id, "batched during an outage")));
            await ApiAssert.EventuallyAsync(async () => await host.OutboxRowsMentioningAsync(id) == 1 ? "stored" : null, TimeSpan.FromSeconds(30));
            Assert.Equal(1, sent["outbox"]);
        }
        finally
        {
            await TestInfrastructure.InfraAsync("start", "rabbitmq");
        }

        await host.WaitForEffectAsync(id, TimeSpan.FromSeconds(90));
        await ApiAssert.EventuallyAsync(async () => await host.OutboxRowsMentioningAsync(id) == 0 ? "relayed" : null);
        await using var after = host.Host.Services.CreateAsyncScope();
        Assert.Equal(1, await after.ServiceProvider.GetRequiredService<WidgetDbContext>().Effects.CountAsync(e => e.WidgetId == id));
    }
}
