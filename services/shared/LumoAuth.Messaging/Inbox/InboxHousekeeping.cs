using LumoAuth.Messaging.Data;
using LumoAuth.ServiceDefaults.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LumoAuth.Messaging.Inbox;

/// <summary>
/// About once an hour: deletes the service's inbox rows older than <see cref="InboxOptions.Retention"/>, which nothing
/// else ever deletes. Batches of <see cref="BatchSize"/> along the <c>processed_at</c> index, each its own short statement,
/// so a large backlog never holds a long lock. Replicas may run it at once: a plain delete below a cut-off only shares the
/// work (a replica whose batch another took stops early; the next round goes on). A round that fails, the database being
/// out, is logged and the next one retries (<see cref="PeriodicJob"/>). The DbContext is a <see cref="Type"/> rather than a
/// type parameter so that the job's name in those logs reads plainly.
/// </summary>
public sealed partial class InboxHousekeeping(
    IServiceScopeFactory scopeFactory,
    IOptions<InboxOptions> options,
    TimeProvider time,
    ILogger<InboxHousekeeping> logger,
    Type dbContextType) : PeriodicJob(scopeFactory, time, logger)
{
    public const int BatchSize = 5_000;

    // 50 to 70 minutes: replicas started together by a deployment spread out instead of deleting in the same minute.
    protected override TimeSpan Interval => TimeSpan.FromMinutes(50 + (Random.Shared.NextDouble() * 20));

    protected override Task RunOnceAsync(IServiceProvider services, CancellationToken cancellationToken) =>
        PurgeAsync((DbContext)services.GetRequiredService(dbContextType), cancellationToken);

    /// <summary>One round: deletes the rows of <paramref name="db"/>'s inbox past the retention as of now; returns how many.</summary>
    public async Task<long> PurgeAsync(DbContext db, CancellationToken cancellationToken)
    {
        var deleted = await DeleteProcessedBeforeAsync(db, Time.GetUtcNow() - options.Value.Retention, cancellationToken);
        if (deleted > 0)
        {
            LogPurged(Logger, deleted);
        }

        return deleted;
    }

    /// <summary>Deletes the rows processed before <paramref name="cutoff"/>, a batch per statement; returns how many.</summary>
    public static Task<long> DeleteProcessedBeforeAsync(DbContext db, DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        BatchedDelete.RunAsync(db, "inbox_messages", "processed_at < {0}", [cutoff], BatchSize, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "Inbox housekeeping deleted {Count} rows past the retention")]
    private static partial void LogPurged(ILogger logger, long count);
}
