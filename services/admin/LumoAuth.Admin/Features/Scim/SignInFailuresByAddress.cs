using StackExchange.Redis;

namespace LumoAuth.Admin.Features.Scim;

/// <summary>
/// The per-address failed sign-in throttle for SCIM's HTTP Basic, a password check like the hosted login. It reads and
/// writes the token service's count (<c>FailedSignInThrottle</c>: same key, fields and rules), so failures on either path
/// count for both: 20 free per address and tenant, then waits doubling from 1 s (at most 5 minutes), blocked after 100
/// until 15 minutes pass without one. Redis down: no throttle, as there (the account lockout still applies).
/// </summary>
public sealed partial class SignInFailuresByAddress(IConnectionMultiplexer redis, TimeProvider time, ILogger<SignInFailuresByAddress> logger)
{
    public const int FreeFailures = 20;
    public const int BlockAfter = 100;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(15);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromMinutes(5);

    /// <summary>Must stay the token service's key: the count is one.</summary>
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
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            LogUnavailable(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis is unavailable: failed SCIM Basic sign-ins are not throttled by address")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}
