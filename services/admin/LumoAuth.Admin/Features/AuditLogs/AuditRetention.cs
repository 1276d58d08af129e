using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Settings;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.AuditLogs;

/// <summary>
/// Deletes audit entries older than their tenant's <c>auditPolicy.retentionDays</c> (90 by default), once an hour.
/// The only way entries ever leave the log. Deletes run in bounded batches along the (tenant, time) index, so a
/// large backlog never holds a long lock; several replicas doing it at once only share the work.
/// </summary>
public sealed partial class AuditRetention(IServiceScopeFactory scopeFactory, TimeProvider time, ILogger<AuditRetention> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);
    private const int BatchSize = 5_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // A minute after start, so a restarting fleet does not purge while it warms up.
        var delay = TimeSpan.FromMinutes(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(delay, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await using var scope = scopeFactory.CreateAsyncScope();
                var deleted = await PurgeAsync(scope.ServiceProvider.GetRequiredService<AdminDbContext>(), time.GetUtcNow(), stoppingToken);
                if (deleted > 0)
                {
                    LogPurged(logger, deleted);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogPurgeFailed(logger, ex);
            }

            delay = Interval;
        }
    }

    /// <summary>Deletes every tenant's entries past its retention as of <paramref name="now"/>; returns how many.</summary>
    public static async Task<long> PurgeAsync(AdminDbContext db, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var tenants = await db.Tenants.AsNoTracking().Select(t => new { t.Id, t.Settings }).ToListAsync(cancellationToken);
        long deleted = 0;
        foreach (var tenant in tenants)
        {
            var cutoff = now.AddDays(-TenantSettings.Parse(tenant.Settings).AuditPolicy.RetentionDays);
            int batch;
            do
            {
                batch = await db.Database.ExecuteSqlInterpolatedAsync($"""
                    DELETE FROM audit_logs WHERE "Id" IN (
                        SELECT "Id" FROM audit_logs WHERE "TenantId" = {tenant.Id} AND "Timestamp" < {cutoff} LIMIT {BatchSize})
                    """, cancellationToken);
                deleted += batch;
            }
            while (batch == BatchSize);
        }

        return deleted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit retention deleted {Count} entries past their tenants' retention")]
    private static partial void LogPurged(ILogger logger, long count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Audit retention round failed; the next round retries")]
    private static partial void LogPurgeFailed(ILogger logger, Exception exception);
}
