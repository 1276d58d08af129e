using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Gdpr;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.ServiceDefaults.Hosting;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.AuditLogs;

/// <summary>
/// Every ten minutes: deletes audit entries older than their tenant's <c>auditPolicy.retentionDays</c> (90 by default) —
/// the only way entries ever leave the log — and pseudonymises the entries that arrived after a user's erasure
/// (<see cref="DataErasure"/>). Deletes run in bounded batches along the (tenant, time) index, so a large backlog never
/// holds a long lock; several replicas doing it at once only share the work.
/// </summary>
public sealed partial class AuditHousekeeping(IServiceScopeFactory scopeFactory, TimeProvider time, ILogger<AuditHousekeeping> logger)
    : PeriodicJob(scopeFactory, time, logger)
{
    /// <summary>How long after an erasure late entries are still looked for; after that the erased id is forgotten.</summary>
    public static readonly TimeSpan ErasureFollowUp = TimeSpan.FromDays(1);

    /// <summary>How much earlier than the erasure an event still in flight may have happened.</summary>
    private static readonly TimeSpan InFlightSkew = TimeSpan.FromHours(1);
    private const int BatchSize = 5_000;

    protected override TimeSpan Interval => TimeSpan.FromMinutes(10);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var db = services.GetRequiredService<AdminDbContext>();
        await FollowUpErasuresAsync(db, Time.GetUtcNow(), cancellationToken);
        var deleted = await PurgeAsync(db, Time.GetUtcNow(), cancellationToken);
        if (deleted > 0)
        {
            LogPurged(Logger, deleted);
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

    /// <summary>
    /// Pseudonymises entries written since each recent erasure (events that were in flight, such as the deletion's own);
    /// forgets the erased id once <see cref="ErasureFollowUp"/> has passed.
    /// </summary>
    public static async Task FollowUpErasuresAsync(AdminDbContext db, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var pending = await db.ErasedSubjects.IgnoreQueryFilters().Where(e => e.UserId != null).ToListAsync(cancellationToken);
        foreach (var erased in pending)
        {
            // Events raised shortly before the erasure may be written after it, with their own (earlier) time.
            await DataErasure.PseudonymiseAuditAsync(db, erased.TenantId, erased.UserId!.Value, null, erased.ErasedAs, cancellationToken,
                since: erased.ErasedAt - InFlightSkew);
            if (now - erased.ErasedAt >= ErasureFollowUp)
            {
                erased.UserId = null;
            }
        }

        await db.SaveChangesAsync(cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit retention deleted {Count} entries past their tenants' retention")]
    private static partial void LogPurged(ILogger logger, long count);
}
