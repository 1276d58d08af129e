using System.Text.Json.Serialization;
using LumoAuth.Agents.Data;
using LumoAuth.Contracts.Agents;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Agents.Features.Jit;

/// <summary>
/// The people's side of JIT (human in the loop): the tenant's administrators list what waits, approve or deny it. The docs
/// leave this to the portal; it is the Admin API here, under the agents resource.
/// </summary>
public static class JitApprovalEndpoints
{
    public static IEndpointRouteBuilder MapJitApprovalEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/agents/jit-requests").RequireAuthorization(Policies.TenantAdmin).WithTags("JIT approvals");
        group.MapGet("/", List).WithName("ListJitRequests");
        group.MapGet("/{requestId}", Get).WithName("GetJitRequest");
        group.MapPost("/{requestId}/approve", Approve).WithName("ApproveJitRequest");
        group.MapPost("/{requestId}/deny", Deny).WithName("DenyJitRequest");
        return app;
    }

    public static async Task<IResult> List(AgentsDbContext db, TenantContext tenant, string? status, Guid? agentId, int? page, int? limit, CancellationToken cancellationToken)
    {
        string[] statuses = [JitStatuses.Pending, JitStatuses.Approved, JitStatuses.Denied, JitStatuses.Expired];
        if (status is not null && !statuses.Contains(status))
        {
            return ApiErrors.Validation("status", $"must be one of {string.Join(", ", statuses)}");
        }

        var paging = PageRequest.From(page, limit);
        var now = DateTimeOffset.UtcNow;
        var query = db.JitRequests.AsNoTracking();
        // The states as the answers show them (RequestResponse.StateOf): a window that lapsed makes a request expired.
        query = status switch
        {
            JitStatuses.Pending => query.Where(r => r.Status == JitStatuses.Pending && r.ExpiresAt > now),
            JitStatuses.Approved => query.Where(r => r.Status == JitStatuses.Approved && (r.TokenId != null || r.ExpiresAt > now)),
            JitStatuses.Expired => query.Where(r => r.Status == JitStatuses.Expired
                || ((r.Status == JitStatuses.Pending || (r.Status == JitStatuses.Approved && r.TokenId == null)) && r.ExpiresAt <= now)),
            null => query,
            _ => query.Where(r => r.Status == status),
        };
        if (agentId is { } agent)
        {
            query = query.Where(r => r.AgentId == agent);
        }

        var total = await query.LongCountAsync(cancellationToken);
        var rows = await query.OrderBy(r => r.CreatedAt).ThenBy(r => r.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<ApprovalView>([.. rows.Select(r => ApprovalView.From(r, tenant.Slug, now))], PageMeta.For(paging, total)));
    }

    public static async Task<IResult> Get(string requestId, AgentsDbContext db, TenantContext tenant, CancellationToken cancellationToken) =>
        await FindAsync(db, requestId, cancellationToken) is { } entry
            ? TypedResults.Ok(new DataResponse<ApprovalView>(ApprovalView.From(entry, tenant.Slug, DateTimeOffset.UtcNow)))
            : ApiErrors.NotFound("JIT request");

    public static Task<IResult> Approve(string requestId, HttpContext http, AgentsDbContext db, TenantContext tenant, JitTokens tokens, CancellationToken cancellationToken) =>
        DecideAsync(requestId, approve: true, reason: null, http, db, tenant, tokens, cancellationToken);

    public static Task<IResult> Deny(string requestId, DenyRequest? body, HttpContext http, AgentsDbContext db, TenantContext tenant, JitTokens tokens, CancellationToken cancellationToken) =>
        body?.Reason is { Length: > 500 }
            ? Task.FromResult(ApiErrors.Validation("reason", "must be at most 500 characters"))
            : DecideAsync(requestId, approve: false, body?.Reason, http, db, tenant, tokens, cancellationToken);

    /// <summary>
    /// Decides a pending request inside its window. An approval gives the agent a fresh window to fetch the token. A denial
    /// counts against the task; enough of them suspend it (its tokens revoked). The agent's callback is told by event.
    /// </summary>
    private static async Task<IResult> DecideAsync(
        string requestId, bool approve, string? reason, HttpContext http, AgentsDbContext db, TenantContext tenant, JitTokens tokens, CancellationToken cancellationToken)
    {
        if (!JitIds.TryParseRequest(requestId, out var id))
        {
            return ApiErrors.NotFound("JIT request");
        }

        var taskId = await db.JitRequests.AsNoTracking().Where(r => r.Id == id).Select(r => (Guid?)r.TaskId).FirstOrDefaultAsync(cancellationToken);
        if (taskId is null)
        {
            return ApiErrors.NotFound("JIT request");
        }

        // The task's row, then the request's, are held for the decision (the order every writer takes them in): two
        // approvers at once decide once, denials at once each count, and an ending of the task waits for the decision.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var task = await JitEndpoints.LockTask(db, tenant.TenantId, taskId.Value).FirstAsync(cancellationToken);
        var entry = await db.JitRequests.FromSql($"SELECT * FROM jit_requests WHERE \"Id\" = {id} AND \"TenantId\" = {tenant.TenantId} FOR UPDATE").FirstAsync(cancellationToken);

        var now = DateTimeOffset.UtcNow;
        var state = RequestResponse.StateOf(entry, now);
        if (state != JitStatuses.Pending)
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, "request_not_pending", $"The request is {state}: only a pending request can be decided");
        }

        entry.DecidedAt = now;
        entry.DecidedBy = OutboxInterceptor.ActorOf(http.User) is { } actor ? $"{actor.Type}:{actor.Id}" : null;
        if (approve)
        {
            entry.Status = JitStatuses.Approved;
            entry.ExpiresAt = now + JitEndpoints.DecisionWindow;
        }
        else
        {
            entry.Status = JitStatuses.Denied;
            entry.DenyReason = string.IsNullOrWhiteSpace(reason) ? "denied_by_approver" : reason.Trim();
            task.DenialCount++;
            task.RiskScore += JitRisk.DenialWeight;
            if (task.Status == JitStatuses.Active && JitRisk.ShouldSuspend(task))
            {
                await JitEndpoints.EndTaskAsync(db, tokens, task, JitStatuses.Suspended, JitTaskEnd.RiskThresholdExceeded, now, cancellationToken);
            }
        }

        db.AddEvent(new JitRequestDecided(entry.Id, entry.TaskId, entry.AgentId, entry.Status, entry.DenyReason, tenant.Slug) { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<ApprovalView>(ApprovalView.From(entry, tenant.Slug, now), approve ? "Request approved" : "Request denied"));
    }

    private static async Task<JitRequest?> FindAsync(AgentsDbContext db, string requestId, CancellationToken cancellationToken) =>
        JitIds.TryParseRequest(requestId, out var id) ? await db.JitRequests.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, cancellationToken) : null;
}

public sealed record DenyRequest([property: JsonPropertyName("reason")] string? Reason);

/// <summary>A request as an approver sees it: the agent's view plus who asked, why, and who decided.</summary>
public sealed record ApprovalView(
    [property: JsonPropertyName("request")] RequestResponse Request,
    [property: JsonPropertyName("agentId")] Guid AgentId,
    [property: JsonPropertyName("justification")] string? Justification,
    [property: JsonPropertyName("decidedBy")] string? DecidedBy,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt)
{
    public static ApprovalView From(JitRequest r, string tenantSlug, DateTimeOffset now) =>
        new(RequestResponse.From(r, tenantSlug, now), r.AgentId, r.Justification, r.DecidedBy, r.CreatedAt);
}
