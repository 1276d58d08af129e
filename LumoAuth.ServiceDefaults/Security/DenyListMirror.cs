using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>
/// This process's copy of the Redis deny-list, refreshed every few seconds from an index that every revocation
/// also writes (a sorted set scored by expiry). Bearer validation asks Redis on every request and consults this
/// copy only while Redis is unreachable, so revocations made before an outage stay enforced during it (and
/// revocations cannot be made during one: the writer gets an error). Entries are few and short-lived: they live
/// only as long as the tokens they deny.
/// </summary>
public sealed partial class DenyListMirror(IConnectionMultiplexer redis, TimeProvider time)
{
    public static readonly RedisKey IndexKey = "lumoauth:revoked-index";

    private const char Separator = '|';
    private const string JtiKind = "j";
    private const string ClientKind = "c";

    private volatile Snapshot _snapshot = Snapshot.Empty;

    /// <summary>When the copy was last read from Redis (null: never).</summary>
    public DateTimeOffset? RefreshedAt => _snapshot.RefreshedAt;

    /// <summary>The index member for a revoked token.</summary>
    public static RedisValue JtiMember(Guid tenantId, string jti) => string.Join(Separator, JtiKind, tenantId.ToString("N"), jti);

    /// <summary>The index member for a client's cut-off (a later cut-off adds a member; the highest one counts).</summary>
    public static RedisValue ClientMember(Guid tenantId, string clientId, long cutOff) =>
        string.Join(Separator, ClientKind, tenantId.ToString("N"), cutOff.ToString(CultureInfo.InvariantCulture), clientId);

    /// <summary>Reads the live part of the index and drops what has expired. Throws <see cref="RedisException"/> when Redis is unreachable.</summary>
    public async Task RefreshAsync()
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var db = redis.GetDatabase();
        await db.SortedSetRemoveRangeByScoreAsync(IndexKey, double.NegativeInfinity, now, Exclude.Stop);
        var members = await db.SortedSetRangeByScoreAsync(IndexKey, now, double.PositiveInfinity);
        var jtis = new HashSet<(Guid, string)>();
        var cutOffs = new Dictionary<(Guid, string), long>();
        foreach (var member in members)
        {
            var parts = member.ToString().Split(Separator, 4);
            if (parts.Length < 3 || !Guid.TryParseExact(parts[1], "N", out var tenantId))
            {
                continue;
            }

            if (parts[0] == JtiKind)
            {
                jtis.Add((tenantId, string.Join(Separator, parts[2..])));
            }
            else if (parts[0] == ClientKind && parts.Length == 4 && long.TryParse(parts[2], CultureInfo.InvariantCulture, out var cutOff))
            {
                var key = (tenantId, parts[3]);
                cutOffs[key] = Math.Max(cutOff, cutOffs.GetValueOrDefault(key, long.MinValue));
            }
        }

        _snapshot = new Snapshot(jtis, cutOffs, time.GetUtcNow());
    }

    /// <summary>The decision from the last copy, for when Redis cannot be asked.</summary>
    public bool IsRevoked(Guid tenantId, AccessTokenFacts token)
    {
        var snapshot = _snapshot;
        if (token.Jti is { } jti && snapshot.Jtis.Contains((tenantId, jti)))
        {
            return true;
        }

        return token.ClientId is { } clientId
            && snapshot.CutOffs.TryGetValue((tenantId, clientId), out var cutOff)
            && RedisAccessTokenDenyList.IssuedByCutOff(token.IssuedAt, cutOff);
    }

    private sealed record Snapshot(HashSet<(Guid, string)> Jtis, Dictionary<(Guid, string), long> CutOffs, DateTimeOffset? RefreshedAt)
    {
        public static readonly Snapshot Empty = new([], [], null);
    }

    /// <summary>Keeps the copy fresh; while Redis is down the last copy stays.</summary>
    public sealed partial class Refresher(DenyListMirror mirror, ILogger<Refresher> logger) : BackgroundService
    {
        public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            using var timer = new PeriodicTimer(Interval);
            try
            {
                do
                {
                    try
                    {
                        await mirror.RefreshAsync();
                    }
                    catch (RedisException ex)
                    {
                        LogRefreshFailed(logger, ex, mirror.RefreshedAt);
                    }
                }
                while (await timer.WaitForNextTickAsync(stoppingToken));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
            }
        }

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not refresh the deny-list copy from Redis; keeping the one read at {RefreshedAt}")]
        private static partial void LogRefreshFailed(ILogger logger, Exception exception, DateTimeOffset? refreshedAt);
    }
}
