using System.ComponentModel.DataAnnotations;
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
    [Range(typeof(TimeSpan), "01:00:00", "3650.00:00:00")]
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
    /// <summary>Changes one round looks at per tenant: a long backlog is worked through over several rounds.</summary>
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
    public static async Task<long> PruneAsync(AuthorizationDbContext db, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var tenants = await db.Revisions.IgnoreQueryFilters().AsNoTracking().Select(r => new { r.TenantId, r.ChangelogHorizon }).ToListAsync(cancellationToken);
        long deleted = 0;
        foreach (var tenant in tenants)
        {
            // The oldest changes come first along (TenantId, Revision); the last revision among them older than the cut-off
            // is the new horizon (a revision's rows share one timestamp, so whole revisions go).
            var horizon = (await db.Database.SqlQuery<long?>($"""
                SELECT max(c."Revision") AS "Value" FROM (
                    SELECT "Revision", "Timestamp" FROM tuple_changes
                    WHERE "TenantId" = {tenant.TenantId} AND "Revision" > {tenant.ChangelogHorizon}
                    ORDER BY "Revision" LIMIT {ScanPerTenant}) AS c
                WHERE c."Timestamp" < {cutoff}
                """).ToListAsync(cancellationToken)).SingleOrDefault();
            if (horizon is not { } h)
            {
                continue;
            }

            await db.Database.ExecuteSqlInterpolatedAsync($"""
                UPDATE tenant_revisions SET "ChangelogHorizon" = GREATEST("ChangelogHorizon", {h}) WHERE "TenantId" = {tenant.TenantId}
                """, cancellationToken);
            deleted += await BatchedDelete.RunAsync(db, "tuple_changes", "\"TenantId\" = {0} AND \"Revision\" <= {1}", [tenant.TenantId, h], BatchSize, cancellationToken);
        }

        return deleted;
    }

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
