using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.Registry;
using LumoAuth.Contracts.Agents;
using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Agents.Features.Jit;

/// <summary>
/// The token service's half of the scope-based JIT design: a token exchange naming <c>jit_task_id</c>, asked by an
/// agent's own OAuth client with its own token, gets the task's approved scopes. Here the task and its approved requests
/// are checked and claimed (each approved request gives one token, as in the other design) with the token's <c>jti</c> and
/// expiry recorded, so ending the task revokes it; the token service signs what this answers.
/// </summary>
public static class JitExchangeEndpoints
{
    public static IEndpointRouteBuilder MapJitExchangeEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost(InternalRoutes.JitExchanges, ExchangeAsync).RequireAuthorization(Policies.Internal).WithName("InternalJitExchange").WithTags("Internal");
        return app;
    }

    public static async Task<Ok<JitExchangeAnswer>> ExchangeAsync(JitExchangeRequest request, AgentsDbContext db, AgentRoles roles, CancellationToken cancellationToken)
    {
        var agent = await db.Agents.IgnoreQueryFilters().AsNoTracking()
            .FirstOrDefaultAsync(a => a.TenantId == request.TenantId && a.ClientId == request.ClientId, cancellationToken);
        if (agent is not { IsActive: true })
        {
            return Refuse(InvalidGrant, "The agent is disabled or gone.");
        }

        if (!JitIds.TryParseTask(request.TaskId ?? string.Empty, out var taskId))
        {
            return Refuse(InvalidRequest, "jit_task_id must be a task id (task_…).");
        }

        var now = DateTimeOffset.UtcNow;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // The task's row is held until the claim commits: completing or suspending it, and the other design's token
        // fetch, wait, so none of them misses this token.
        if (await JitEndpoints.LockTask(db, request.TenantId, taskId, agent.Id).IgnoreQueryFilters().FirstOrDefaultAsync(cancellationToken) is not { } task)
        {
            return Refuse(InvalidGrant, "The task is not one of this agent's.");
        }

        if (task.Status != JitStatuses.Active || task.ExpiresAt <= now)
        {
            return Refuse(InvalidGrant, $"The task is {TaskResponse.StateOf(task, now)}.");
        }

        var requests = await db.JitRequests.IgnoreQueryFilters()
            .Where(r => r.TaskId == task.Id && r.Scopes != null)
            .OrderBy(r => r.CreatedAt)
            .ToListAsync(cancellationToken);
        var unused = requests.Where(r => r.Status == JitStatuses.Approved && r.TokenId is null && r.ExpiresAt > now).ToList();
        if (unused.Count == 0)
        {
            return Refuse(InvalidGrant, requests.Any(r => RequestResponse.StateOf(r, now) == JitStatuses.Pending)
                ? "The task's request waits for approval: poll its status."
                : "The task holds no approved scopes without a token: make a new request.");
        }

        var available = unused.SelectMany(r => r.Scopes!).ToHashSet(StringComparer.Ordinal);
        var wanted = request.Scopes is { Count: > 0 } asked ? asked.Distinct(StringComparer.Ordinal).ToList() : [.. available.Order(StringComparer.Ordinal)];
        if (wanted.FirstOrDefault(s => !available.Contains(s)) is { } notApproved)
        {
            return Refuse(InvalidScope, $"The scope '{notApproved}' is not approved for this task (or its token was issued already).");
        }

        // What the agent may hold is read again: a capability taken away since the approval is not handed out.
        if (await JitScopes.OutsideWhatTheAgentMayHoldAsync(agent, wanted, roles, cancellationToken) is { } outside)
        {
            return Refuse(InvalidScope, $"No capability or role of the agent names the scope '{outside}' any more.");
        }

        var used = unused.Where(r => r.Scopes!.Any(wanted.Contains)).ToList();
        var lifetime = Math.Max(1, (int)Math.Min(used.Min(r => r.GrantedTtl), (task.ExpiresAt - now).TotalSeconds));
        var tokenId = Guid.NewGuid().ToString("N");
        var expiresAt = now.AddSeconds(lifetime) + JitEndpoints.TokenExpiryMargin;
        var details = new System.Text.Json.Nodes.JsonArray();
        foreach (var entry in used)
        {
            entry.TokenId = tokenId;
            entry.TokenExpiresAt = expiresAt;
            foreach (var detail in System.Text.Json.Nodes.JsonNode.Parse(entry.AuthorizationDetails)!.AsArray().Where(d => wanted.Contains((string?)d?["scope"] ?? string.Empty)))
            {
                details.Add(detail!.DeepClone());
            }

            db.AddEvent(new JitTokenIssued(entry.Id, task.Id, agent.Id, tokenId, expiresAt) { TenantId = task.TenantId });
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new JitExchangeAnswer(new JitTokenRequest(
            task.TenantId, request.TenantSlug, agent.Id, JitIds.Task(task.Id), JitIds.Request(used[^1].Id),
            System.Text.Json.JsonSerializer.SerializeToElement(details), task.OnBehalfOf, lifetime, tokenId)
        {
            ParentTaskId = task.ParentTaskId is { } parentId ? JitIds.Task(parentId) : null,
            Scopes = wanted,
        }, null, null));
    }

    private const string InvalidGrant = "invalid_grant";
    private const string InvalidScope = "invalid_scope";
    private const string InvalidRequest = "invalid_request";

    private static Ok<JitExchangeAnswer> Refuse(string error, string description) => TypedResults.Ok(new JitExchangeAnswer(null, error, description));
}
