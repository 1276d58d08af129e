using LumoAuth.Authorization.Data;
using LumoAuth.Messaging.Data;
using LumoAuth.ServiceDefaults.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LumoAuth.Authorization.Storage;

public sealed class ChangelogOptions
{
    public const string SectionName = "Authorization:Changelog";

    /// <summary>
    /// How long the changelog keeps a change (SpiceDB's garbage-collection window works the same way). Replicas whose
    /// index fell further behind reload it; a changes feed asked about older revisions is told to start afresh.
    /// </summary>
    [TimeSpanRange("01:00:00", "3650.00:00:00")]
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);
}

/// <summary>
/// Every hour: deletes each tenant's changes older than <see cref="ChangelogOptions.Retention"/>, whole revisions at a
/// time. The tenant's horizon is raised and committed first, then the rows go in short batches, so a reader that reads
/// changes and then the horizon always knows whether it missed some (<see cref="TenantRevision.ChangelogHorizon"/>).
/// Replicas may run it at once: the horizon only ever rises, and deleting what another deleted deletes nothing.
/// </summary>
public sealed partial class ChangelogRetention(IServiceScopeFactory scopeFactory, IOptions<ChangelogOptions> options, TimeProvider time, ILogger<ChangelogRetention> logger)
    : PeriodicJob(scopeFactory, time, logger)
{
    /// <summary>Changes read at a time while looking for the new horizon; a backlog takes several windows.</summary>
    public const int ScanPerTenant = 50_000;

    private const int BatchSize = 5_000;

    protected override TimeSpan Interval => TimeSpan.FromHours(1);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var deleted = await PruneAsync(services.GetRequiredService<AuthorizationDbContext>(), Time.GetUtcNow() - options.Value.Retention, cancellationToken);
        if (deleted > 0)
        {
            LogPruned(Logger, deleted);
        }
    }

    /// <summary>Deletes every tenant's changes made before <paramref name="cutoff"/>; returns how many rows.</summary>
    /// <param name="window">Changes read at a time while looking for the horizon (tests make it small).</param>
    public static async Task<long> PruneAsync(AuthorizationDbContext db, DateTimeOffset cutoff, CancellationToken cancellationToken, int window = ScanPerTenant)
    {
        var tenants = await db.Revisions.IgnoreQueryFilters().AsNoTracking().Select(r => new { r.TenantId, r.ChangelogHorizon }).ToListAsync(cancellationToken);
        long deleted = 0;
        foreach (var tenant in tenants)
        {
            // Whatever an interrupted round left below the horizon it had raised goes first (one index probe when nothing).
            var horizon = tenant.ChangelogHorizon;
            deleted += await DeleteUpToAsync(db, tenant.TenantId, horizon, cancellationToken);
            while (await NextHorizonAsync(db, tenant.TenantId, horizon, cutoff, window, cancellationToken) is { } next)
            {
                horizon = next.Horizon;
                await db.Database.ExecuteSqlInterpolatedAsync($"""
                    UPDATE tenant_revisions SET "ChangelogHorizon" = GREATEST("ChangelogHorizon", {horizon}) WHERE "TenantId" = {tenant.TenantId}
                    """, cancellationToken);
                deleted += await DeleteUpToAsync(db, tenant.TenantId, horizon, cancellationToken);
                if (!next.More)
                {
                    break;
                }
            }
        }

        return deleted;
    }

    /// <summary>One window of the changes past the horizon: the last revision in it older than the cut-off, and whether later windows may hold more.</summary>
    private sealed class Window
    {
        public long? Horizon { get; init; }

        public bool More { get; init; }
    }

    /// <summary>
    /// The oldest changes come first along (TenantId, Revision): the last revision among the next <paramref name="size"/>
    /// older than the cut-off is the new horizon (a revision's rows share one timestamp, so whole revisions go). A
    /// window that was old throughout may be followed by more. A tenant with nothing due costs one row read.
    /// </summary>
    private static async Task<(long Horizon, bool More)?> NextHorizonAsync(
        AuthorizationDbContext db, Guid tenantId, long after, DateTimeOffset cutoff, int size, CancellationToken cancellationToken)
    {
        var oldest = (await db.Database.SqlQuery<DateTimeOffset>($"""
            SELECT "Timestamp" AS "Value" FROM tuple_changes WHERE "TenantId" = {tenantId} AND "Revision" > {after} ORDER BY "Revision" LIMIT 1
            """).ToListAsync(cancellationToken)).FirstOrDefault();
        if (oldest == default || oldest >= cutoff)
        {
            return null;
        }

        var window = (await db.Database.SqlQuery<Window>($"""
            SELECT max(c."Revision") FILTER (WHERE c."Timestamp" < {cutoff}) AS "Horizon",
                   coalesce(count(*) = {size} AND bool_and(c."Timestamp" < {cutoff}), false) AS "More"
            FROM (SELECT "Revision", "Timestamp" FROM tuple_changes
                  WHERE "TenantId" = {tenantId} AND "Revision" > {after}
                  ORDER BY "Revision" LIMIT {size}) AS c
            """).ToListAsync(cancellationToken)).Single();
        return window.Horizon is { } horizon ? (horizon, window.More) : null;
    }

    private static Task<long> DeleteUpToAsync(AuthorizationDbContext db, Guid tenantId, long horizon, CancellationToken cancellationToken) =>
        horizon == 0 ? Task.FromResult(0L)
            : BatchedDelete.RunAsync(db, "tuple_changes", "\"TenantId\" = {0} AND \"Revision\" <= {1}", [tenantId, horizon], BatchSize, cancellationToken);

    /// <summary>The revision up to which the tenant's changes are no longer kept (0 when all are).</summary>
    public static async Task<long> HorizonAsync(NpgsqlDataSource dataSource, Guid tenantId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""SELECT "ChangelogHorizon" FROM tenant_revisions WHERE "TenantId" = $1""");
        command.Parameters.AddWithValue(tenantId);
        return await command.ExecuteScalarAsync(cancellationToken) is long horizon ? horizon : 0;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Changelog retention deleted {Count} changes")]
    private static partial void LogPruned(ILogger logger, long count);
}
