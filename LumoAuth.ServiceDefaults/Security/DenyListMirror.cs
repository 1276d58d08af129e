using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>
/// This process's copy of the Redis deny-list. Every revocation also appends a line (what is denied, and until when)
/// to a Redis stream; the copy reads only the lines added since its last read, every few seconds, and forgets
/// entries as they expire. Bearer validation asks Redis on every request and this copy too: revocations made before
/// an outage stay enforced during it (and revocations cannot be made during one: the writer gets an error), and so do
/// those Redis lost when it restarted from an older file.
/// </summary>
public sealed partial class DenyListMirror(IConnectionMultiplexer redis, TimeProvider time)
{
    public static readonly RedisKey LogKey = "lumoauth:revoked-log";

    /// <summary>
    /// How long the stream keeps a line: longer than any entry lives (an access token lives at most 24 h, and an entry
    /// a minute of clock skew longer), so trimming only ever drops lines that have expired.
    /// </summary>
    public static readonly TimeSpan LogHorizon = TimeSpan.FromHours(25);

    /// <summary>Lines read per round trip, so a copy that starts late catches up in bounded steps.</summary>
    private const int ReadBatch = 1_000;

    private const char Separator = '|';
    private const string JtiKind = "j";
    private const string ClientKind = "c";
    private const string UserKind = "u";
    private static readonly RedisValue MemberField = "m";
    private static readonly RedisValue ExpiryField = "e";

    // Written by one refresh at a time (under _gate), read by every bearer validation without a lock.
    private readonly Lock _gate = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(Guid Tenant, string Jti), long> _jtis = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(Guid Tenant, string ClientId), (long CutOff, long Expiry)> _cutOffs = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(Guid Tenant, string Subject), (long CutOff, long Expiry)> _userCutOffs = new();
    private RedisValue _position = "0-0";
    private DateTimeOffset? _refreshedAt;

    /// <summary>When the copy was last brought up to date with Redis (null: never).</summary>
    public DateTimeOffset? RefreshedAt
    {
        get
        {
            lock (_gate)
            {
                return _refreshedAt;
            }
        }
    }

    /// <summary>The log line for a revoked token.</summary>
    public static NameValueEntry[] JtiLine(Guid tenantId, string jti, long expiresAt) =>
        Line(string.Join(Separator, JtiKind, tenantId.ToString("N"), jti), expiresAt);

    /// <summary>
    /// The log line for a client's cut-off. Each line replaces the one before, as each write replaces the key (the two
    /// are written in one transaction, so the log's order is the key's): a reactivation moves a cut-off back.
    /// </summary>
    public static NameValueEntry[] ClientLine(Guid tenantId, string clientId, long cutOff, long expiresAt) =>
        Line(string.Join(Separator, ClientKind, tenantId.ToString("N"), cutOff.ToString(CultureInfo.InvariantCulture), clientId), expiresAt);

    /// <summary>The log line for a user's cut-off; of several lines for one user, the latest cut-off holds (as in Redis).</summary>
    public static NameValueEntry[] UserLine(Guid tenantId, string subject, long cutOff, long expiresAt) =>
        Line(string.Join(Separator, UserKind, tenantId.ToString("N"), cutOff.ToString(CultureInfo.InvariantCulture), subject), expiresAt);

    /// <summary>
    /// Appends a line and drops those older than <see cref="LogHorizon"/>, measured on Redis's clock, which gave the
    /// stream its ids: a writer whose own clock runs ahead (skew, or a test's moved clock) cannot trim lines still alive.
    /// </summary>
    private const string AppendAndTrim = """
        local id = redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[3], ARGV[4], ARGV[5])
        local ms = tonumber(string.match(id, '^(%d+)'))
        redis.call('XTRIM', KEYS[1], 'MINID', '~', ms - tonumber(ARGV[1]))
        return id
        """;

    /// <summary>Appends <paramref name="line"/> to the log as part of <paramref name="transaction"/>.</summary>
    public static Task AppendAsync(ITransaction transaction, NameValueEntry[] line) =>
        transaction.ScriptEvaluateAsync(AppendAndTrim, [LogKey],
            [(long)LogHorizon.TotalMilliseconds, line[0].Name, line[0].Value, line[1].Name, line[1].Value]);

    private static NameValueEntry[] Line(string member, long expiresAt) =>
        [new(MemberField, member), new(ExpiryField, expiresAt)];

    /// <summary>
    /// Reads the lines added since the last read and drops what has expired. Throws <see cref="RedisException"/> when
    /// Redis is unreachable (the copy then stays as it was).
    /// </summary>
    public async Task RefreshAsync()
    {
        var db = redis.GetDatabase();
        RedisValue position;
        lock (_gate)
        {
            position = _position;
        }

        StreamEntry[] lines;
        do
        {
            lines = await db.StreamReadAsync(LogKey, position, ReadBatch);
            if (lines.Length == 0)
            {
                break;
            }

            lock (_gate)
            {
                foreach (var line in lines)
                {
                    Apply(line);
                }

                _position = position = lines[^1].Id;
            }
        }
        while (lines.Length == ReadBatch);

        var now = time.GetUtcNow();
        lock (_gate)
        {
            Expire(now.ToUnixTimeSeconds());
            _refreshedAt = now;
        }
    }

    /// <summary>The decision from the copy: what this process has seen revoked, whatever Redis says or cannot say.</summary>
    public bool IsRevoked(Guid tenantId, AccessTokenFacts token)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        if (token.Jti is { } jti && _jtis.TryGetValue((tenantId, jti), out var expiry) && expiry > now)
        {
            return true;
        }

        if (token.UserSubject is { } subject && _userCutOffs.TryGetValue((tenantId, subject), out var user) && user.Expiry > now
            && RedisAccessTokenDenyList.IssuedBeforeUserCutOff(token.IssuedAt, user.CutOff))
        {
            return true;
        }

        return token.ClientId is { } clientId && _cutOffs.TryGetValue((tenantId, clientId), out var latest) && latest.Expiry > now
               && RedisAccessTokenDenyList.IssuedByCutOff(token.IssuedAt, latest.CutOff);
    }

    private void Apply(StreamEntry line)
    {
        var member = line[MemberField].ToString();
        if (!long.TryParse(line[ExpiryField].ToString(), CultureInfo.InvariantCulture, out var expiresAt))
        {
            return;
        }

        var parts = member.Split(Separator, 4);
        if (parts.Length < 3 || !Guid.TryParseExact(parts[1], "N", out var tenantId))
        {
            return;
        }

        if (parts[0] == JtiKind)
        {
            var key = (tenantId, string.Join(Separator, parts[2..]));
            _jtis[key] = Math.Max(expiresAt, _jtis.GetValueOrDefault(key));
        }
        else if (parts[0] == ClientKind && parts.Length == 4 && long.TryParse(parts[2], CultureInfo.InvariantCulture, out var cutOff))
        {
            _cutOffs[(tenantId, parts[3])] = (cutOff, expiresAt);
        }
        else if (parts[0] == UserKind && parts.Length == 4 && long.TryParse(parts[2], CultureInfo.InvariantCulture, out var userCutOff))
        {
            var key = (tenantId, parts[3]);
            _userCutOffs[key] = _userCutOffs.TryGetValue(key, out var earlier) && earlier.CutOff > userCutOff ? earlier : (userCutOff, expiresAt);
        }
    }

    private void Expire(long now)
    {
        Sweep(_jtis, expiry => expiry <= now);
        Sweep(_cutOffs, latest => latest.Expiry <= now);
        Sweep(_userCutOffs, latest => latest.Expiry <= now);
    }

    private static void Sweep<TKey, TValue>(System.Collections.Concurrent.ConcurrentDictionary<TKey, TValue> entries, Func<TValue, bool> expired)
        where TKey : notnull
    {
        foreach (var (key, value) in entries)
        {
            if (expired(value))
            {
                entries.TryRemove(key, out _);
            }
        }
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
                    catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
                    {
                        LogRefreshFailed(logger, ex, mirror.RefreshedAt);
                    }
                    catch (Exception ex)
                    {
                        // Anything else (a bug, a line we cannot handle) must not end the loop: an exception leaving
                        // ExecuteAsync stops the whole service (BackgroundServiceExceptionBehavior.StopHost).
                        LogRefreshCrashed(logger, ex, mirror.RefreshedAt);
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

        [LoggerMessage(Level = LogLevel.Error, Message = "Refreshing the deny-list copy failed unexpectedly; keeping the one read at {RefreshedAt} and trying again")]
        private static partial void LogRefreshCrashed(ILogger logger, Exception exception, DateTimeOffset? refreshedAt);
    }
}
