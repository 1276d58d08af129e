using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>
/// Slows down password guessing from one address across many accounts (credential stuffing), which the per-account
/// lockout does not see. Failed sign-ins of an address at a tenant are counted in Redis (all replicas share the count)
/// for 15 minutes after the last one: the first twenty are free (an office behind one address has typos too), then each
/// next attempt must wait twice as long as the one before (1 s, 2 s, 4 s … at most 5 minutes), and after 100 the address is blocked until 15 minutes pass without a
/// failure. Waiting is asked of the caller (429 with Retry-After), never done by holding a request. Unknown and known
/// accounts count the same, so the throttle says nothing about who has an account. Redis down: no throttle (the
/// account lockout and the per-minute rate limit still apply). Every password check counts here — the hosted login and
/// registration (token service) and SCIM HTTP Basic (admin) — so one count covers all of them.
/// </summary>
public sealed partial class FailedSignInThrottle(IConnectionMultiplexer redis, TimeProvider time, ILogger<FailedSignInThrottle> logger)
{
    public const int FreeFailures = 20;
    public const int BlockAfter = 100;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromMinutes(5);

    public static string KeyFor(Guid tenantId, string? address) => $"lumo:signin-failures:{tenantId:N}:{address ?? "unknown"}";

    /// <summary>How long the address must still wait before its next attempt; null when it may try now.</summary>
    public async Task<TimeSpan?> WaitAsync(Guid tenantId, string? address)
    {
        try
        {
            var key = KeyFor(tenantId, address);
            var fields = await redis.GetDatabase().HashGetAsync(key, ["n", "last"]);
            if (!fields[0].TryParse(out long failures) || failures < FreeFailures)
            {
                return null;
            }

            if (failures >= BlockAfter)
            {
                return await redis.GetDatabase().KeyTimeToLiveAsync(key) is { } left && left > TimeSpan.Zero ? left : null;
            }

            var delay = TimeSpan.FromSeconds(Math.Min(Math.Pow(2, failures - FreeFailures), MaxDelay.TotalSeconds));
            var last = fields[1].TryParse(out long lastMs) ? DateTimeOffset.FromUnixTimeMilliseconds(lastMs) : DateTimeOffset.MinValue;
            var wait = last + delay - time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : null;
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            LogUnavailable(logger, ex);
            return null;
        }
    }

    public async Task RecordFailureAsync(Guid tenantId, string? address)
    {
        try
        {
            var key = KeyFor(tenantId, address);
            var batch = redis.GetDatabase().CreateBatch();
            var counted = batch.HashIncrementAsync(key, "n");
            var stamped = batch.HashSetAsync(key, "last", time.GetUtcNow().ToUnixTimeMilliseconds());
            var expiring = batch.KeyExpireAsync(key, Window);
            batch.Execute();
            await Task.WhenAll(counted, stamped, expiring);
            if (await counted == BlockAfter)
            {
                LogBlocked(logger, tenantId, address ?? "unknown", BlockAfter);
            }
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            LogUnavailable(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sign-ins from {Address} at tenant {TenantId} are blocked for a while after {Failures} failures")]
    private static partial void LogBlocked(ILogger logger, Guid tenantId, string address, int failures);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unavailable: failed sign-ins are not throttled by address")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}
