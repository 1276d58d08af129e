using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.Registry;
using LumoAuth.Contracts.Agents;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Agents.Features.Runtime;

/// <summary>
/// What every call with an agent key passes after its key was verified: the agent's address allow-list (403
/// <c>access_denied</c>), then its budget: calls per hour, model tokens per day, spending per month (429
/// <c>budget_exceeded</c> with <c>Retry-After</c> until the window turns). A call
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
        var agent = http.CurrentAgent() ?? await AgentOfBearerAsync(http);
        if (agent is null)
        {
            return ApiErrors.Create(StatusCodes.Status403Forbidden, ErrorCodes.PermissionDenied, "This token was not issued to an agent");
        }

        if (agent.AllowedIps is { Count: > 0 } allowed && !IpAllowList.Allows(allowed, http.Connection.RemoteIpAddress))
        {
            return ApiErrors.Create(StatusCodes.Status403Forbidden, AccessDenied, "This agent may not call from this address");
        }

        if (agent.MaxApiCallsPerHour is { } maximum && await budget.CountCallAsync(agent.Id) is { } calls && calls > maximum)
        {
            if (calls == maximum + 1)
            {
                await RecordFirstRefusalAsync(agent, "max_api_calls_per_hour", maximum, http.RequestAborted);
            }

            http.Response.Headers.RetryAfter = budget.SecondsUntilReset().ToString(System.Globalization.CultureInfo.InvariantCulture);
            return ApiErrors.Create(StatusCodes.Status429TooManyRequests, BudgetExceeded,
                $"The agent has used its {maximum} calls of this hour", new { limit = "max_api_calls_per_hour", maximum });
        }

        // Reported use is always counted (refusing it would lose it); the next call then meets the limit.
        var reportsUse = http.GetEndpoint()?.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName == AgentRuntimeEndpoints.ReportUsageName;
        if (!reportsUse && await budget.ExhaustedAsync(agent) is { } exhausted)
        {
            if (await budget.FirstRefusalAsync(agent.Id, exhausted.Limit, exhausted.RetryAfter))
            {
                await RecordFirstRefusalAsync(agent, exhausted.Limit, exhausted.Maximum, http.RequestAborted);
            }

            http.Response.Headers.RetryAfter = exhausted.RetryAfter.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return ApiErrors.Create(StatusCodes.Status429TooManyRequests, BudgetExceeded,
                $"The agent has used its budget ({exhausted.Limit} {exhausted.Maximum})", new { limit = exhausted.Limit, maximum = exhausted.Maximum });
        }

        var now = time.GetUtcNow();
        if (agent.LastUsedAt is null || now - agent.LastUsedAt > UseResolution)
        {
            await db.Agents.Where(a => a.Id == agent.Id).ExecuteUpdateAsync(s => s.SetProperty(a => a.LastUsedAt, now), http.RequestAborted);
        }

        return await next(context);
    }

    /// <summary>
    /// The active agent whose OAuth client a bearer token was issued to (client-credentials agents), remembered for the
    /// endpoint; null for any other token.
    /// </summary>
    private async Task<Agent?> AgentOfBearerAsync(HttpContext http)
    {
        // The client's own token only: one issued for a user (a sign-in, a delegation) speaks for that user, not the agent.
        if (http.User.FindFirst(LumoClaims.ClientId)?.Value is not { Length: > 0 } clientId
            || http.User.FindFirst(LumoClaims.Subject)?.Value != clientId || http.User.HasClaim(c => c.Type == "act"))
        {
            return null;
        }

        var agent = await db.Agents.AsNoTracking().FirstOrDefaultAsync(a => a.ClientId == clientId && a.IsActive, http.RequestAborted);
        if (agent is not null)
        {
            http.Items[AgentAuth.ItemKey] = agent;
        }

        return agent;
    }

    /// <summary>Audits the first refusal of a window for the budget.</summary>
    private async Task RecordFirstRefusalAsync(Agent agent, string limit, decimal maximum, CancellationToken cancellationToken)
    {
        db.AddEvent(new AgentBudgetExceeded(agent.Id, limit, (long)Math.Ceiling(maximum)) { TenantId = agent.TenantId });
        // Kept even if the caller has gone: the window's marker says it was recorded.
        await db.SaveChangesAsync(CancellationToken.None);
    }
}
