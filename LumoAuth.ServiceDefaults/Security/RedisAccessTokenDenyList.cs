using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>
/// Revoked stateless access tokens, shared by every service through Redis: single tokens by <c>jti</c>, all of a
/// client's tokens issued up to a cut-off (the client was deactivated or deleted), and all of a user's issued before one. An entry lives exactly
/// as long as a token it denies could still be accepted (its expiry plus clock skew), so the list stays small.
/// The token service writes it (revocation, session and user revocation, client deactivation); every service's
/// bearer validation and the token service's introspection read it, every kind in one round trip, and also ask this
/// process's <see cref="DenyListMirror"/> (in memory): a revocation Redis lost (a crash between its writes to disk) stays
/// enforced while the copy knows it.
/// </summary>
public sealed partial class RedisAccessTokenDenyList(
    IConnectionMultiplexer redis, DenyListMirror mirror, TimeProvider time, ILogger<RedisAccessTokenDenyList> logger) : IAccessTokenDenyList
{
    /// <summary>Bearer validation allows this much clock skew, so an entry outlives the token's <c>exp</c> by as much.</summary>
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(60);

    private const int MaxIdentifierLength = 200;

    public static RedisKey KeyFor(Guid tenantId, string jti) => $"lumoauth:revoked-jti:{tenantId:N}:{jti}";

    public static RedisKey ClientKeyFor(Guid tenantId, string clientId) => $"lumoauth:revoked-client:{tenantId:N}:{clientId}";

    /// <summary>A user's cut-off: their access tokens issued before the second it holds are void.</summary>
    public static RedisKey UserKeyFor(Guid tenantId, string subject) => $"lumoauth:revoked-user:{tenantId:N}:{subject}";

    public async ValueTask<bool> IsRevokedAsync(Guid tenantId, AccessTokenFacts token, CancellationToken cancellationToken)
    {
        var jti = Usable(token.Jti);
        var clientId = Usable(token.ClientId);
        var subject = Usable(token.UserSubject);
        if (jti is null && clientId is null && subject is null)
        {
            return false;
        }

        // One round trip for every kind; each kind's place in the answer is fixed by which are asked.
        var keys = new List<RedisKey>(3);
        if (jti is not null)
        {
            keys.Add(KeyFor(tenantId, jti));
        }

        if (clientId is not null)
        {
            keys.Add(ClientKeyFor(tenantId, clientId));
        }

        if (subject is not null)
        {
            keys.Add(UserKeyFor(tenantId, subject));
        }

        try
        {
            var values = await redis.GetDatabase().StringGetAsync([.. keys]);
            var at = 0;
            if (jti is not null && values[at++].HasValue)
            {
                return true;
            }

            var clientCutOff = clientId is null ? RedisValue.Null : values[at++];
            if (subject is not null && values[at].HasValue && IssuedBeforeUserCutOff(token.IssuedAt, values[at]))
            {
                return true;
            }

            if (clientCutOff.HasValue)
            {
                // The client's current cut-off: Redis's is the latest (a reactivation moves it back before the copy hears).
                return IssuedByCutOff(token.IssuedAt, clientCutOff) || mirror.IsRevoked(tenantId, token with { ClientId = null });
            }

            // Redis says "not revoked"; the copy may still know a revocation Redis lost (restarted from an older file).
            return mirror.IsRevoked(tenantId, token);
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            // Redis is out: decide from this process's recent copy rather than refuse every token (an outage must
            // not stop every API) or accept revoked ones.
            LogUnavailable(logger, ex, mirror.RefreshedAt);
            return mirror.IsRevoked(tenantId, token);
        }
    }

    private static string? Usable(string? identifier) => identifier is { Length: > 0 and <= MaxIdentifierLength } ? identifier : null;

    /// <summary>Denies the token until it would have expired anyway. Throws <see cref="RedisException"/> when Redis is unreachable.</summary>
    public async Task RevokeAsync(Guid tenantId, string jti, DateTimeOffset expiresAt)
    {
        var ttl = expiresAt - time.GetUtcNow() + Skew;
        if (ttl <= TimeSpan.Zero)
        {
            return;
        }

        await WriteAsync(KeyFor(tenantId, jti), "1", ttl, until => DenyListMirror.JtiLine(tenantId, jti, until));
    }

    /// <summary>
    /// Voids every access token of the client issued up to now plus <paramref name="ahead"/> (its <c>iat</c> at or before
    /// that second), for as long as the longest-lived of them could still be accepted. Each call replaces the cut-off,
    /// also with an earlier one: a reactivated client's cut-off goes back to now (with <paramref name="ahead"/> zero).
    /// Throws <see cref="RedisException"/> when Redis is unreachable.
    /// </summary>
    /// <param name="ahead">
    /// How far past now the cut-off lies, so that tokens issued meanwhile by replicas that have not yet heard of the change
    /// (a client they still hold in cache) are void too. Zero or more.
    /// </param>
    public async Task RevokeClientTokensAsync(Guid tenantId, string clientId, TimeSpan longestAccessTokenLifetime, TimeSpan ahead = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ahead, TimeSpan.Zero);
        var cutOff = (time.GetUtcNow() + ahead).ToUnixTimeSeconds();
        await WriteAsync(
            ClientKeyFor(tenantId, clientId), cutOff.ToString(System.Globalization.CultureInfo.InvariantCulture), ahead + longestAccessTokenLifetime + Skew,
            until => DenyListMirror.ClientLine(tenantId, clientId, cutOff, until));
    }

    /// <summary>
    /// Voids every access token of the user (<paramref name="subject"/>) issued before <paramref name="issuedBefore"/>'s second,
    /// for as long as the longest-lived of them could still be accepted; a later cut-off already set stays (it voids more).
    /// Covers tokens no index names (issued while the user's index could not be written). Tokens of that very second stay,
    /// so a sign-in right after is not refused; the token service's index denies those of them it knows.
    /// Throws <see cref="RedisException"/> when Redis is unreachable.
    /// </summary>
    public async Task RevokeUserTokensAsync(Guid tenantId, string subject, DateTimeOffset issuedBefore, TimeSpan longestAccessTokenLifetime)
    {
        var ttl = issuedBefore - time.GetUtcNow() + longestAccessTokenLifetime + Skew;
        if (ttl <= TimeSpan.Zero)
        {
            return;
        }

        var cutOff = issuedBefore.ToUnixTimeSeconds();
        var transaction = redis.GetDatabase().CreateTransaction();
        _ = transaction.ScriptEvaluateAsync(KeepLaterCutOff, [UserKeyFor(tenantId, subject)], [cutOff, (long)ttl.TotalMilliseconds]);
        _ = DenyListMirror.AppendAsync(transaction, DenyListMirror.UserLine(tenantId, subject, cutOff, (time.GetUtcNow() + ttl).ToUnixTimeSeconds()));
        if (!await transaction.ExecuteAsync())
        {
            throw new RedisException("The deny-list write was not applied.");
        }
    }

    /// <summary>Sets the cut-off unless a later one is there (events about a user may be handled out of order).</summary>
    private const string KeepLaterCutOff = """
        local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
        if current == nil or current < tonumber(ARGV[1]) then
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        end
        return 1
        """;

    /// <summary>The entry and its line in the mirrors' log, together or not at all; the log drops lines that have expired.</summary>
    private async Task WriteAsync(RedisKey key, RedisValue value, TimeSpan ttl, Func<long, NameValueEntry[]> logLine)
    {
        var now = time.GetUtcNow();
        var transaction = redis.GetDatabase().CreateTransaction();
        _ = transaction.StringSetAsync(key, value, ttl);
        _ = DenyListMirror.AppendAsync(transaction, logLine((now + ttl).ToUnixTimeSeconds()));
        if (!await transaction.ExecuteAsync())
        {
            throw new RedisException("The deny-list write was not applied.");
        }
    }

    /// <summary>A stored cut-off's second; an unreadable one voids everything (null), as a cut-off of the far future would.</summary>
    private static long? CutOffOf(RedisValue cutOff) =>
        long.TryParse(cutOff.ToString(), System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var seconds) ? seconds : null;

    private static bool IssuedByCutOff(DateTimeOffset? issuedAt, RedisValue cutOff) =>
        CutOffOf(cutOff) is not { } seconds || IssuedByCutOff(issuedAt, seconds);

    /// <summary>
    /// Whether a client's cut-off voids a token issued at <paramref name="issuedAt"/> (also the mirror's rule). A token
    /// without a readable iat cannot show it came after the cut-off, so it is refused.
    /// </summary>
    internal static bool IssuedByCutOff(DateTimeOffset? issuedAt, long cutOff) =>
        issuedAt is null || issuedAt.Value.ToUnixTimeSeconds() <= cutOff;

    private static bool IssuedBeforeUserCutOff(DateTimeOffset? issuedAt, RedisValue cutOff) =>
        CutOffOf(cutOff) is not { } seconds || IssuedBeforeUserCutOff(issuedAt, seconds);

    /// <summary>
    /// Whether a user's cut-off voids a token issued at <paramref name="issuedAt"/> (also the mirror's rule): issued before the
    /// cut-off's second. A token without a readable iat cannot show it came after, so it is refused.
    /// </summary>
    internal static bool IssuedBeforeUserCutOff(DateTimeOffset? issuedAt, long cutOff) =>
        issuedAt is null || issuedAt.Value.ToUnixTimeSeconds() < cutOff;

    [LoggerMessage(Level = LogLevel.Warning, Message = "The access-token deny-list is unavailable; deciding from the copy read at {RefreshedAt}")]
    private static partial void LogUnavailable(ILogger logger, Exception exception, DateTimeOffset? refreshedAt);
}

public static class RedisDenyListExtensions
{
    /// <summary>
    /// Registers the Redis deny-list (and a shared <see cref="IConnectionMultiplexer"/> for <c>ConnectionStrings:redis</c>
    /// unless one is registered) so this service's bearer validation refuses revoked access tokens.
    /// </summary>
    public static IHostApplicationBuilder AddRedisAccessTokenDenyList(this IHostApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString(ServiceNames.Redis)
            ?? throw new InvalidOperationException($"Connection string '{ServiceNames.Redis}' is missing.");
        builder.Services.TryAddSingleton<IConnectionMultiplexer>(_ =>
        {
            var options = ConfigurationOptions.Parse(connectionString);
            // Start and keep retrying while Redis is down instead of failing the service's start; while it is down,
            // commands fail at once instead of queueing (a bearer check must not wait seconds for an answer).
            options.AbortOnConnectFail = false;
            options.BacklogPolicy = BacklogPolicy.FailFast;
            // Keys name clients' addresses and token ids: exceptions, which get logged, must not quote them.
            options.IncludeDetailInExceptions = false;
            return ConnectionMultiplexer.Connect(options);
        });
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<RedisAccessTokenDenyList>();
        if (builder.Services.All(d => d.ServiceType != typeof(DenyListMirror)))
        {
            builder.Services.AddSingleton<DenyListMirror>();
            builder.Services.AddHostedService<DenyListMirror.Refresher>();
        }

        // Idempotent: the token service and AddTenantServices may both ask for it.
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IAccessTokenDenyList, RedisAccessTokenDenyList>());
        return builder;
    }
}
