using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.Registry;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Agents;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Agents.Features.Runtime;

/// <summary>What an agent asks about itself with its own key: who it is (<c>/agents/me</c>) and what it may do (<c>/agents/ask</c>).</summary>
public static class AgentRuntimeEndpoints
{
    public const int MaxActionLength = 200;
    public const string ReportUsageName = "AgentReportUsage";

    public static IEndpointRouteBuilder MapAgentRuntimeEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/agents").RequireAuthorization(AgentAuth.Policy)
            .AddEndpointFilter<AgentCallFilter>().WithTags("Agent runtime");
        group.MapGet("/me", Me).WithName("AgentMe");
        group.MapPost("/ask", Ask).WithName("AgentAsk");
        group.MapPost("/me/usage", ReportUsage).WithName(ReportUsageName);
        return app;
    }

    public static async Task<IResult> Me(HttpContext http, TenantContext tenant, AgentRoles roles, AgentBudget budget, CancellationToken cancellationToken)
    {
        var agent = http.CurrentAgent()!;
        var held = await roles.OfAsync(tenant.TenantId, agent.Id, cancellationToken);
        return TypedResults.Ok(new AgentSelf(
            new AgentIdentity(agent.Id, "agent", agent.Name, agent.Type, tenant.Tenant!.Name),
            Capabilities(agent, held.Permissions),
            held.Roles,
            new AgentWorkspace(tenant.Slug, $"/t/{tenant.Slug}/api/v1/"),
            AgentBudgetStatus.Of(agent, await budget.UsageAsync(agent.Id))));
    }

    /// <summary>
    /// The agent reports model use (nothing else can know it): tokens count against its day and cost against its month.
    /// A model outside its <c>allowedModels</c> is refused (403 <c>model_not_allowed</c>) and counts nothing. Answers the
    /// budget as it now stands.
    /// </summary>
    public static async Task<IResult> ReportUsage(UsageReport report, HttpContext http, AgentsDbContext db, AgentBudget budget, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator()
            .Check(report.Tokens is null or >= 0 and <= 1_000_000_000, "tokens", "must be 0 to 10^9")
            .Check(report.CostUsd is null or >= 0 and <= 1_000_000m, "cost_usd", "must be 0 to 10^6")
            .Check(report.Tokens is not null || report.CostUsd is not null, "tokens", "report tokens, cost_usd or both")
            .Optional("model", report.Model, 100);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var agent = http.CurrentAgent()!;
        if (agent.AllowedModels is { } allowed && (report.Model is null || !allowed.Contains(report.Model, StringComparer.Ordinal)))
        {
            return ApiErrors.Create(StatusCodes.Status403Forbidden, "model_not_allowed", $"The agent may use only {string.Join(", ", allowed)}");
        }

        try
        {
            await budget.RecordUsageAsync(agent.Id, report.Tokens ?? 0, report.CostUsd ?? 0);
        }
        catch (Exception exception) when (exception is StackExchange.Redis.RedisException or TimeoutException)
        {
            throw new DependencyUnavailableException("Usage cannot be recorded now: Redis cannot be reached.", exception);
        }

        return TypedResults.Ok(AgentBudgetStatus.Of(agent, await budget.UsageAsync(agent.Id)));
    }

    /// <summary>
    /// Whether the agent may perform <c>action</c>: its capabilities name it (exactly, or by a trailing <c>*</c>), or one
    /// of its roles grants it as a permission. Every answer is audited; the answer's <c>audit_id</c> is the entry's id.
    /// </summary>
    public static async Task<IResult> Ask(AskRequest request, HttpContext http, AgentsDbContext db, TenantContext tenant, AgentRoles roles, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator();
        if (request.Action is null && request.Question is not null)
        {
            validation.Add("action", "is required: name the permission to check (natural-language questions are not answered)");
        }
        else
        {
            validation.Required("action", request.Action, MaxActionLength);
        }

        validation.Check(request.Context is null or { ValueKind: JsonValueKind.Object or JsonValueKind.Null }, "context", "must be an object");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var agent = http.CurrentAgent()!;
        var action = request.Action!.Trim();
        var (allowed, reason) = Capability(agent.Capabilities, action) is { } capability
            ? (true, capability == action ? $"The agent's capabilities include '{action}'." : $"The agent's capability '{capability}' covers '{action}'.")
            : await RoleGrantAsync(roles, tenant.TenantId, agent.Id, action, cancellationToken) is { } role
                ? (true, $"The agent's role grants '{action}'{(role.Length > 0 ? $" (one of: {role})" : string.Empty)}.")
                : (false, $"insufficient_permissions: no capability or role of the agent grants '{action}'.");

        var auditId = Guid.CreateVersion7();
        db.AddEvent(new AgentActionAsked(agent.Id, action, allowed, reason) { TenantId = tenant.TenantId }, auditId);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(new AskResponse(allowed, action, request.Context is { ValueKind: JsonValueKind.Object } context ? context : null, reason, AuditLogIds.Format(auditId)));
    }

    /// <summary>What the agent may do: its capabilities and its roles' permissions, once each, in order.</summary>
    private static IReadOnlyList<string> Capabilities(Agent agent, IReadOnlyList<string> permissions) =>
        [.. agent.Capabilities.Concat(permissions).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>The capability that covers <paramref name="action"/>, if any.</summary>
    internal static string? Capability(IReadOnlyList<string> capabilities, string action) =>
        capabilities.FirstOrDefault(c => c == action)
        ?? capabilities.FirstOrDefault(c => c.EndsWith('*') && action.StartsWith(c[..^1], StringComparison.Ordinal));

    /// <summary>The roles (comma-separated) held when one of them grants <paramref name="action"/>; null when none does.</summary>
    private static async Task<string?> RoleGrantAsync(AgentRoles roles, Guid tenantId, Guid agentId, string action, CancellationToken cancellationToken)
    {
        var held = await roles.OfAsync(tenantId, agentId, cancellationToken);
        return held.Permissions.Contains(action, StringComparer.Ordinal) ? string.Join(", ", held.Roles) : null;
    }
}

public sealed record AskRequest(
    [property: JsonPropertyName("action")] string? Action,
    [property: JsonPropertyName("context")] JsonElement? Context,
    [property: JsonPropertyName("question")] string? Question);

public sealed record AskResponse(
    [property: JsonPropertyName("allowed")] bool Allowed,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("context")] JsonElement? Context,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("audit_id")] string AuditId);

public sealed record AgentSelf(
    [property: JsonPropertyName("identity")] AgentIdentity Identity,
    [property: JsonPropertyName("capabilities")] IReadOnlyList<string> Capabilities,
    [property: JsonPropertyName("roles")] IReadOnlyList<string> Roles,
    [property: JsonPropertyName("workspace")] AgentWorkspace Workspace,
    [property: JsonPropertyName("budget")] AgentBudgetStatus Budget);

public sealed record AgentIdentity(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("agent_type")] string AgentType,
    [property: JsonPropertyName("tenant")] string Tenant);

public sealed record AgentWorkspace(
    [property: JsonPropertyName("slug")] string Slug,
    [property: JsonPropertyName("api_base")] string ApiBase);

/// <summary>The budget and what was used of it (the docs' <c>get_budget_status</c>); usage is null while Redis cannot say.</summary>
public sealed record AgentBudgetStatus(
    [property: JsonPropertyName("max_api_calls_per_hour")] int? MaxApiCallsPerHour,
    [property: JsonPropertyName("api_calls_this_hour")] long? ApiCallsThisHour,
    [property: JsonPropertyName("max_tokens_per_day")] long? MaxTokensPerDay,
    [property: JsonPropertyName("tokens_used_today")] long? TokensUsedToday,
    [property: JsonPropertyName("max_cost_per_month_usd")] decimal? MaxCostPerMonthUsd,
    [property: JsonPropertyName("cost_this_month_usd")] decimal? CostThisMonthUsd,
    [property: JsonPropertyName("allowed_models")] IReadOnlyList<string>? AllowedModels,
    [property: JsonPropertyName("require_approval_above_usd")] decimal? RequireApprovalAboveUsd)
{
    public static AgentBudgetStatus Of(Agent agent, (long Calls, long Tokens, decimal Cost)? used) =>
        new(agent.MaxApiCallsPerHour, used?.Calls, agent.MaxTokensPerDay, used?.Tokens, agent.MaxCostPerMonthUsd, used?.Cost, agent.AllowedModels, agent.RequireApprovalAboveUsd);
}

public sealed record UsageReport(
    [property: JsonPropertyName("tokens")] long? Tokens,
    [property: JsonPropertyName("cost_usd")] decimal? CostUsd,
    [property: JsonPropertyName("model")] string? Model);
