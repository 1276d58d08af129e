using LumoAuth.Messaging.Inbox;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LumoAuth.Messaging.Tests;

/// <summary>
/// Inbox rows past the retention are deleted, in batches, and a redelivery within it is still a no-op. Each test writes rows
/// under consumer names of its own and looks only at those; rounds are run directly, not waited for.
/// </summary>
public sealed class InboxHousekeepingTests(InboxHousekeepingTests.ShortRetentionHost host) : IClassFixture<InboxHousekeepingTests.ShortRetentionHost>
{
    private static readonly TimeSpan Retention = TimeSpan.FromDays(2);

    [Fact]
    public async Task Round_DeletesRowsPastTheConfiguredRetention_AndKeepsRecentOnes()
    {
        var now = TimeProvider.System.GetUtcNow();
        var old = "old-" + Guid.NewGuid();
        var recent = "recent-" + Guid.NewGuid();
        await InsertRowsAsync(old, 3, now - Retention - TimeSpan.FromHours(1));
        await InsertRowsAsync(recent, 3, now - Retention + TimeSpan.FromHours(1));

        await RunRoundAsync();

        Assert.Equal(0, await RowsAsync(old));
        Assert.Equal(3, await RowsAsync(recent));
    }

    [Fact]
    public async Task Round_DeletesABacklogOfSeveralBatches()
    {
        var old = "backlog-" + Guid.NewGuid();
        var count = (InboxHousekeeping.BatchSize * 2) + 1;
        await InsertRowsAsync(old, count, TimeProvider.System.GetUtcNow() - Retention - TimeSpan.FromDays(30));

        await RunRoundAsync();

        Assert.Equal(0, await RowsAsync(old));
    }

    [Fact]
    public async Task MessageRedeliveredWithinTheRetention_IsStillHandledOnce()
    {
        var consumer = "redelivery-" + Guid.NewGuid();
        var messageId = Guid.NewGuid();
        var widgetId = Guid.NewGuid();

        Assert.True(await HandleAsync(consumer, messageId, widgetId));
        // Handled almost a retention ago: the round leaves the row, so the redelivery finds it.
        await ExecuteAsync($"UPDATE inbox_messages SET processed_at = {TimeProvider.System.GetUtcNow() - Retention + TimeSpan.FromHours(1)} WHERE consumer = {consumer}");
        await RunRoundAsync();
        Assert.False(await HandleAsync(consumer, messageId, widgetId));

        await using var scope = Scope();
        Assert.Equal(1, await scope.ServiceProvider.GetRequiredService<WidgetDbContext>().Effects.CountAsync(e => e.WidgetId == widgetId));
    }

    private AsyncServiceScope Scope() => host.Host.Services.CreateAsyncScope();

    private async Task RunRoundAsync()
    {
        await using var scope = Scope();
        await host.Host.Services.GetRequiredService<InboxHousekeeping>()
            .PurgeAsync(scope.ServiceProvider.GetRequiredService<WidgetDbContext>(), CancellationToken.None);
    }

    private async Task<bool> HandleAsync(string consumer, Guid messageId, Guid widgetId)
    {
        await using var scope = Scope();
        var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
        return await db.HandleOnceAsync(consumer, messageId, _ =>
        {
            db.Effects.Add(new WidgetEffect { Id = Guid.NewGuid(), WidgetId = widgetId });
            return Task.CompletedTask;
        }, CancellationToken.None);
    }

    private Task InsertRowsAsync(string consumer, int count, DateTimeOffset processedAt) =>
        ExecuteAsync($"""
            INSERT INTO inbox_messages (consumer, message_id, processed_at)
            SELECT {consumer}, gen_random_uuid(), {processedAt} FROM generate_series(1, {count})
            """);

    private async Task<int> RowsAsync(string consumer)
    {
        await using var scope = Scope();
        return await scope.ServiceProvider.GetRequiredService<WidgetDbContext>().Database
            .SqlQuery<int>($"SELECT count(*)::int AS \"Value\" FROM inbox_messages WHERE consumer = {consumer}").SingleAsync();
    }

    private async Task ExecuteAsync(FormattableString sql)
    {
        await using var scope = Scope();
        await scope.ServiceProvider.GetRequiredService<WidgetDbContext>().Database.ExecuteSqlInterpolatedAsync(sql);
    }

    /// <summary>The retention set to two days through configuration, so the tests also show the setting is read.</summary>
    /// <summary>A retention shorter than the outage retry's span would let a retried message run twice: the host does not start.</summary>
    [Fact]
    public async Task RetentionNotLongerThanTheOutageRetry_StopsTheHostFromStarting()
    {
        var host = new RetentionHost("2.00:00:00", outageMaxInterval: null);
        try
        {
            var refused = await Assert.ThrowsAsync<OptionsValidationException>(host.InitializeAsync);
            Assert.Contains("outage retry", refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    /// <summary>Two days' retention, with the outage retry shortened below it (5.5 hours in all).</summary>
    public sealed class ShortRetentionHost() : RetentionHost("2.00:00:00", "00:00:02");

    public class RetentionHost(string retention, string? outageMaxInterval) : MessagingHost("inbox")
    {
        protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
            outageMaxInterval is null
                ? [new($"{InboxOptions.SectionName}:{nameof(InboxOptions.Retention)}", retention)]
                : [new($"{InboxOptions.SectionName}:{nameof(InboxOptions.Retention)}", retention), new("Messaging:OutageRetry:MaxInterval", outageMaxInterval)];
    }
}
