using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.Registry;
using LumoAuth.Contracts.Agents;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Agents.Features.Runtime;

/// <summary>
/// What every call with an agent key passes after its key was verified: the agent's address allow-list (403
/// <c>access_denied</c>), then its budget of calls per hour (429 <c>budget_exceeded</c> until the hour turns). A call
/// that passes marks the agent used (at most once a minute, so a busy agent does not write on every call).
/// </summary>
public sealed class AgentCallFilter(AgentsDbContext db, AgentBudget budget, TimeProvider time) : IEndpointFilter
{
    public const string BudgetExceeded = "budget_exceeded";
    public const string AccessDenied = "access_denied";
    private static readonly TimeSpan UseResolution = TimeSpan.FromMinutes(1);

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var agent = http.CurrentAgent() ?? throw new InvalidOperationException("Agent endpoints run after agent-key authentication.");
        if (agent.AllowedIps is { Count: > 0 } allowed && !IpAllowList.Allows(allowed, http.Connection.RemoteIpAddress))
        {
            return ApiErrors.Create(StatusCodes.Status403Forbidden, AccessDenied, "This agent may not call from this address");
        }

        if (agent.MaxApiCallsPerHour is { } maximum && await budget.CountCallAsync(agent.Id) is { } calls && calls > maximum)
        {
            if (calls == maximum + 1)
            {
                db.AddEvent(new AgentBudgetExceeded(agent.Id, "max_api_calls_per_hour", maximum) { TenantId = agent.TenantId });
                await db.SaveChangesAsync(http.RequestAborted);
            }

            http.Response.Headers.RetryAfter = budget.SecondsUntilReset().ToString(System.Globalization.CultureInfo.InvariantCulture);
            return ApiErrors.Create(StatusCodes.Status429TooManyRequests, BudgetExceeded,
                $"The agent has used its {maximum} calls of this hour", new { limit = "max_api_calls_per_hour", maximum });
        }

        var now = time.GetUtcNow();
        if (agent.LastUsedAt is null || now - agent.LastUsedAt > UseResolution)
        {
            await db.Agents.Where(a => a.Id == agent.Id).ExecuteUpdateAsync(s => s.SetProperty(a => a.LastUsedAt, now), http.RequestAborted);
        }

        return await next(context);
    }
}
