using LumoAuth.Contracts;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LumoAuth.Messaging.Tests;

/// <summary>A fact only the drop test queues, so the counter it reads (by type) is its own.</summary>
public sealed record BufferedFact(int Number) : IntegrationEvent;

/// <summary>The batcher loses nothing silently and no failure of its own ends it (which would stop the service).</summary>
public sealed class EventBatcherResilienceTests(MessagingHost host) : IClassFixture<MessagingHost>
{
    [Fact]
    public void FullBuffer_DropsTheOldest_CountsEveryDrop_AndWarnsAtMostOncePerMinute()
    {
        using var dropped = new CounterByTag("lumoauth.events.batched_dropped", "type");
        var logs = new RecordingLoggerProvider();
        using var loggers = LoggerFactory.Create(logging => logging.AddProvider(logs));
        var clock = new ManualClock();
        // Not started: nothing reads the buffer, as when the broker and the database both lag behind.
        var batcher = new EventBatcher<WidgetDbContext>(null!, null!, clock, loggers.CreateLogger<EventBatcher<WidgetDbContext>>(), batch => batch, capacity: 3);

        for (var i = 0; i < 6; i++)
        {
            Assert.True(batcher.TryAdd(new BufferedFact(i)));
        }

        Assert.Equal(3, dropped["BufferedFact"]);
        Assert.Single(logs.Lines, line => line.Message.StartsWith("Dropped 1 of the oldest", StringComparison.Ordinal));

        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.True(batcher.TryAdd(new BufferedFact(6)));

        Assert.Equal(4, dropped["BufferedFact"]);
        Assert.Single(logs.Lines, line => line.Message.StartsWith("Dropped 3 of the oldest", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FailingCombine_SendsTheFactsUncombined_AndTheBatcherKeepsGoing()
    {
        var batcher = ActivatorUtilities.CreateInstance<EventBatcher<WidgetDbContext>>(
            host.Host.Services,
            (Func<IReadOnlyList<IntegrationEvent>, IEnumerable<IntegrationEvent>>)(_ => throw new InvalidOperationException("combine bug")));
        await batcher.StartAsync(CancellationToken.None);
        try
        {
            foreach (var id in new[] { Guid.NewGuid(), Guid.NewGuid() })
            {
                Assert.True(batcher.TryAdd(new WidgetCreated(id, "combined by a failing combine")));
                await host.WaitForEffectAsync(id);
            }

            Assert.Contains(host.Logs.Lines, line => line.Message.StartsWith("Combining a batch", StringComparison.Ordinal));
            Assert.False(batcher.ExecuteTask!.IsCompleted);
        }
        finally
        {
            await batcher.StopAsync(CancellationToken.None);
        }
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
