using System.Diagnostics;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Messaging.Tests;

/// <summary>
/// Facts sent in batches, straight to the broker while it answers. In the broker-outage collection, which runs
/// alone, so the counters it reads are its own.
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

    /// <summary>A batch is published in a span of its own that links the traces of the requests whose facts it carries.</summary>
    [Fact]
    public async Task ABatch_IsPublishedInASpan_LinkingTheTracesOfItsRequests()
    {
        var published = new System.Collections.Concurrent.ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "LumoAuth.Messaging" or "LumoAuth.Tests.Batching",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            // Links are set when a span starts; it may stop after the consumer's effect is visible.
            ActivityStarted = activity => published.Add(activity),
        };
        ActivitySource.AddActivityListener(listener);
        using var requests = new ActivitySource("LumoAuth.Tests.Batching");
        var traces = new List<ActivityTraceId>();
        var ids = Enumerable.Range(0, 3).Select(_ => Guid.NewGuid()).ToList();
        foreach (var id in ids)
        {
            using var request = requests.StartActivity("a request")!;
            traces.Add(request.TraceId);
            Assert.True(Batcher.TryAdd(new WidgetCreated(id, "traced")));
        }

        foreach (var id in ids)
        {
            await host.WaitForEffectAsync(id);
        }

        var linked = published.Where(a => a.OperationName == "batched publish").SelectMany(a => a.Links).Select(l => l.Context.TraceId).ToHashSet();
        Assert.All(traces, trace => Assert.Contains(trace, linked));
    }
}

/// <summary>
/// The batcher with the broker down, on a host of its own: after a failed publish the batcher leaves the broker
/// alone for a while, which must not spill into the tests above.
/// </summary>
[Collection(BrokerOutageCollection.Name)]
public sealed class EventBatcherOutageTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public async Task BatchedEvents_WhileTheBrokerIsDown_WaitInTheOutbox_AndArriveOnceWhenItIsBack()
    {
        using var sent = new CounterByTag("lumoauth.events.batched_sent", "via");
        var batcher = host.Host.Services.GetRequiredService<EventBatcher<WidgetDbContext>>();
        var first = Guid.NewGuid();
        var second = Guid.NewGuid();
        await TestInfrastructure.InfraAsync("stop", "rabbitmq");
        try
        {
            Assert.True(batcher.TryAdd(new WidgetCreated(first, "batched during an outage")));
            await ApiAssert.EventuallyAsync(async () => await host.OutboxRowsMentioningAsync(first) == 1 ? "stored" : null, TimeSpan.FromSeconds(30));
            // The next batch goes to the outbox without another attempt at the broker.
            Assert.True(batcher.TryAdd(new WidgetCreated(second, "batched during an outage")));
            await ApiAssert.EventuallyAsync(async () => await host.OutboxRowsMentioningAsync(second) == 1 ? "stored" : null, TimeSpan.FromSeconds(30));
            // The batcher counts a batch just after its commit, which the test may have seen first.
            await ApiAssert.EventuallyAsync(() => Task.FromResult(sent["outbox"] == 2 ? "counted" : null));
            Assert.Equal(0, sent["broker"]);
            Assert.Single(host.Logs.Lines, line => line.Message.Contains("batched messages failed", StringComparison.Ordinal));
        }
        finally
        {
            await TestInfrastructure.InfraAsync("start", "rabbitmq");
        }

        foreach (var id in new[] { first, second })
        {
            await host.WaitForEffectAsync(id, TimeSpan.FromSeconds(90));
            await ApiAssert.EventuallyAsync(async () => await host.OutboxRowsMentioningAsync(id) == 0 ? "relayed" : null);
            await using var after = host.Host.Services.CreateAsyncScope();
            Assert.Equal(1, await after.ServiceProvider.GetRequiredService<WidgetDbContext>().Effects.CountAsync(e => e.WidgetId == id));
        }
    }
}
