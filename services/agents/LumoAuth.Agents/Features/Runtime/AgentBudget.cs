using System.Globalization;
using LumoAuth.Agents.Data;
using StackExchange.Redis;

namespace LumoAuth.Agents.Features.Runtime;

/// <summary>
/// An agent's budget, counted in Redis so every replica sees one count: calls per clock hour, model tokens per day and
/// spending per month (UTC; tokens and spending as the agent reports them, <c>POST /agents/me/usage</c>). A counter
/// lives a little longer than its window. If Redis cannot be reached the call is let through, and said so in the log: a
/// budget bounds spending, not access, and an outage of the cache should not stop every agent.
/// </summary>
public sealed partial class AgentBudget(IConnectionMultiplexer redis, TimeProvider time, ILogger<AgentBudget> logger)
{
    /// <summary>Spending is counted in millionths of a dollar (Redis counts whole numbers).</summary>
    private const decimal MicroDollars = 1_000_000m;

    public static string CallsKey(Guid agentId, DateTimeOffset now) => $"lumoauth:agents:calls:{agentId:N}:{now:yyyyMMddHH}";

    public static string TokensKey(Guid agentId, DateTimeOffset now) => $"lumoauth:agents:tokens:{agentId:N}:{now:yyyyMMdd}";

    public static string CostKey(Guid agentId, DateTimeOffset now) => $"lumoauth:agents:cost:{agentId:N}:{now:yyyyMM}";

    /// <summary>Counts this call. Null when unknown (Redis down); else the calls made this hour, this one included.</summary>
    public async Task<long?> CountCallAsync(Guid agentId)
    {
        var key = CallsKey(agentId, time.GetUtcNow());
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

    /// <summary>The limit of the agent's day or month that is used up, with the seconds until it resets; null when none is.</summary>
    public async Task<(string Limit, decimal Maximum, int RetryAfter)?> ExhaustedAsync(Agent agent)
    {
        if (agent.MaxTokensPerDay is null && agent.MaxCostPerMonthUsd is null)
        {
            return null;
        }

        var usage = await UsageAsync(agent.Id);
        if (usage is null)
        {
            return null;
        }

        var now = time.GetUtcNow();
        if (agent.MaxTokensPerDay is { } tokens && usage.Value.TokensToday >= tokens)
        {
            return ("max_tokens_per_day", tokens, Until(new DateTimeOffset(now.Year, now.Month, now.Day, 0, 0, 0, TimeSpan.Zero).AddDays(1), now));
        }

        if (agent.MaxCostPerMonthUsd is { } cost && usage.Value.CostThisMonthUsd >= cost)
        {
            return ("max_cost_per_month_usd", cost, Until(new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1), now));
        }

        return null;
    }

    /// <summary>Adds reported use to the day's tokens and the month's spending. Throws when Redis is out (nothing may be lost silently).</summary>
    public async Task RecordUsageAsync(Guid agentId, long tokens, decimal costUsd)
    {
        var now = time.GetUtcNow();
        var database = redis.GetDatabase();
        var batch = database.CreateBatch();
        var tokensKey = TokensKey(agentId, now);
        var costKey = CostKey(agentId, now);
        var writes = new List<Task>
        {
            batch.StringIncrementAsync(tokensKey, tokens),
            batch.KeyExpireAsync(tokensKey, TimeSpan.FromDays(2)),
            batch.StringIncrementAsync(costKey, (long)decimal.Round(costUsd * MicroDollars)),
            batch.KeyExpireAsync(costKey, TimeSpan.FromDays(33)),
        };
        batch.Execute();
        await Task.WhenAll(writes);
    }

    /// <summary>What was used this hour, day and month; null when Redis cannot say.</summary>
    public async Task<(long CallsThisHour, long TokensToday, decimal CostThisMonthUsd)?> UsageAsync(Guid agentId)
    {
        var now = time.GetUtcNow();
        try
        {
            var values = await redis.GetDatabase().StringGetAsync([CallsKey(agentId, now), TokensKey(agentId, now), CostKey(agentId, now)]);
            return ((long?)values[0] ?? 0, (long?)values[1] ?? 0, ((long?)values[2] ?? 0) / MicroDollars);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            LogUncounted(logger, agentId, exception);
            return null;
        }
    }

    /// <summary>True only for the first refusal of <paramref name="limit"/> in its window (to audit it once, not on every call).</summary>
    public async Task<bool> FirstRefusalAsync(Guid agentId, string limit, int windowSeconds)
    {
        try
        {
            return await redis.GetDatabase().StringSetAsync(
                $"lumoauth:agents:refused:{agentId:N}:{limit}", 1, TimeSpan.FromSeconds(windowSeconds), When.NotExists);
        }
        catch (Exception exception) when (exception is RedisException or TimeoutException)
        {
            LogUncounted(logger, agentId, exception);
            return false;
        }
    }

    /// <summary>Whole seconds until the next hour begins, when the call count starts again.</summary>
    public int SecondsUntilReset()
    {
        var now = time.GetUtcNow();
        return Until(new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero).AddHours(1), now);
    }

    public static string Money(decimal value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    private static int Until(DateTimeOffset next, DateTimeOffset now) => Math.Max(1, (int)Math.Ceiling((next - now).TotalSeconds));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis could not count or read the budget of agent {AgentId}; its budget is not enforced for this call")]
    private static partial void LogUncounted(ILogger logger, Guid agentId, Exception exception);
}
