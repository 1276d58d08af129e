using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.Registry;
using LumoAuth.Contracts.Agents;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Agents.Features.Runtime;

/// <summary>
/// What every call with an agent key (or an agent's own OAuth token) passes after its key was verified: the
/// <see cref="AgentGate"/>, in the API's error envelope.
/// </summary>
public sealed class AgentCallFilter(AgentsDbContext db, AgentGate gate) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var agent = http.CurrentAgent() ?? await AgentOfBearerAsync(http);
        if (agent is null)
        {
            return ApiErrors.Create(StatusCodes.Status403Forbidden, ErrorCodes.PermissionDenied, "This token was not issued to an agent");
        }

        var reportsUse = http.GetEndpoint()?.Metadata.GetMetadata<IEndpointNameMetadata>()?.EndpointName == AgentRuntimeEndpoints.ReportUsageName;
        if (await gate.PassAsync(agent, http.Connection.RemoteIpAddress, reportsUse, http.RequestAborted) is { } refusal)
        {
            if (refusal.RetryAfterHeader is { } retryAfter)
            {
                http.Response.Headers.RetryAfter = retryAfter;
            }

            return ApiErrors.Create(refusal.Status, refusal.Code, refusal.Message,
                refusal.Limit is null ? null : new { limit = refusal.Limit, maximum = refusal.Maximum });
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
}
