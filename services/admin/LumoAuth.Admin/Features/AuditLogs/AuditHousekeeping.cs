using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Gdpr;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Messaging.Data;
using LumoAuth.ServiceDefaults.Hosting;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.AuditLogs;

/// <summary>
/// Every ten minutes, and at once after a user's erasure: pseudonymises the audit entries of erased users
/// (<see cref="DataErasure"/>) and deletes audit entries older than their tenant's <c>auditPolicy.retentionDays</c> (90 by
/// default) — the only way entries ever leave the log. Both work in bounded batches along the (tenant, time) index, so a
/// large backlog never holds a long lock; several replicas doing it at once only share the work (an erasure's slices are
/// claimed one at a time).
/// </summary>
public sealed partial class AuditHousekeeping(IServiceScopeFactory scopeFactory, TimeProvider time, ILogger<AuditHousekeeping> logger)
    : PeriodicJob(scopeFactory, time, logger)
{
    /// <summary>How long after an erasure late entries are still looked for; after that the erased id is forgotten.</summary>
    public static readonly TimeSpan ErasureFollowUp = TimeSpan.FromDays(1);

    /// <summary>How long after it happened an event may still be written (in flight at the erasure, or held up on the way).</summary>
    private static readonly TimeSpan InFlightSkew = TimeSpan.FromHours(1);
    private const int BatchSize = 5_000;

    protected override TimeSpan Interval => TimeSpan.FromMinutes(10);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var db = services.GetRequiredService<AdminDbContext>();
        await PseudonymiseErasuresAsync(db, Time.GetUtcNow(), cancellationToken);
        var deleted = await PurgeAsync(db, Time.GetUtcNow(), cancellationToken);
        if (deleted > 0)
        {
            LogPurged(Logger, deleted);
        }

        await PurgeDeliveriesAsync(db, Time.GetUtcNow(), cancellationToken);
    }

    /// <summary>Finished webhook deliveries (with their payloads and attempts) are kept this long for inspection and replay.</summary>
    public static readonly TimeSpan DeliveryRetention = TimeSpan.FromDays(30);

    /// <summary>Deletes deliveries that succeeded or were given up before <see cref="DeliveryRetention"/>; returns how many.</summary>
    public static async Task<long> PurgeDeliveriesAsync(AdminDbContext db, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var cutoff = now - DeliveryRetention;
        long deleted = 0;
        int batch;
        do
        {
            // Created before the cut-off too (a delivery completes after it is created), so the (WebhookId, CreatedAt)
            // index finds the candidates instead of a scan of the whole table per batch.
            batch = await db.Database.ExecuteSqlInterpolatedAsync($"""
                DELETE FROM webhook_deliveries WHERE "Id" IN (
                    SELECT d."Id" FROM webhooks w CROSS JOIN LATERAL (
                        SELECT "Id" FROM webhook_deliveries
                        WHERE "WebhookId" = w."Id" AND "CreatedAt" < {cutoff} AND "Status" <> 'pending' AND "CompletedAt" < {cutoff}
                        LIMIT {BatchSize}) d
                    LIMIT {BatchSize})
                """, cancellationToken);
            deleted += batch;
        }
        while (batch == BatchSize);
        return deleted;
    }

    /// <summary>Deletes every tenant's entries past its retention as of <paramref name="now"/>; returns how many.</summary>
    public static async Task<long> PurgeAsync(AdminDbContext db, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var tenants = await db.Tenants.AsNoTracking().Select(t => new { t.Id, t.Settings }).ToListAsync(cancellationToken);
        long deleted = 0;
        foreach (var tenant in tenants)
        {
            var cutoff = now.AddDays(-TenantSettings.Parse(tenant.Settings).AuditPolicy.RetentionDays);
            deleted += await BatchedDelete.RunAsync(db, "audit_logs", "\"TenantId\" = {0} AND \"Timestamp\" < {1}", [tenant.Id, cutoff], BatchSize, cancellationToken);
        }

        return deleted;
    }

    /// <summary>
    /// Pseudonymises the entries of each recent erasure (<see cref="DataErasure"/>): first the tenant's whole history, then,
    /// each round, the last hour again (events in flight at the erasure, such as the deletion's own, are written later
    /// with their own, earlier time); a day after the erasure, one last pass over everything since it, and the id and
    /// address are forgotten.
    /// </summary>
    public static async Task PseudonymiseErasuresAsync(AdminDbContext db, DateTimeOffset now, CancellationToken cancellationToken, int sliceSize = BatchSize)
    {
        var pending = await db.ErasedSubjects.IgnoreQueryFilters().Where(e => e.UserId != null).Select(e => e.Id).ToListAsync(cancellationToken);
        foreach (var id in pending)
        {
            await PseudonymiseErasureAsync(db, id, now, cancellationToken, sliceSize);
        }
    }

    /// <summary>
    /// Works one erasure slice by slice: each slice of about <paramref name="sliceSize"/> entries along the (tenant, time)
    /// index is one short transaction that claims the erasure's row (a replica finding it claimed leaves it to the other),
    /// pseudonymises the slice and moves the progress mark, so no lock is held long and a restart resumes.
    /// </summary>
    public static async Task PseudonymiseErasureAsync(AdminDbContext db, Guid erasureId, DateTimeOffset now, CancellationToken cancellationToken, int sliceSize = BatchSize)
    {
        while (await PseudonymiseSliceAsync(db, erasureId, now, sliceSize, cancellationToken))
        {
        }
    }

    /// <summary>One slice; false once the erasure is caught up for this round, finished, or being worked by another replica.</summary>
    private static async Task<bool> PseudonymiseSliceAsync(AdminDbContext db, Guid erasureId, DateTimeOffset now, int sliceSize, CancellationToken cancellationToken)
    {
        // The mark is read afresh under the claim: another replica may have moved it.
        db.ChangeTracker.Clear();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var erased = await db.ErasedSubjects
            .FromSql($"""SELECT * FROM erased_subjects WHERE "Id" = {erasureId} AND "UserId" IS NOT NULL FOR UPDATE SKIP LOCKED""")
            .IgnoreQueryFilters()
            .SingleOrDefaultAsync(cancellationToken);
        if (erased is null)
        {
            return false;
        }

        var from = erased.PseudonymisedFrom;
        var next = await db.AuditLogs.IgnoreQueryFilters()
            .Where(a => a.TenantId == erased.TenantId && a.Timestamp >= from)
            .OrderBy(a => a.Timestamp)
            .Skip(sliceSize)
            .Select(a => (DateTimeOffset?)a.Timestamp)
            .FirstOrDefaultAsync(cancellationToken);
        if (next == from)
        {
            // More entries than a slice share one instant: the slice takes them all.
            next = from.AddTicks(TimeSpan.TicksPerMicrosecond);
        }

        await DataErasure.PseudonymiseAuditAsync(db, erased, from, next, cancellationToken);
        var more = true;
        if (next is not null)
        {
            erased.PseudonymisedFrom = next.Value;
        }
        else if (now - erased.ErasedAt < ErasureFollowUp)
        {
            // Caught up; the next round looks again at the last hour, where late entries land.
            erased.PseudonymisedFrom = now - InFlightSkew;
            more = false;
        }
        else if (!erased.LastPass)
        {
            // The day is over: once more over everything since the erasure, for events held up longer than an hour.
            erased.LastPass = true;
            erased.PseudonymisedFrom = erased.ErasedAt - InFlightSkew;
        }
        else
        {
            erased.UserId = null;
            erased.Email = null;
            more = false;
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return more;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit retention deleted {Count} entries past their tenants' retention")]
    private static partial void LogPurged(ILogger logger, long count);
}
