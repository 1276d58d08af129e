using System.Text.Json.Serialization;
using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.Runtime;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Agents.Features.Registry;

/// <summary>
/// What the token service asks about agents, by their OAuth client or their workload: whether one may delegate, how one
/// is described at userinfo, which ones trust a workload issuer. Internal calls name the tenant: no tenant path here.
/// </summary>
public static class AgentLookupEndpoints
{
    /// <summary>At most this many agents of a tenant trust one issuer (a cluster's many service accounts, say).</summary>
    public const int MaxTrustsPerIssuer = 500;

    /// <summary>The capabilities that let an agent act for others (the docs name both, C-35).</summary>
    private static readonly string[] DelegationCapabilities = ["delegate:on_behalf", "delegate:user"];

    public static IEndpointRouteBuilder MapAgentLookupEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet(InternalRoutes.AgentByClient, AgentOfClient).RequireAuthorization(Policies.Internal).WithName("InternalAgentByClient").WithTags("Internal");
        app.MapGet(InternalRoutes.AgentUserInfo, UserInfo).RequireAuthorization(Policies.Internal).WithName("InternalAgentUserInfo").WithTags("Internal");
        app.MapPost(InternalRoutes.AgentTokenRequests, TokenRequest).RequireAuthorization(Policies.Internal).WithName("InternalAgentTokenRequest").WithTags("Internal");
        app.MapGet(InternalRoutes.WorkloadTrusts, WorkloadTrusts).RequireAuthorization(Policies.Internal).WithName("InternalWorkloadTrusts").WithTags("Internal");
        return app;
    }

    /// <summary>The token service's question when an agent's OAuth client acts for someone: is it active, may it delegate.</summary>
    public static async Task<IResult> AgentOfClient(string clientId, Guid tenantId, AgentsDbContext db, CancellationToken cancellationToken)
    {
        var agent = await db.Agents.IgnoreQueryFilters().AsNoTracking()
            .Where(a => a.TenantId == tenantId && a.ClientId == clientId)
            .Select(a => new { a.Id, a.IsActive, a.Capabilities })
            .FirstOrDefaultAsync(cancellationToken);
        if (agent is null)
        {
            return TypedResults.NotFound();
        }

        var mayDelegate = DelegationCapabilities.Any(c => AgentRuntimeEndpoints.Capability(agent.Capabilities, c) is not null);
        return TypedResults.Ok(new AgentOfClient(agent.Id, agent.IsActive, mayDelegate));
    }

    /// <summary>
    /// The token service's question before it issues a token to an agent's OAuth client: the request passes the agent's
    /// <see cref="AgentGate"/> (and counts as one of its calls), and the token names the agent. A client no agent owns (any
    /// more) is not the gate's to judge.
    /// </summary>
    public static async Task<IResult> TokenRequest(AgentTokenRequest request, AgentsDbContext db, AgentGate gate, CancellationToken cancellationToken)
    {
        var agent = await db.Agents.IgnoreQueryFilters().AsNoTracking()
            .FirstOrDefaultAsync(a => a.TenantId == request.TenantId && a.ClientId == request.ClientId, cancellationToken);
        if (agent is null)
        {
            return TypedResults.Ok(new AgentTokenVerdict(true));
        }

        var address = System.Net.IPAddress.TryParse(request.IpAddress, out var parsed) ? parsed : null;
        return await gate.PassAsync(agent, address, reportsUse: false, cancellationToken) is { } refusal
            ? TypedResults.Ok(new AgentTokenVerdict(false, refusal.Code, refusal.Message, refusal.Status, refusal.RetryAfter))
            : TypedResults.Ok(new AgentTokenVerdict(true) { AgentId = agent.Id, AgentName = agent.Name });
    }

    /// <summary>An active agent as userinfo describes it to its own token (the token service adds <c>sub</c> and <c>tenant</c>).</summary>
    public static async Task<IResult> UserInfo(string clientId, Guid tenantId, AgentsDbContext db, AgentBudget budget, CancellationToken cancellationToken)
    {
        var agent = await db.Agents.IgnoreQueryFilters().AsNoTracking()
            .FirstOrDefaultAsync(a => a.TenantId == tenantId && a.ClientId == clientId && a.IsActive, cancellationToken);
        if (agent is null)
        {
            return TypedResults.NotFound();
        }

        return TypedResults.Ok(new AgentUserInfo(
            agent.Name, agent.Id, "agent", agent.Type, agent.Capabilities, agent.Workload is { } workload ? WorkloadIdentities.LabelOf(workload) : null,
            AgentBudgetStatus.Of(agent, await budget.UsageAsync(agent.Id))));
    }

    /// <summary>The agents of a tenant that answer to tokens of <paramref name="issuer"/> from <paramref name="provider"/>.</summary>
    public static async Task<IResult> WorkloadTrusts(Guid tenantId, string provider, string issuer, AgentsDbContext db, CancellationToken cancellationToken)
    {
        var agents = await db.Agents.IgnoreQueryFilters().AsNoTracking()
            .Where(a => a.TenantId == tenantId && a.WorkloadIssuer == issuer && a.IdentityType == AgentIdentityTypes.WorkloadIdentity && a.ClientId != null)
            .OrderBy(a => a.Id)
            .Take(MaxTrustsPerIssuer)
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(agents
            .Where(a => a.Workload?.Provider == provider)
            .Select(a => new WorkloadTrust(
                a.Id, a.ClientId!, a.IsActive, provider, issuer, a.Workload!.Audience!, a.Workload.JwksUri,
                WorkloadIdentities.RulesOf(a.Workload), WorkloadIdentities.LabelOf(a.Workload)))
            .ToList());
    }
}

/// <summary>The docs' agent userinfo: who the agent is, what it may do, the workload it runs as, its budget.</summary>
public sealed record AgentUserInfo(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("agent_id")] Guid AgentId,
    [property: JsonPropertyName("identity_type")] string IdentityType,
    [property: JsonPropertyName("agent_type")] string AgentType,
    [property: JsonPropertyName("capabilities")] IReadOnlyList<string> Capabilities,
    [property: JsonPropertyName("workload_identity")] string? WorkloadIdentity,
    [property: JsonPropertyName("budget_policy")] AgentBudgetStatus BudgetPolicy);
