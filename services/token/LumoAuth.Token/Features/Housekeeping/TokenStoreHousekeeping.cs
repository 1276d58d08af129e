using LumoAuth.Messaging.Data;
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
/// Whether a grant still holds a token can only be told by looking, and long-lived grants keep theirs for months: so each round
/// looks at a bounded slice of the grants, going on where the last round stopped (<see cref="GrantSweep"/>), instead of
/// rereading every live grant of every tenant every ten minutes.
/// </summary>
public sealed partial class TokenStoreHousekeeping(IServiceScopeFactory scopeFactory, TimeProvider time, ILogger<TokenStoreHousekeeping> logger)
    : PeriodicJob(scopeFactory, time, logger)
{
    /// <summary>How long an expired token is kept (clock skew, and a last look for support).</summary>
    public static readonly TimeSpan ExpiredTokenGrace = TimeSpan.FromDays(1);

    /// <summary>How long expired sessions and remembered devices stay visible.</summary>
    public static readonly TimeSpan EndedSessionHistory = TimeSpan.FromDays(30);

    private const int BatchSize = 5_000;

    private readonly GrantSweep _grants = new();

    protected override TimeSpan Interval => TimeSpan.FromMinutes(10);

    protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var deleted = await PruneAsync(services.GetRequiredService<TokenDbContext>(), Time.GetUtcNow(), _grants, cancellationToken);
        if (deleted > 0)
        {
            LogPruned(Logger, deleted);
        }
    }

    /// <summary>Deletes, across tenants, what is no longer needed as of <paramref name="now"/>; returns how many rows.</summary>
    public static async Task<long> PruneAsync(TokenDbContext db, DateTimeOffset now, GrantSweep grants, CancellationToken cancellationToken)
    {
        var expiredBefore = now - ExpiredTokenGrace;
        // OpenIddict's entities keep UTC DateTime values.
        var tokensBefore = expiredBefore.UtcDateTime;
        var historyBefore = now - EndedSessionHistory;
        long deleted = 0;
        deleted += await BatchedDelete.BeforeAsync<TokenToken>(db, nameof(TokenToken.ExpirationDate), tokensBefore, BatchSize, cancellationToken);
        deleted += await grants.DeleteFinishedAsync(db, tokensBefore, cancellationToken);
        deleted += await BatchedDelete.BeforeAsync<BackchannelAuthentication>(db, nameof(BackchannelAuthentication.ExpiresAt), expiredBefore, BatchSize, cancellationToken);
        deleted += await BatchedDelete.BeforeAsync<BrowserSession>(db, nameof(BrowserSession.ExpiresAt), historyBefore, BatchSize, cancellationToken);
        deleted += await BatchedDelete.BeforeAsync<TrustedDevice>(db, nameof(TrustedDevice.ExpiresAt), historyBefore, BatchSize, cancellationToken);
        return deleted;
    }

    /// <summary>
    /// Walks the grants (OpenIddict authorizations) in key order, <see cref="SliceSize"/> at a time and at most
    /// <see cref="SlicesPerRound"/> slices a round, deleting those that can do nothing any more: no token left, and
    /// either ad hoc (a single sign-in's grant) or no longer valid (a revoked consent). A grant just created is spared:
    /// it is about to receive its code. A store of up to <c>SliceSize × SlicesPerRound</c> grants is walked whole every
    /// round; a larger one in several. The position is this process's own: after a restart the walk begins again,
    /// and replicas walk independently (a grant deleted twice is deleted once).
    /// </summary>
    public sealed class GrantSweep(int sliceSize = 5_000, int slicesPerRound = 20)
    {
        private Guid? _after;

        public int SliceSize { get; } = sliceSize;

        public int SlicesPerRound { get; } = slicesPerRound;

        /// <summary>Deletes the finished grants created before <paramref name="createdBefore"/> of this round's slices.</summary>
        public async Task<long> DeleteFinishedAsync(TokenDbContext db, DateTime createdBefore, CancellationToken cancellationToken)
        {
            var grants = db.Set<TokenAuthorization>().IgnoreQueryFilters();
            long deleted = 0;
            for (var slice = 0; slice < SlicesPerRound; slice++)
            {
                var after = _after;
                var rest = after is { } start ? grants.Where(a => a.Id.CompareTo(start) > 0) : grants;
                // The slice's last key; none when fewer than a slice are left, and then this slice ends the walk.
                var last = await rest.OrderBy(a => a.Id).Skip(SliceSize - 1).Select(a => (Guid?)a.Id).FirstOrDefaultAsync(cancellationToken);
                var inSlice = last is { } end ? rest.Where(a => a.Id.CompareTo(end) <= 0) : rest;
                deleted += await inSlice
                    .Where(a => a.CreationDate < createdBefore && (a.Type == AuthorizationTypes.AdHoc || a.Status != Statuses.Valid) && !a.Tokens.Any())
                    .ExecuteDeleteAsync(cancellationToken);
                _after = last;
                if (last is null)
                {
                    break;
                }
            }

            return deleted;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Token store housekeeping deleted {Count} expired tokens, finished grants and old sessions")]
    private static partial void LogPruned(ILogger logger, long count);
}
