using LumoAuth.Agents.Data;
using LumoAuth.Messaging.Data;
using LumoAuth.ServiceDefaults.Hosting;

namespace LumoAuth.Agents.Features.AAuth;

/// <summary>
/// Every ten minutes, for every tenant: deletes AAuth grants that can do nothing any more, a day after that — those whose
/// refresh token expired (a revoked grant stays until then, so a copied refresh token is still recognised), and those
/// that never had one and have not changed for a day (requests nobody answered, denials, codes never exchanged, grants
/// of the user level).
/// </summary>
public sealed partial class AAuthHousekeeping(IServiceScopeFactory scopeFactory, TimeProvider time, ILogger<AAuthHousekeeping> logger)
    : PeriodicJob(scopeFactory, time, logger)
{
    public static readonly TimeSpan Grace = TimeSpan.FromDays(1);

    private const int BatchSize = 5_000;

    protected override TimeSpan Interval => TimeSpan.FromMinutes(10);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var deleted = await PruneAsync(services.GetRequiredService<AgentsDbContext>(), Time.GetUtcNow(), cancellationToken);
        if (deleted > 0)
        {
            LogPruned(Logger, deleted);
        }
    }

    /// <summary>Deletes, across tenants, the grants finished as of <paramref name="now"/>; how many.</summary>
    public static Task<long> PruneAsync(AgentsDbContext db, DateTimeOffset now, CancellationToken cancellationToken) =>
        BatchedDelete.RunAsync(db, "aauth_grants",
            "\"RefreshExpiresAt\" < {0} OR (\"RefreshExpiresAt\" IS NULL AND \"UpdatedAt\" < {0})", [now - Grace], BatchSize, cancellationToken);

    [LoggerMessage(Level = LogLevel.Information, Message = "AAuth housekeeping deleted {Count} finished grants")]
    private static partial void LogPruned(ILogger logger, long count);
}
