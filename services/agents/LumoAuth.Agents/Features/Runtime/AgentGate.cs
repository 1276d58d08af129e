using System.Globalization;
using System.Net;
using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.Registry;
using LumoAuth.Contracts.Agents;
using LumoAuth.Messaging.Outbox;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Agents.Features.Runtime;

/// <summary>
/// What an agent must pass for each of its requests, whether it calls the agents service with its key
/// (<see cref="AgentCallFilter"/>) or asks the token service for a token: its address allow-list (403
/// <c>access_denied</c>), then its budget — calls per hour (this request counted), model tokens per day, spending per month
/// (429 <c>budget_exceeded</c>, retry after the window turns). A request that passes marks the agent used (at most once a
/// minute, so a busy agent does not write on every call).
/// </summary>
public sealed class AgentGate(AgentsDbContext db, AgentBudget budget, TimeProvider time)
{
    public const string BudgetExceeded = "budget_exceeded";
    public const string AccessDenied = "access_denied";
    private static readonly TimeSpan UseResolution = TimeSpan.FromMinutes(1);

    /// <summary>Why the agent may not go on; <see cref="RetryAfter"/> in seconds for a budget, with the limit and its maximum.</summary>
    public sealed record Refusal(int Status, string Code, string Message, string? Limit = null, decimal? Maximum = null, int? RetryAfter = null)
    {
        public string? RetryAfterHeader => RetryAfter?.ToString(CultureInfo.InvariantCulture);
    }

    /// <param name="reportsUse">The request reports model use: counted even past the day's or month's limit (refusing it would lose it).</param>
    public async Task<Refusal?> PassAsync(Agent agent, IPAddress? address, bool reportsUse, CancellationToken cancellationToken)
    {
        if (agent.AllowedIps is { Count: > 0 } allowed && !IpAllowList.Allows(allowed, address))
        {
            return new Refusal(StatusCodes.Status403Forbidden, AccessDenied, "This agent may not call from this address");
        }

        if (agent.MaxApiCallsPerHour is { } maximum && await budget.CountCallAsync(agent.Id) is { } calls && calls > maximum)
        {
            if (calls == maximum + 1)
            {
                await RecordFirstRefusalAsync(agent, "max_api_calls_per_hour", maximum);
            }

            return new Refusal(StatusCodes.Status429TooManyRequests, BudgetExceeded, $"The agent has used its {maximum} calls of this hour",
                "max_api_calls_per_hour", maximum, budget.SecondsUntilReset());
        }

        if (!reportsUse && await budget.ExhaustedAsync(agent) is { } exhausted)
        {
            if (await budget.FirstRefusalAsync(agent.Id, exhausted.Limit, exhausted.RetryAfter))
            {
                await RecordFirstRefusalAsync(agent, exhausted.Limit, exhausted.Maximum);
            }

            return new Refusal(StatusCodes.Status429TooManyRequests, BudgetExceeded, $"The agent has used its budget ({exhausted.Limit} {exhausted.Maximum})",
                exhausted.Limit, exhausted.Maximum, exhausted.RetryAfter);
        }

        var now = time.GetUtcNow();
        if (agent.LastUsedAt is null || now - agent.LastUsedAt > UseResolution)
        {
            await db.Agents.IgnoreQueryFilters().Where(a => a.Id == agent.Id).ExecuteUpdateAsync(s => s.SetProperty(a => a.LastUsedAt, now), cancellationToken);
        }

        return null;
    }

    /// <summary>Audits the first refusal of a window for the budget.</summary>
    private async Task RecordFirstRefusalAsync(Agent agent, string limit, decimal maximum)
    {
        db.AddEvent(new AgentBudgetExceeded(agent.Id, limit, (long)Math.Ceiling(maximum)) { TenantId = agent.TenantId });
        // Kept even if the caller has gone: the window's marker says it was recorded.
        await db.SaveChangesAsync(CancellationToken.None);
    }
}
