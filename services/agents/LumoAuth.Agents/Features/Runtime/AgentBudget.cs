using StackExchange.Redis;

namespace LumoAuth.Agents.Features.Runtime;

/// <summary>
/// An agent's calls per clock hour (UTC), counted in Redis so every replica sees one count. The counter of an hour
/// lives two hours. If Redis cannot be reached the call is let through, and said so in the log: a budget bounds
/// spending, not access, and an outage of the cache should not stop every agent.
/// </summary>
public sealed partial class AgentBudget(IConnectionMultiplexer redis, TimeProvider time, ILogger<AgentBudget> logger)
{
    public static string KeyFor(Guid agentId, DateTimeOffset now) => $"lumoauth:agents:calls:{agentId:N}:{now:yyyyMMddHH}";

    /// <summary>Counts this call. Null when unknown (Redis down); else the calls made this hour, this one included.</summary>
    public async Task<long?> CountCallAsync(Guid agentId)
    {
        var key = KeyFor(agentId, time.GetUtcNow());
        try
        {
            var database = redis.GetDatabase();
            var count = await database.StringIncrementAsync(key);
            if (count == 1)
            {
                await database.KeyExpireAsync(key, TimeSpan.FromHours(2), flags: CommandFlags.FireAndForget);
            }

            return count;
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            LogUncounted(logger, agentId, exception);
            return null;
        }
    }

    /// <summary>The calls made this hour, without counting one; null when Redis cannot say.</summary>
    public async Task<long?> CallsThisHourAsync(Guid agentId)
    {
        try
        {
            return (long?)await redis.GetDatabase().StringGetAsync(KeyFor(agentId, time.GetUtcNow())) ?? 0;
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            return null;
        }
    }

    /// <summary>Whole seconds until the next hour begins, when the count starts again.</summary>
    public int SecondsUntilReset()
    {
        var now = time.GetUtcNow();
        var next = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(1);
        return Math.Max(1, (int)Math.Ceiling((next - now).TotalSeconds));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis could not count a call of agent {AgentId}; its budget is not enforced for this call")]
    private static partial void LogUncounted(ILogger logger, Guid agentId, Exception exception);
}
