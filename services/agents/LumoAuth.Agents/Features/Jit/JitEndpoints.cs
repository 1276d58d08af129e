using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.Registry;
using LumoAuth.Agents.Features.Runtime;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Agents;
using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Agents.Features.Jit;

/// <summary>
/// Just-in-time permissions as the agent sees them (AG-09…13, the docs' <c>agents/jit.md</c> design, C-33): open a task,
/// ask for RFC 9396 <c>authorization_details</c> within it, poll, fetch the short-lived token, complete the task.
/// </summary>
public static class JitEndpoints
{
    public const int DefaultTtlSeconds = 300;

    /// <summary>How long a task lasts; its tokens never outlive it.</summary>
    public static readonly TimeSpan TaskLifetime = TimeSpan.FromHours(1);

    /// <summary>Added to a token's recorded expiry (and so to its revocation), for the services' clocks.</summary>
    internal static readonly TimeSpan TokenExpiryMargin = TimeSpan.FromMinutes(1);

    /// <summary>How long a pending request waits for a person, and an approved one for its token to be fetched.</summary>
    public static readonly TimeSpan DecisionWindow = TimeSpan.FromMinutes(10);

    public static IEndpointRouteBuilder MapJitEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/jit").RequireAuthorization(AgentAuth.Policy)
            .AddEndpointFilter<AgentCallFilter>().WithTags("JIT permissions");
        group.MapPost("/task", CreateTask).WithName("CreateJitTask");
        group.MapGet("/task/{taskId}", GetTask).WithName("GetJitTask");
        group.MapPost("/task/{taskId}/complete", CompleteTask).WithName("CompleteJitTask");
        group.MapPost("/request", CreateRequest).WithName("CreateJitRequest");
        group.MapGet("/request/{requestId}/status", GetStatus).WithName("GetJitRequestStatus");
        group.MapGet("/status/{taskId}", GetTaskStatus).WithName("GetJitTaskStatus");
        group.MapPost("/request/{requestId}/token", IssueToken).WithName("IssueJitToken");
        return app;
    }

    /// <summary>
    /// Opens a task. With <c>required_scopes</c> (the API reference's scope-based design) the task is described by
    /// <c>task_description</c> and its first request, for those scopes, is made with it: the answer is the request's state
    /// (<see cref="ScopedTaskResponse"/>).
    /// </summary>
    public static async Task<IResult> CreateTask(
        JitTaskRequest request, HttpContext http, AgentsDbContext db, TenantContext tenant, JitTokens tokens, AgentRoles roles, CancellationToken cancellationToken)
    {
        var scoped = request.RequiredScopes is not null;
        var name = request.Name ?? request.TaskDescription ?? (scoped ? null : "Untitled task");
        var validation = new RequestValidator()
            .Required(request.Name is null && scoped ? "task_description" : "name", name, JitTask.NameLength)
            .Optional("type", request.Type ?? request.TaskType, 64);
        if (request.OnBehalfOf is not null)
        {
            validation.Email("on_behalf_of", request.OnBehalfOf);
        }

        validation.Check(request.ParentTaskId is null || JitIds.TryParseTask(request.ParentTaskId, out _), "parent_task_id", "must be a task id (task_…)");
        if (scoped)
        {
            if (JitScopes.ProblemWith(request.RequiredScopes) is { } scopeProblem)
            {
                validation.Add("required_scopes", scopeProblem);
            }

            validation.Check(request.Duration is null or > 0, "duration", $"must be a positive number of seconds (at most {JitTokenRequest.MaxLifetimeSeconds} are granted)");
            validation.Check(request.Resources is null || (request.Resources.Count <= JitScopes.MaxResources
                    && request.Resources.All(r => r is { Length: > 0 and <= JitScopes.MaxResourceLength })),
                "resources", $"must hold at most {JitScopes.MaxResources} strings of 1 to {JitScopes.MaxResourceLength} characters");
        }

        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var agent = http.CurrentAgent()!;
        var scopes = scoped ? request.RequiredScopes!.Select(s => s!).Distinct(StringComparer.Ordinal).ToList() : null;
        JsonArray normalized = [];
        IReadOnlyList<AuthorizationDetail> details = [];
        if (scopes is not null && !JitScopes.TryDescribe(scopes, request.Resources?.Select(r => r!).ToList(), out normalized, out details, out var tooMuch))
        {
            return ApiErrors.Validation("required_scopes", $"with resources, {tooMuch}");
        }

        if (scopes is not null && await JitScopes.OutsideWhatTheAgentMayHoldAsync(agent, scopes, roles, cancellationToken) is { } outside)
        {
            return ScopeNotHeld(outside);
        }

        var now = DateTimeOffset.UtcNow;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        JitTask? parent = null;
        if (request.ParentTaskId is not null)
        {
            // A subtask of one of the agent's own active tasks (held while this one is made, so it cannot end meanwhile),
            // not too deep, and never outliving it.
            if ((parent = await FindTaskAsync(db, http, request.ParentTaskId, cancellationToken, forUpdate: true)) is null)
            {
                return ApiErrors.NotFound("Parent task");
            }

            if (parent.Status != JitStatuses.Active || parent.ExpiresAt <= now)
            {
                return TaskNotActive(parent, now);
            }

            if (await DepthAsync(db, parent, cancellationToken) + 1 >= MaxTaskDepth)
            {
                return ApiErrors.Validation("parent_task_id", $"subtasks nest at most {MaxTaskDepth} deep");
            }
        }

        var task = new JitTask
        {
            Id = Guid.CreateVersion7(),
            TenantId = tenant.TenantId,
            AgentId = agent.Id,
            Name = name!.Trim(),
            Type = request.Type ?? request.TaskType,
            OnBehalfOf = request.OnBehalfOf,
            ParentTaskId = parent?.Id,
            CreatedAt = now,
            ExpiresAt = parent is not null && parent.ExpiresAt < now + TaskLifetime ? parent.ExpiresAt : now + TaskLifetime,
        };
        db.JitTasks.Add(task);
        db.AddEvent(new JitTaskCreated(task.Id, agent.Id, task.Name, task.OnBehalfOf) { TenantId = tenant.TenantId });
        var location = $"/t/{tenant.Slug}/api/v1/jit/task/{JitIds.Task(task.Id)}";
        if (scopes is null)
        {
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return TypedResults.Created(location, TaskResponse.From(task, now));
        }

        var entry = await RecordRequestAsync(db, tokens, agent, task, normalized, details, scopes, task.Name, request.Duration, callbackUrl: null, now, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Created(location, ScopedTaskResponse.From(task, entry, tenant.Slug, now));
    }

    /// <summary>How many levels tasks nest: a task, its subtask, theirs — enough for a planner and its workers, and a bound on the walks up and down.</summary>
    public const int MaxTaskDepth = 3;

    /// <summary>How many tasks <paramref name="task"/> is within (0 for a top-level task).</summary>
    private static async Task<int> DepthAsync(AgentsDbContext db, JitTask task, CancellationToken cancellationToken)
    {
        var depth = 0;
        for (var parentId = task.ParentTaskId; parentId is { } id && depth <= MaxTaskDepth; depth++)
        {
            parentId = await db.JitTasks.AsNoTracking().Where(t => t.Id == id).Select(t => t.ParentTaskId).FirstOrDefaultAsync(cancellationToken);
        }

        return depth;
    }

    public static async Task<IResult> GetTask(string taskId, HttpContext http, AgentsDbContext db, CancellationToken cancellationToken) =>
        await FindTaskAsync(db, http, taskId, cancellationToken) is { } task
            ? TypedResults.Ok(TaskResponse.From(task, DateTimeOffset.UtcNow))
            : ApiErrors.NotFound("Task");

    /// <summary>Ends the task and revokes every token its requests were given (the deny-list first, so none outlives the answer).</summary>
    public static async Task<IResult> CompleteTask(string taskId, HttpContext http, AgentsDbContext db, JitTokens tokens, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (await FindTaskAsync(db, http, taskId, cancellationToken, forUpdate: true) is not { } task)
        {
            return ApiErrors.NotFound("Task");
        }

        var now = DateTimeOffset.UtcNow;
        if (task.Status != JitStatuses.Active)
        {
            return TaskNotActive(task, now);
        }

        var revoked = await EndTaskAsync(db, tokens, task, JitStatuses.Completed, reason: null, now, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(TaskResponse.From(task, now) with { RevokedTokens = revoked });
    }

    /// <summary>
    /// A request within a task: for <c>authorization_details</c> (RFC 9396), or — the scope-based design — for the
    /// space-separated scopes of <c>scope</c>; one or the other.
    /// </summary>
    public static async Task<IResult> CreateRequest(
        JitPermissionRequest request, HttpContext http, AgentsDbContext db, TenantContext tenant, JitTokens tokens, AgentRoles roles, IOptions<JitOptions> options,
        CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Required("task_id", request.TaskId, 64).Optional("justification", request.Justification, 1000);
        List<string>? scopes = null;
        JsonArray normalized = [];
        IReadOnlyList<AuthorizationDetail> details = [];
        if (request.Scope is not null)
        {
            scopes = [.. request.Scope.Split(' ', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal)];
            if (request.AuthorizationDetails is { ValueKind: not JsonValueKind.Null })
            {
                validation.Add("scope", "send scope or authorization_details, not both");
            }
            else if (JitScopes.ProblemWith(scopes) is { } scopeProblem)
            {
                validation.Add("scope", scopeProblem);
            }
            else if (!JitScopes.TryDescribe(scopes, null, out normalized, out details, out var tooMuch))
            {
                validation.Add("scope", tooMuch!);
            }
        }
        else if (!AuthorizationDetail.TryRead(request.AuthorizationDetails, out normalized, out details, out var problem))
        {
            validation.Add("authorization_details", problem!);
        }

        validation.Check(request.RequestedTtl is null or > 0, "requested_ttl", $"must be a positive number of seconds (at most {JitTokenRequest.MaxLifetimeSeconds} are granted)");
        if (request.CallbackUrl is not null && SsrfGuard.ProblemWith(request.CallbackUrl, options.Value.AllowPrivateCallbackTargets) is { } callbackProblem)
        {
            validation.Add("callback_url", callbackProblem);
        }

        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        // The task's row is held for the request: requests at once add up their risk, one after the other.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        if (await FindTaskAsync(db, http, request.TaskId!, cancellationToken, forUpdate: true) is not { } task)
        {
            return ApiErrors.NotFound("Task");
        }

        var now = DateTimeOffset.UtcNow;
        if (task.Status != JitStatuses.Active || task.ExpiresAt <= now)
        {
            return TaskNotActive(task, now);
        }

        var agent = http.CurrentAgent()!;
        if (scopes is not null && await JitScopes.OutsideWhatTheAgentMayHoldAsync(agent, scopes, roles, cancellationToken) is { } outside)
        {
            return ScopeNotHeld(outside);
        }

        var entry = await RecordRequestAsync(db, tokens, agent, task, normalized, details, scopes, request.Justification, request.RequestedTtl, request.CallbackUrl, now, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        var response = RequestResponse.From(entry, tenant.Slug, now);
        return entry.Status == JitStatuses.Pending ? TypedResults.Json(response, statusCode: StatusCodes.Status202Accepted) : TypedResults.Ok(response);
    }

    /// <summary>
    /// Judges a request within the caller's locked, active task and adds it (approved at once, pending for a person, or
    /// denied with the task suspended when it crosses the risk line) with its events. The caller saves.
    /// </summary>
    private static async Task<JitRequest> RecordRequestAsync(
        AgentsDbContext db, JitTokens tokens, Agent agent, JitTask task, JsonArray normalized, IReadOnlyList<AuthorizationDetail> details, List<string>? scopes,
        string? justification, int? requestedTtl, string? callbackUrl, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var level = JitRisk.Assess(details, task);
        var pending = JitRisk.NeedsApproval(level) || JitRisk.AboveApprovalLimit(details, agent.RequireApprovalAboveUsd);
        var entry = new JitRequest
        {
            Id = Guid.CreateVersion7(),
            TenantId = task.TenantId,
            TaskId = task.Id,
            AgentId = task.AgentId,
            AuthorizationDetails = normalized.ToJsonString(),
            Scopes = scopes,
            Justification = justification,
            GrantedTtl = Math.Min(requestedTtl ?? DefaultTtlSeconds, JitTokenRequest.MaxLifetimeSeconds),
            RiskLevel = level,
            Status = pending ? JitStatuses.Pending : JitStatuses.Approved,
            DecidedAt = pending ? null : now,
            CallbackUrl = callbackUrl,
            CreatedAt = now,
            ExpiresAt = now + DecisionWindow,
        };
        task.RiskScore += JitRisk.Weight(level);
        var types = details.Select(d => d.Type).Distinct(StringComparer.Ordinal).ToList();
        if (JitRisk.ShouldSuspend(task))
        {
            // The request that crossed the line is refused, and the task with every token it holds.
            entry.Status = JitStatuses.Denied;
            entry.DenyReason = JitTaskEnd.RiskThresholdExceeded;
            entry.DecidedAt = now;
            await EndTaskAsync(db, tokens, task, JitStatuses.Suspended, JitTaskEnd.RiskThresholdExceeded, now, cancellationToken);
        }

        db.JitRequests.Add(entry);
        db.AddEvent(new JitRequestCreated(entry.Id, task.Id, task.AgentId, level, entry.Status, types) { TenantId = task.TenantId });
        if (entry.Status == JitStatuses.Pending)
        {
            db.AddEvent(new JitApprovalRequested(entry.Id, task.Id, task.AgentId, level, entry.Justification, types, entry.ExpiresAt) { TenantId = task.TenantId });
        }

        return entry;
    }

    /// <summary>
    /// The scope-based design's poll (<c>GET /jit/status/{task_id}</c>): the task's requests summed up — pending while one
    /// waits, else approved while one is (with the scopes approved so far), else denied or expired. A task suspended for
    /// risk is denied; one completed or past its time, expired.
    /// </summary>
    public static async Task<IResult> GetTaskStatus(string taskId, HttpContext http, AgentsDbContext db, CancellationToken cancellationToken)
    {
        if (await FindTaskAsync(db, http, taskId, cancellationToken) is not { } task)
        {
            return ApiErrors.NotFound("Task");
        }

        var now = DateTimeOffset.UtcNow;
        var requests = await db.JitRequests.AsNoTracking().Where(r => r.TaskId == task.Id).OrderBy(r => r.CreatedAt).ToListAsync(cancellationToken);
        var approved = requests.Where(r => RequestResponse.StateOf(r, now) == JitStatuses.Approved).ToList();
        var states = requests.Select(r => RequestResponse.StateOf(r, now)).ToHashSet(StringComparer.Ordinal);
        var status = TaskResponse.StateOf(task, now) switch
        {
            JitStatuses.Suspended => JitStatuses.Denied,
            not JitStatuses.Active => JitStatuses.Expired,
            _ when requests.Count == 0 || states.Contains(JitStatuses.Pending) => JitStatuses.Pending,
            _ when approved.Count > 0 => JitStatuses.Approved,
            _ when states.Contains(JitStatuses.Denied) => JitStatuses.Denied,
            _ => JitStatuses.Expired,
        };
        var last = status == JitStatuses.Approved ? approved.MaxBy(r => r.DecidedAt) : null;
        return TypedResults.Ok(new TaskStatusResponse(
            JitIds.Task(task.Id), status,
            status == JitStatuses.Approved ? [.. approved.SelectMany(r => r.Scopes ?? []).Distinct(StringComparer.Ordinal)] : [],
            last?.DecidedBy, last?.DecidedAt, task.ExpiresAt));
    }

    public static async Task<IResult> GetStatus(string requestId, HttpContext http, AgentsDbContext db, TenantContext tenant, CancellationToken cancellationToken) =>
        await FindRequestAsync(db, http, requestId, cancellationToken) is { } entry
            ? TypedResults.Ok(RequestResponse.From(entry, tenant.Slug, DateTimeOffset.UtcNow))
            : ApiErrors.NotFound("JIT request");

    /// <summary>
    /// The approved request's one token. The request is claimed first (one statement), so two calls at once never get
    /// two tokens; a failure to sign gives the claim back.
    /// </summary>
    public static async Task<IResult> IssueToken(string requestId, HttpContext http, AgentsDbContext db, TenantContext tenant, JitTokens tokens, CancellationToken cancellationToken)
    {
        if (await FindRequestAsync(db, http, requestId, cancellationToken) is not { } entry)
        {
            return ApiErrors.NotFound("JIT request");
        }

        var now = DateTimeOffset.UtcNow;
        var task = await db.JitTasks.AsNoTracking().FirstAsync(t => t.Id == entry.TaskId, cancellationToken);
        var refusal = RequestResponse.StateOf(entry, now) switch
        {
            JitStatuses.Pending => Conflict("request_pending", "The request waits for approval; poll its status"),
            JitStatuses.Denied => Conflict("request_denied", "The request was denied"),
            JitStatuses.Expired => Conflict("request_expired", "The request expired before its token was fetched"),
            _ when entry.TokenId is not null => Conflict("token_already_issued", "The request's token was issued already; make a new request"),
            _ when task.Status != JitStatuses.Active || task.ExpiresAt <= now => TaskNotActive(task, now),
            _ => null,
        };
        if (refusal is not null)
        {
            return refusal;
        }

        // Claimed with the token's id and expiry in one statement: two calls never both get a token, and a revocation of the
        // task from now on covers this token though it is still being signed. (The margin covers the services' clocks.)
        var lifetime = Math.Max(1, (int)Math.Min(entry.GrantedTtl, (task.ExpiresAt - now).TotalSeconds));
        var tokenId = Guid.NewGuid().ToString("N");
        var expiresAt = now.AddSeconds(lifetime) + TokenExpiryMargin;
        // The task's row is shared-locked for the claim: a task being ended (which holds it) is waited for and seen ended.
        var claimed = await db.Database.ExecuteSqlInterpolatedAsync($"""
            UPDATE jit_requests SET "TokenId" = {tokenId}, "TokenExpiresAt" = {expiresAt}
            WHERE "Id" = {entry.Id} AND "TokenId" IS NULL
              AND EXISTS (SELECT 1 FROM jit_tasks t WHERE t."Id" = jit_requests."TaskId" AND t."Status" = 'active' AND t."ExpiresAt" > {now} FOR SHARE)
            """, cancellationToken);
        if (claimed == 0)
        {
            var current = await db.JitTasks.AsNoTracking().FirstAsync(t => t.Id == entry.TaskId, cancellationToken);
            return current.Status != JitStatuses.Active ? TaskNotActive(current, now) : Conflict("token_already_issued", "The request's token was issued already; make a new request");
        }

        JitTokenResponse issued;
        try
        {
            issued = await tokens.IssueAsync(new JitTokenRequest(
                tenant.TenantId, tenant.Slug, entry.AgentId, JitIds.Task(task.Id), JitIds.Request(entry.Id),
                JitTokens.ToElement(entry.AuthorizationDetails), task.OnBehalfOf, lifetime, tokenId)
            {
                ParentTaskId = task.ParentTaskId is { } parentId ? JitIds.Task(parentId) : null,
            }, cancellationToken);
        }
        catch
        {
            await db.JitRequests.Where(r => r.Id == entry.Id && r.TokenId == tokenId)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.TokenId, (string?)null).SetProperty(r => r.TokenExpiresAt, (DateTimeOffset?)null), CancellationToken.None);
            throw;
        }

        // Signed: the record of it is kept even if the caller has gone. Should it fail, the claim is given back (the token
        // was never handed out), so the request can be fetched again.
        db.AddEvent(new JitTokenIssued(entry.Id, task.Id, entry.AgentId, issued.TokenId, issued.ExpiresAt) { TenantId = tenant.TenantId });
        try
        {
            await db.SaveChangesAsync(CancellationToken.None);
        }
        catch
        {
            await db.JitRequests.Where(r => r.Id == entry.Id && r.TokenId == tokenId)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.TokenId, (string?)null).SetProperty(r => r.TokenExpiresAt, (DateTimeOffset?)null), CancellationToken.None);
            throw;
        }
        // Counted from now, not from before the signing call: the token service's clock started the lifetime after ours.
        return TypedResults.Ok(new JitTokenAnswer(
            issued.AccessToken, "Bearer", (int)Math.Clamp((issued.ExpiresAt - DateTimeOffset.UtcNow).TotalSeconds, 1, lifetime), "urn:ietf:params:oauth:token-type:access_token",
            JitTokens.ToElement(entry.AuthorizationDetails), JitIds.Task(task.Id), JitIds.Request(entry.Id)));
    }

    /// <summary>
    /// Ends an active task: revokes its tokens (before anything is recorded), expires its pending requests and records why.
    /// The caller saves. Shared by completion, suspension for risk and the approvers' denials.
    /// </summary>
    internal static async Task<int> EndTaskAsync(AgentsDbContext db, JitTokens tokens, JitTask task, string status, string? reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // Its active subtasks end with it (first: their tokens go too), each row locked as it is ended.
        var revoked = 0;
        var children = await db.JitTasks.AsNoTracking().Where(t => t.ParentTaskId == task.Id && t.Status == JitStatuses.Active).Select(t => t.Id).ToListAsync(cancellationToken);
        foreach (var childId in children)
        {
            if (await LockTask(db, task.TenantId, childId).FirstOrDefaultAsync(cancellationToken) is { Status: JitStatuses.Active } child)
            {
                revoked += await EndTaskAsync(db, tokens, child, status == JitStatuses.Completed ? JitStatuses.Completed : JitStatuses.Suspended, JitTaskEnd.ParentTaskEnded, now, cancellationToken);
            }
        }

        revoked += await tokens.RevokeTaskTokensAsync(db, task, now, cancellationToken);
        // A request being decided right now is tracked already, with its decision: it keeps it.
        foreach (var pending in (await db.JitRequests.Where(r => r.TaskId == task.Id && r.Status == JitStatuses.Pending).ToListAsync(cancellationToken))
                     .Where(r => r.Status == JitStatuses.Pending))
        {
            pending.Status = JitStatuses.Expired;
            pending.DecidedAt = now;
        }

        task.Status = status;
        task.EndedAt = now;
        task.EndReason = reason;
        db.AddEvent(new JitTaskEnded(task.Id, task.AgentId, status, reason, revoked, task.RiskScore, task.DenialCount) { TenantId = task.TenantId });
        return revoked;
    }

    /// <summary>
    /// The calling agent's task by its public id; another agent's task (or another tenant's) is not found. With
    /// <paramref name="forUpdate"/> its row is locked (and tracked) until the caller's transaction ends.
    /// </summary>
    private static async Task<JitTask?> FindTaskAsync(AgentsDbContext db, HttpContext http, string taskId, CancellationToken cancellationToken, bool forUpdate = false)
    {
        if (!JitIds.TryParseTask(taskId, out var id))
        {
            return null;
        }

        var agent = http.CurrentAgent()!;
        var query = forUpdate ? LockTask(db, agent.TenantId, id, agent.Id) : db.JitTasks.AsNoTracking();
        return await query.FirstOrDefaultAsync(t => t.Id == id && t.AgentId == agent.Id, cancellationToken);
    }

    /// <summary>
    /// The task's row, locked for update until the transaction ends: only a row of the tenant (and of the agent, when
    /// given) is locked at all.
    /// </summary>
    internal static IQueryable<JitTask> LockTask(AgentsDbContext db, Guid tenantId, Guid taskId, Guid? agentId = null) => agentId is { } agent
        ? db.JitTasks.FromSql($"SELECT * FROM jit_tasks WHERE \"Id\" = {taskId} AND \"TenantId\" = {tenantId} AND \"AgentId\" = {agent} FOR UPDATE")
        : db.JitTasks.FromSql($"SELECT * FROM jit_tasks WHERE \"Id\" = {taskId} AND \"TenantId\" = {tenantId} FOR UPDATE");

    private static async Task<JitRequest?> FindRequestAsync(AgentsDbContext db, HttpContext http, string requestId, CancellationToken cancellationToken)
    {
        if (!JitIds.TryParseRequest(requestId, out var id))
        {
            return null;
        }

        var agentId = http.CurrentAgent()!.Id;
        return await db.JitRequests.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id && r.AgentId == agentId, cancellationToken);
    }

    private static IResult ScopeNotHeld(string scope) => ApiErrors.Create(StatusCodes.Status403Forbidden, CapabilityDenied,
        $"No capability or role of the agent names the scope '{scope}': just in time, an agent holds only what it may hold");

    /// <summary>The documented refusal of something the agent's capabilities do not cover.</summary>
    public const string CapabilityDenied = "capability_denied";

    private static IResult TaskNotActive(JitTask task, DateTimeOffset now) =>
        Conflict("task_not_active", $"The task is {TaskResponse.StateOf(task, now)}{(task.EndReason is { } reason ? $" ({reason})" : string.Empty)}");

    private static IResult Conflict(string code, string message) => ApiErrors.Create(StatusCodes.Status409Conflict, code, message);
}

public static class JitTaskEnd
{
    public const string RiskThresholdExceeded = "risk_threshold_exceeded";

    /// <summary>A subtask ended because the task it was opened within ended.</summary>
    public const string ParentTaskEnded = "parent_task_ended";
}

/// <summary>The public ids: <c>task_</c> and <c>jit_</c> before the row's id (32 hex digits).</summary>
public static class JitIds
{
    private const string TaskPrefix = "task_";
    private const string RequestPrefix = "jit_";

    public static string Task(Guid id) => PrefixedIds.Format(TaskPrefix, id);

    public static string Request(Guid id) => PrefixedIds.Format(RequestPrefix, id);

    public static bool TryParseTask(string value, out Guid id) => PrefixedIds.TryParse(TaskPrefix, value, out id);

    public static bool TryParseRequest(string value, out Guid id) => PrefixedIds.TryParse(RequestPrefix, value, out id);
}

public sealed class JitOptions
{
    public const string SectionName = "Agents:Jit";

    /// <summary>Lets callbacks reach private and loopback addresses (development and tests only).</summary>
    public bool AllowPrivateCallbackTargets { get; set; }
}

public sealed record JitTaskRequest(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("task_type")] string? TaskType,
    [property: JsonPropertyName("on_behalf_of")] string? OnBehalfOf,
    [property: JsonPropertyName("parent_task_id")] string? ParentTaskId = null)
{
    // The scope-based design's fields.
    [JsonPropertyName("task_description")]
    public string? TaskDescription { get; init; }

    [JsonPropertyName("required_scopes")]
    public List<string?>? RequiredScopes { get; init; }

    [JsonPropertyName("duration")]
    public int? Duration { get; init; }

    [JsonPropertyName("resources")]
    public List<string?>? Resources { get; init; }
}

public sealed record JitPermissionRequest(
    [property: JsonPropertyName("task_id")] string? TaskId,
    [property: JsonPropertyName("authorization_details")] JsonElement? AuthorizationDetails,
    [property: JsonPropertyName("justification")] string? Justification,
    [property: JsonPropertyName("requested_ttl")] int? RequestedTtl,
    [property: JsonPropertyName("callback_url")] string? CallbackUrl)
{
    /// <summary>The scope-based design: space-separated scopes instead of <c>authorization_details</c>.</summary>
    [JsonPropertyName("scope")]
    public string? Scope { get; init; }
}

/// <summary>
/// The scope-based design's answer to a task opened with <c>required_scopes</c>: its first request's state, where a
/// person approves it (the Admin API's approval resource) while it waits, and how long it waits.
/// </summary>
public sealed record ScopedTaskResponse(
    [property: JsonPropertyName("task_id")] string TaskId,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("approval_url")] string? ApprovalUrl,
    [property: JsonPropertyName("expires_in")] int ExpiresIn,
    [property: JsonPropertyName("required_scopes")] IReadOnlyList<string> RequiredScopes,
    [property: JsonPropertyName("request_id")] string RequestId,
    [property: JsonPropertyName("risk_level")] string RiskLevel,
    [property: JsonPropertyName("status_url")] string StatusUrl,
    [property: JsonPropertyName("task_expires_at")] DateTimeOffset TaskExpiresAt)
{
    public static ScopedTaskResponse From(JitTask task, JitRequest request, string tenantSlug, DateTimeOffset now)
    {
        var status = RequestResponse.StateOf(request, now);
        var api = $"/t/{tenantSlug}/api/v1";
        return new(JitIds.Task(task.Id), status,
            status == JitStatuses.Pending ? $"{api}/admin/agents/jit-requests/{JitIds.Request(request.Id)}" : null,
            (int)Math.Max(0, (request.ExpiresAt - now).TotalSeconds), request.Scopes ?? [], JitIds.Request(request.Id), request.RiskLevel,
            $"{api}/jit/status/{JitIds.Task(task.Id)}", task.ExpiresAt);
    }
}

/// <summary>The scope-based design's poll answer; <c>approved_by</c> is null for a request approved at once by the risk rules.</summary>
public sealed record TaskStatusResponse(
    [property: JsonPropertyName("task_id")] string TaskId,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("approved_scopes")] IReadOnlyList<string> ApprovedScopes,
    [property: JsonPropertyName("approved_by")] string? ApprovedBy,
    [property: JsonPropertyName("approved_at")] DateTimeOffset? ApprovedAt,
    [property: JsonPropertyName("task_expires_at")] DateTimeOffset TaskExpiresAt);

public sealed record TaskResponse(
    [property: JsonPropertyName("task_id")] string TaskId,
    [property: JsonPropertyName("caep_session_id")] string CaepSessionId,
    [property: JsonPropertyName("agent_id")] Guid AgentId,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("on_behalf_of")] string? OnBehalfOf,
    [property: JsonPropertyName("parent_task_id")] string? ParentTaskId,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("active")] bool Active,
    [property: JsonPropertyName("risk_score")] int RiskScore,
    [property: JsonPropertyName("denial_count")] int DenialCount,
    [property: JsonPropertyName("end_reason")] string? EndReason,
    [property: JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt)
{
    [JsonPropertyName("revoked_tokens")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? RevokedTokens { get; init; }

    public static TaskResponse From(JitTask t, DateTimeOffset now)
    {
        var state = StateOf(t, now);
        return new(JitIds.Task(t.Id), PrefixedIds.Format("caep_", t.Id), t.AgentId, t.Name, t.Type, t.OnBehalfOf,
            t.ParentTaskId is { } parent ? JitIds.Task(parent) : null, state, state == JitStatuses.Active,
            t.RiskScore, t.DenialCount, t.EndReason, t.ExpiresAt);
    }

    /// <summary>An active task past its time is expired, without a write.</summary>
    public static string StateOf(JitTask t, DateTimeOffset now) => t.Status == JitStatuses.Active && t.ExpiresAt <= now ? JitStatuses.Expired : t.Status;
}

public sealed record RequestResponse(
    [property: JsonPropertyName("request_id")] string RequestId,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("risk_level")] string RiskLevel,
    [property: JsonPropertyName("task_id")] string TaskId,
    [property: JsonPropertyName("authorization_details")] JsonNode? AuthorizationDetails,
    [property: JsonPropertyName("granted_ttl")] int GrantedTtl,
    [property: JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt)
{
    [JsonPropertyName("token_url")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TokenUrl { get; init; }

    [JsonPropertyName("status_url")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? StatusUrl { get; init; }

    [JsonPropertyName("deny_reason")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? DenyReason { get; init; }

    [JsonPropertyName("message")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Message { get; init; }

    [JsonPropertyName("decided_at")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DateTimeOffset? DecidedAt { get; init; }

    [JsonPropertyName("token_issued")]
    public bool TokenIssued { get; init; }

    public static RequestResponse From(JitRequest r, string tenantSlug, DateTimeOffset now)
    {
        var state = StateOf(r, now);
        var basePath = $"/t/{tenantSlug}/api/v1/jit/request/{JitIds.Request(r.Id)}";
        return new RequestResponse(JitIds.Request(r.Id), state, r.RiskLevel, JitIds.Task(r.TaskId), JsonNode.Parse(r.AuthorizationDetails), r.GrantedTtl, r.ExpiresAt)
        {
            TokenUrl = state == JitStatuses.Approved && r.TokenId is null ? basePath + "/token" : null,
            StatusUrl = basePath + "/status",
            DenyReason = r.DenyReason,
            Message = state == JitStatuses.Pending ? "The request needs a person's approval: poll status_url, or wait for the callback." : null,
            DecidedAt = r.DecidedAt,
            TokenIssued = r.TokenId is not null,
        };
    }

    /// <summary>A pending request past its window is expired, and so is an approved one whose token was never fetched in it.</summary>
    public static string StateOf(JitRequest r, DateTimeOffset now) =>
        (r.Status == JitStatuses.Pending || (r.Status == JitStatuses.Approved && r.TokenId is null)) && r.ExpiresAt <= now ? JitStatuses.Expired : r.Status;
}

public sealed record JitTokenAnswer(
    [property: JsonPropertyName("access_token")] string AccessToken,
    [property: JsonPropertyName("token_type")] string TokenType,
    [property: JsonPropertyName("expires_in")] int ExpiresIn,
    [property: JsonPropertyName("issued_token_type")] string IssuedTokenType,
    [property: JsonPropertyName("authorization_details")] JsonElement AuthorizationDetails,
    [property: JsonPropertyName("task_id")] string TaskId,
    [property: JsonPropertyName("jit_request_id")] string JitRequestId);
