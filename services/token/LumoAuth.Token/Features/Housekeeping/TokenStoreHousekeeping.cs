using LumoAuth.ServiceDefaults.Hosting;
using LumoAuth.Token.Data;
using Microsoft.EntityFrameworkCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Housekeeping;

/// <summary>
/// Every ten minutes, for every tenant: deletes what the token store no longer needs. Stored tokens (codes, refresh
/// tokens, device codes, pushed requests) and CIBA requests go a day after they expired — a redeemed refresh token
/// stays until then, so its reuse is still detected; authorizations go once no token of theirs is left, unless they are valid remembered
/// consents; sessions and remembered devices go a month after they expired (the GDPR export shows that month; a
/// revoked session stays until then too). Each delete runs in bounded batches along an index, so a backlog never holds a long lock.
/// </summary>
public sealed partial class TokenStoreHousekeeping(IServiceScopeFactory scopeFactory, TimeProvider time, ILogger<TokenStoreHousekeeping> logger)
    : PeriodicJob(scopeFactory, time, logger)
{
    /// <summary>How long an expired token is kept (clock skew, and a last look for support).</summary>
    public static readonly TimeSpan ExpiredTokenGrace = TimeSpan.FromDays(1);

    /// <summary>How long expired sessions and remembered devices stay visible.</summary>
    public static readonly TimeSpan EndedSessionHistory = TimeSpan.FromDays(30);

    private const int BatchSize = 5_000;

    protected override TimeSpan Interval => TimeSpan.FromMinutes(10);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var deleted = await PruneAsync(services.GetRequiredService<TokenDbContext>(), Time.GetUtcNow(), cancellationToken);
        if (deleted > 0)
        {
            LogPruned(Logger, deleted);
        }
    }

    /// <summary>Deletes, across tenants, what is no longer needed as of <paramref name="now"/>; returns how many rows.</summary>
    public static async Task<long> PruneAsync(TokenDbContext db, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var expiredBefore = now - ExpiredTokenGrace;
        // OpenIddict's entities keep UTC DateTime values.
        var tokensBefore = expiredBefore.UtcDateTime;
        var historyBefore = now - EndedSessionHistory;
        long deleted = 0;
        deleted += await DeleteInBatchesAsync(db.Set<TokenToken>().Where(t => t.ExpirationDate < tokensBefore), cancellationToken);
        // A grant's authorization with no token left can do nothing; one just created is about to receive its code.
        deleted += await DeleteInBatchesAsync(db.Set<TokenAuthorization>()
            .Where(a => a.CreationDate < tokensBefore && (a.Type == AuthorizationTypes.AdHoc || a.Status != Statuses.Valid) && !a.Tokens.Any()),
            cancellationToken);
        deleted += await DeleteInBatchesAsync(db.BackchannelAuthentications.Where(b => b.ExpiresAt < expiredBefore), cancellationToken);
        deleted += await DeleteInBatchesAsync(db.Sessions.Where(s => s.ExpiresAt < historyBefore), cancellationToken);
        deleted += await DeleteInBatchesAsync(db.TrustedDevices.Where(d => d.ExpiresAt < historyBefore), cancellationToken);
        return deleted;
    }

    /// <summary>Deletes the rows <paramref name="rows"/> selects, every tenant's, a batch at a time.</summary>
    private static async Task<long> DeleteInBatchesAsync<T>(IQueryable<T> rows, CancellationToken cancellationToken)
        where T : class
    {
        var batchOfEveryTenant = rows.IgnoreQueryFilters().Take(BatchSize);
        long deleted = 0;
        int batch;
        do
        {
            batch = await batchOfEveryTenant.ExecuteDeleteAsync(cancellationToken);
            deleted += batch;
        }
        while (batch == BatchSize);

        return deleted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Token store housekeeping deleted {Count} expired tokens, finished grants and old sessions")]
    private static partial void LogPruned(ILogger logger, long count);
}
