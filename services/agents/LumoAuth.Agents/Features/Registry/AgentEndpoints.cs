using System.Net;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.Jit;
using LumoAuth.Contracts.Agents;
using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Agents.Features.Registry;

/// <summary>The agent registry of the Tenant Admin API (AG-01…06): agents with a key of their own, roles and limits.</summary>
public static partial class AgentEndpoints
{
    public static IEndpointRouteBuilder MapAgentEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/agents").RequireAuthorization(Policies.TenantAdmin).WithTags("Agents");
        group.MapGet("/", ListAgents).WithName("ListAgents");
        group.MapPost("/", CreateAgent).WithName("CreateAgent");
        group.MapGet("/{agentId:guid}", GetAgent).WithName("GetAgent");
        group.MapPut("/{agentId:guid}", UpdateAgent).WithName("UpdateAgent");
        group.MapPatch("/{agentId:guid}", UpdateAgent).WithName("PatchAgent");
        group.MapDelete("/{agentId:guid}", DeleteAgent).WithName("DeleteAgent");
        group.MapPost("/{agentId:guid}/rotate-key", RotateKey).WithName("RotateAgentKey");
        return app;
    }

    public static async Task<IResult> ListAgents(
        AgentsDbContext db, int? page, int? limit, string? search, string? type, bool? isActive, string? sortBy, string? sortDir, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Optional("search", search);
        validation.Check(type is null || AgentTypes.All.Contains(type), "type", $"must be one of {string.Join(", ", AgentTypes.All)}");
        var order = ListOrder.Check(validation, sortBy, sortDir, ["createdAt", "name", "lastUsedAt"]);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var paging = PageRequest.From(page, limit);
        var query = db.Agents.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = LikePatterns.Containing(search);
            query = query.Where(a => EF.Functions.ILike(a.Name, pattern, LikePatterns.Escape) || EF.Functions.ILike(a.Description ?? string.Empty, pattern, LikePatterns.Escape));
        }

        if (type is not null)
        {
            query = query.Where(a => a.Type == type);
        }

        if (isActive is { } active)
        {
            query = query.Where(a => a.IsActive == active);
        }

        var total = await query.LongCountAsync(cancellationToken);
        var ordered = order.Key switch
        {
            "name" => order.Apply(query, a => a.Name),
            "lastUsedAt" => order.Apply(query, a => a.LastUsedAt),
            _ => order.Apply(query, a => a.CreatedAt),
        };
        var agents = await ordered.ThenBy(a => a.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<AgentResponse>([.. agents.Select(a => AgentResponse.From(a, permissions: null))], PageMeta.For(paging, total)));
    }

    public static async Task<IResult> GetAgent(Guid agentId, AgentsDbContext db, TenantContext tenant, AgentRoles roles, AgentClients clients, CancellationToken cancellationToken)
    {
        var agent = await db.Agents.AsNoTracking().FirstOrDefaultAsync(a => a.Id == agentId, cancellationToken);
        if (agent is null)
        {
            return ApiErrors.NotFound("Agent");
        }

        var held = await roles.OfAsync(tenant.TenantId, agent.Id, cancellationToken);
        var settings = agent.ClientId is { } clientId ? await clients.SettingsAsync(clientId, tenant.TenantId, tenant.Slug, cancellationToken) : null;
        return TypedResults.Ok(new DataResponse<AgentResponse>(AgentResponse.From(agent, held.Permissions, held.Roles).With(settings)));
    }

    public static async Task<IResult> CreateAgent(
        AgentRequest request, AgentsDbContext db, TenantContext tenant, AgentRoles roles, AgentClients clients, IOptions<WorkloadIdentityOptions> workloadOptions,
        HttpContext http, CancellationToken cancellationToken)
    {
        var validation = Validate(request, creating: true);
        var identityType = request.IdentityType ?? AgentIdentityTypes.ApiKey;
        validation.Check(AgentIdentityTypes.All.Contains(identityType), "identityType", "must be api_key, client_credentials or workload_identity");
        var workload = identityType == AgentIdentityTypes.WorkloadIdentity
            ? WorkloadIdentities.Validate(request.WorkloadIdentity, validation, workloadOptions.Value.AllowPrivateIssuers)
            : null;
        validation.Check(request.WorkloadIdentity is null || identityType == AgentIdentityTypes.WorkloadIdentity, "workloadIdentity", "is only for identity type workload_identity");
        validation.Check(!request.SetsClient || AgentIdentityTypes.HasClient(identityType), request.ClientField, AgentRequest.ClientOnly);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        if (await db.Agents.AnyAsync(a => a.Name == request.Name, cancellationToken))
        {
            return ApiErrors.Duplicate($"An agent named '{request.Name}' exists already");
        }

        if (workload is not null && await WorkloadTakenAsync(db, workload, exceptAgent: null, cancellationToken))
        {
            return WorkloadTaken();
        }

        var key = AgentKeys.NewKey();
        var now = DateTimeOffset.UtcNow;
        var agent = new Agent
        {
            Id = Guid.CreateVersion7(),
            TenantId = tenant.TenantId,
            KeyHash = AgentKeys.HashOf(key),
            KeyPrefix = AgentKeys.DisplayPrefix(key),
            KeyCreatedAt = now,
            CreatedAt = now,
            UpdatedAt = now,
        };
        Apply(request, agent);
        SetWorkload(agent, workload);

        // The roles are written first, for an id nobody else knows: the agent holds them from its first call. If the
        // save fails they are taken away again.
        var (granted, refusal) = await ReplaceRolesAsync(roles, tenant.TenantId, agent.Id, request.Roles ?? [], previous: [], http, cancellationToken);
        if (refusal is not null)
        {
            return refusal;
        }

        agent.Roles = [.. granted];
        string? clientSecret = null;
        AgentClientSettings? settings = null;
        try
        {
            // A client-credentials or workload agent gets its OAuth client first too, taken back with the roles if anything
            // fails. A workload agent's secret is not shown: its platform's tokens stand in for it (an administrator may
            // still rotate the client's secret in the Admin API).
            agent.IdentityType = identityType;
            if (AgentIdentityTypes.HasClient(identityType))
            {
                var (client, clientRefusal) = await clients.CreateAsync(
                    new(tenant.TenantId, tenant.Slug, agent.Id, agent.Name)
                    {
                        AllowedScopes = request.AllowedScopes, TokenLifetime = request.TokenLifetime, FullWrite = AdminScopeHandler.HasFullWrite(http.User),
                    },
                    cancellationToken);
                if (clientRefusal is not null)
                {
                    await roles.ReplaceAsync(tenant.TenantId, agent.Id, [], CancellationToken.None);
                    return clientRefusal;
                }

                agent.ClientId = client!.ClientId;
                clientSecret = identityType == AgentIdentityTypes.ClientCredentials ? client.ClientSecret : null;
                settings = client.Settings;
            }

            db.Agents.Add(agent);
            db.AddEvent(new AgentCreated(agent.Id, agent.Name, agent.Type, agent.Roles) { TenantId = tenant.TenantId });
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (Exception exception)
        {
            await roles.ReplaceAsync(tenant.TenantId, agent.Id, [], CancellationToken.None);
            if (agent.ClientId is { } made)
            {
                await clients.DeleteAsync(made, tenant.TenantId, tenant.Slug, CancellationToken.None);
            }

            if (exception is DbUpdateException update && update.IsUniqueViolation())
            {
                return ApiErrors.Duplicate($"An agent named '{request.Name}' or answering to this workload exists already");
            }

            throw;
        }

        var held = await roles.OfAsync(tenant.TenantId, agent.Id, cancellationToken);
        return TypedResults.Created(
            $"/t/{tenant.Slug}/api/v1/admin/agents/{agent.Id}",
            new DataResponse<AgentResponse>(AgentResponse.From(agent, held.Permissions, held.Roles).With(settings) with { ApiKey = key, ClientSecret = clientSecret }, "Agent created. Store the API key securely: it will not be shown again."));
    }

    /// <summary>Changes the fields the body names (PUT and PATCH alike; a field left out keeps its value).</summary>
    public static async Task<IResult> UpdateAgent(
        Guid agentId, AgentRequest request, AgentsDbContext db, TenantContext tenant, AgentRoles roles, JitTokens tokens, AgentClients clients,
        IOptions<WorkloadIdentityOptions> workloadOptions, HttpContext http, CancellationToken cancellationToken)
    {
        var validation = Validate(request, creating: false);
        validation.Check(request.IdentityType is null, "identityType", "is chosen when the agent is created; make a new agent for another");
        var workload = request.WorkloadIdentity is null ? null : WorkloadIdentities.Validate(request.WorkloadIdentity, validation, workloadOptions.Value.AllowPrivateIssuers);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var agent = await db.Agents.FirstOrDefaultAsync(a => a.Id == agentId, cancellationToken);
        if (agent is null)
        {
            return ApiErrors.NotFound("Agent");
        }

        if (workload is not null && agent.IdentityType != AgentIdentityTypes.WorkloadIdentity)
        {
            return ApiErrors.Validation("workloadIdentity", "is only for identity type workload_identity");
        }

        if (workload is not null && await WorkloadTakenAsync(db, workload, agent.Id, cancellationToken))
        {
            return WorkloadTaken();
        }

        // Whose tokens become an administering agent's is as sensitive as giving it the role.
        if (workload is not null && agent.Roles.Any(AdminScopeHandler.IsPrivilegedRole) && !AdminScopeHandler.HasFullWrite(http.User))
        {
            return ApiErrors.NeedsFullWrite("Changing the workload of an agent that administers the tenant");
        }

        if (request.Name is not null && request.Name != agent.Name && await db.Agents.AnyAsync(a => a.Name == request.Name && a.Id != agentId, cancellationToken))
        {
            return ApiErrors.Duplicate($"An agent named '{request.Name}' exists already");
        }

        var changes = ChangedFields(request);
        if (request.IsActive == false && agent.IsActive)
        {
            // A disabled agent's key fails at once (looked up on every call); its JIT tokens are voided with it.
            await tokens.RevokeAgentTokensAsync(tenant.TenantId, agent.Id);
        }

        AgentClientSettings? settings = null;
        if (request.SetsClient)
        {
            if (agent.ClientId is not { } ownClient)
            {
                return ApiErrors.Validation(request.ClientField, AgentRequest.ClientOnly);
            }

            // Done first, like the client's active state: a refusal or an outage leaves the agent as it was.
            var (changed, refusal) = await clients.UpdateSettingsAsync(
                ownClient, new(tenant.TenantId, tenant.Slug, request.AllowedScopes, request.TokenLifetime, AdminScopeHandler.HasFullWrite(http.User)), cancellationToken);
            if (refusal is not null)
            {
                return refusal;
            }

            settings = changed;
        }

        if (request.IsActive is { } active && active != agent.IsActive && agent.ClientId is { } clientId)
        {
            // Its OAuth client follows (deactivated: its tokens voided for every service). Done first: if the token
            // service cannot be reached nothing changes here, and the call can be made again.
            await clients.SetActiveAsync(clientId, tenant.TenantId, tenant.Slug, active, cancellationToken);
        }

        Apply(request, agent);
        if (workload is not null)
        {
            // Replaced as a whole, like the budget policy; a token of the old workload fails from now on.
            SetWorkload(agent, workload);
        }

        var previousRoles = agent.Roles;
        if (request.Roles is not null)
        {
            var (granted, refusal) = await ReplaceRolesAsync(roles, tenant.TenantId, agent.Id, request.Roles, agent.Roles, http, cancellationToken);
            if (refusal is not null)
            {
                return refusal;
            }

            agent.Roles = [.. granted];
        }

        agent.UpdatedAt = DateTimeOffset.UtcNow;
        db.AddEvent(new AgentUpdated(agent.Id, changes) { TenantId = tenant.TenantId });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (Exception exception)
        {
            // The roles were written first: the change that failed takes them back.
            if (request.Roles is not null)
            {
                await roles.ReplaceAsync(tenant.TenantId, agent.Id, previousRoles, CancellationToken.None);
            }

            if (exception is DbUpdateException update && update.IsUniqueViolation())
            {
                return ApiErrors.Duplicate($"An agent named '{request.Name}' or answering to this workload exists already");
            }

            throw;
        }

        var held = await roles.OfAsync(tenant.TenantId, agent.Id, cancellationToken);
        settings ??= agent.ClientId is { } client ? await clients.SettingsAsync(client, tenant.TenantId, tenant.Slug, cancellationToken) : null;
        return TypedResults.Ok(new DataResponse<AgentResponse>(AgentResponse.From(agent, held.Permissions, held.Roles).With(settings), "Agent updated"));
    }

    public static async Task<IResult> DeleteAgent(Guid agentId, AgentsDbContext db, TenantContext tenant, JitTokens tokens, AgentClients clients, CancellationToken cancellationToken)
    {
        var agent = await db.Agents.FirstOrDefaultAsync(a => a.Id == agentId, cancellationToken);
        if (agent is null)
        {
            return ApiErrors.NotFound("Agent");
        }

        // Its JIT tokens and its OAuth client (with the client's tokens) first: if Redis or the token service is out,
        // nothing is deleted and the call can be made again.
        await tokens.RevokeAgentTokensAsync(tenant.TenantId, agent.Id);
        if (agent.ClientId is { } clientId)
        {
            await clients.DeleteAsync(clientId, tenant.TenantId, tenant.Slug, cancellationToken);
        }
        // Its key stops working with the row; its roles and relationships go when the authorization service takes the event.
        db.Agents.Remove(agent);
        db.AddEvent(new AgentDeleted(agent.Id, agent.Name) { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// A new key, shown once; the old one fails from the moment this commits (keys are looked up on every call), and the
    /// JIT tokens got with it are voided (a key is rotated when it may have leaked).
    /// </summary>
    public static async Task<IResult> RotateKey(Guid agentId, AgentsDbContext db, TenantContext tenant, JitTokens tokens, CancellationToken cancellationToken)
    {
        var agent = await db.Agents.FirstOrDefaultAsync(a => a.Id == agentId, cancellationToken);
        if (agent is null)
        {
            return ApiErrors.NotFound("Agent");
        }

        await tokens.RevokeAgentTokensAsync(tenant.TenantId, agent.Id);

        var key = AgentKeys.NewKey();
        agent.KeyHash = AgentKeys.HashOf(key);
        agent.KeyPrefix = AgentKeys.DisplayPrefix(key);
        agent.KeyCreatedAt = agent.UpdatedAt = DateTimeOffset.UtcNow;
        db.AddEvent(new AgentKeyRotated(agent.Id, agent.KeyPrefix) { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<RotatedKeyResponse>(
            new RotatedKeyResponse(agent.Id, key, agent.KeyPrefix, agent.KeyCreatedAt), "API key rotated. The previous key no longer works."));
    }

    private static void SetWorkload(Agent agent, WorkloadIdentity? workload) =>
        (agent.Workload, agent.WorkloadIssuer, agent.WorkloadSubject) = workload is null ? (null, null, null) : (workload, workload.Issuer, WorkloadIdentities.SubjectOf(workload));

    private static Task<bool> WorkloadTakenAsync(AgentsDbContext db, WorkloadIdentity workload, Guid? exceptAgent, CancellationToken cancellationToken)
    {
        var subject = WorkloadIdentities.SubjectOf(workload);
        return db.Agents.AnyAsync(a => a.WorkloadIssuer == workload.Issuer && a.WorkloadSubject == subject && a.Id != exceptAgent, cancellationToken);
    }

    private static IResult WorkloadTaken() => ApiErrors.Duplicate("Another agent of the tenant answers to this workload (issuer and subject) already");

    /// <summary>
    /// Writes the roles at the authorization service. Giving or taking the roles that administer the tenant needs a
    /// credential that writes everything (as for users); a role named by id is checked once it resolved to its slug.
    /// </summary>
    private static async Task<(IReadOnlyList<string> Granted, IResult? Refusal)> ReplaceRolesAsync(
        AgentRoles roles, Guid tenantId, Guid agentId, IReadOnlyList<string> wanted, IReadOnlyList<string> previous, HttpContext http, CancellationToken cancellationToken)
    {
        var fullWrite = AdminScopeHandler.HasFullWrite(http.User);
        if (!fullWrite && wanted.Except(previous).Concat(previous.Except(wanted)).Any(AdminScopeHandler.IsPrivilegedRole))
        {
            return ([], ApiErrors.NeedsFullWrite("Giving or taking the admin and tenant_admin roles"));
        }

        var answer = await roles.ReplaceAsync(tenantId, agentId, wanted, cancellationToken);
        if (answer.Unknown.Count > 0)
        {
            return ([], ApiErrors.Validation("roles", $"unknown roles: {string.Join(", ", answer.Unknown)}"));
        }

        if (!fullWrite && answer.Roles.Except(previous).Concat(previous.Except(answer.Roles)).Any(AdminScopeHandler.IsPrivilegedRole))
        {
            await roles.ReplaceAsync(tenantId, agentId, previous, CancellationToken.None);
            return ([], ApiErrors.NeedsFullWrite("Giving or taking the admin and tenant_admin roles"));
        }

        return (answer.Roles, null);
    }

    private static RequestValidator Validate(AgentRequest request, bool creating)
    {
        var validation = creating ? new RequestValidator().Required("name", request.Name, Agent.NameLength) : new RequestValidator().Optional("name", request.Name, Agent.NameLength);
        validation.Check(request.Name is null || request.Name.Trim().Length > 0, "name", "must not be blank");
        validation.Optional("description", request.Description, Agent.DescriptionLength);
        validation.Check(request.Type is null || AgentTypes.All.Contains(request.Type), "type", $"must be one of {string.Join(", ", AgentTypes.All)}");
        if (request.Roles is { } roles)
        {
            validation.Check(roles.Count <= Contracts.Internal.InitialRolesRequest.MaxRoles, "roles", $"must name at most {Contracts.Internal.InitialRolesRequest.MaxRoles} roles");
            validation.Check(roles.All(r => !string.IsNullOrWhiteSpace(r) && r.Length <= 200), "roles", "must be role slugs or ids");
        }

        if (request.Capabilities is { } capabilities)
        {
            validation.Check(capabilities.Count <= Agent.MaxCapabilities, "capabilities", $"must hold at most {Agent.MaxCapabilities} entries");
            foreach (var capability in capabilities.Where(c => c is null || !CapabilityPattern().IsMatch(c)))
            {
                validation.Add("capabilities", $"'{capability}' is not a permission or scope name (letters, digits, . : _ - and a trailing *)");
            }
        }

        if (request.AllowedIps is { } ips)
        {
            validation.Check(ips.Count <= Agent.MaxAllowedIps, "allowedIps", $"must hold at most {Agent.MaxAllowedIps} addresses or ranges");
            foreach (var ip in ips.Where(i => !IpAllowList.IsValidEntry(i)))
            {
                validation.Add("allowedIps", $"'{ip}' is neither an IP address nor a CIDR range");
            }
        }

        if (request.BudgetPolicy is { } budget)
        {
            validation.Check(budget.MaxApiCallsPerHour is null or >= 1 and <= 10_000_000, "budgetPolicy.maxApiCallsPerHour", "must be between 1 and 10000000 (leave it out for no limit)");
            validation.Check(budget.MaxTokensPerDay is null or >= 1 and <= 1_000_000_000_000, "budgetPolicy.maxTokensPerDay", "must be between 1 and 10^12 (leave it out for no limit)");
            validation.Check(budget.MaxCostPerMonthUsd is null or >= 0.01m and <= 1_000_000_000m, "budgetPolicy.maxCostPerMonthUsd", "must be between 0.01 and 10^9 (leave it out for no limit)");
            validation.Check(budget.RequireApprovalAboveUsd is null or >= 0m and <= 1_000_000_000m, "budgetPolicy.requireApprovalAboveUsd", "must be between 0 and 10^9 (leave it out for no such rule)");
            validation.Check(budget.AllowedModels is null || (budget.AllowedModels.Count <= 50 && budget.AllowedModels.All(m => m is { Length: > 0 and <= 100 })),
                "budgetPolicy.allowedModels", "must be at most 50 model names of 1-100 characters");
        }

        return validation;
    }

    private static void Apply(AgentRequest request, Agent agent)
    {
        agent.Name = request.Name?.Trim() ?? agent.Name;
        agent.Description = request.Description ?? agent.Description;
        agent.Type = request.Type ?? agent.Type;
        agent.IsActive = request.IsActive ?? agent.IsActive;
        if (request.Capabilities is { } capabilities)
        {
            agent.Capabilities = [.. capabilities.Distinct(StringComparer.Ordinal)];
        }

        if (request.AllowedIps is { } ips)
        {
            // An empty list lifts the restriction, as leaving it out on creation does.
            agent.AllowedIps = ips.Count == 0 ? null : [.. ips.Select(IpAllowList.Normalize).Distinct(StringComparer.Ordinal)];
        }

        if (request.BudgetPolicy is { } budget)
        {
            // The policy is replaced as a whole: a limit left out is lifted.
            agent.MaxApiCallsPerHour = budget.MaxApiCallsPerHour;
            agent.MaxTokensPerDay = budget.MaxTokensPerDay;
            agent.MaxCostPerMonthUsd = budget.MaxCostPerMonthUsd;
            agent.RequireApprovalAboveUsd = budget.RequireApprovalAboveUsd;
            agent.AllowedModels = budget.AllowedModels is { } models ? [.. models.Distinct(StringComparer.Ordinal)] : null;
        }
    }

    private static List<string> ChangedFields(AgentRequest request)
    {
        var changes = new List<string>();
        void Note(object? value, string field)
        {
            if (value is not null)
            {
                changes.Add(field);
            }
        }

        Note(request.Name, "name");
        Note(request.Description, "description");
        Note(request.Type, "type");
        Note(request.IsActive, "isActive");
        Note(request.Roles, "roles");
        Note(request.Capabilities, "capabilities");
        Note(request.AllowedIps, "allowedIps");
        Note(request.BudgetPolicy, "budgetPolicy");
        Note(request.WorkloadIdentity, "workloadIdentity");
        return changes;
    }

    [GeneratedRegex(@"^[A-Za-z0-9_.:\-]{1,200}\*?$|^\*$")]
    private static partial Regex CapabilityPattern();
}

/// <summary>An agent's limits (the docs' budget policy); each left out is no limit.</summary>
public sealed record BudgetPolicy(
    [property: JsonPropertyName("maxApiCallsPerHour")] int? MaxApiCallsPerHour,
    [property: JsonPropertyName("maxTokensPerDay")] long? MaxTokensPerDay = null,
    [property: JsonPropertyName("maxCostPerMonthUsd")] decimal? MaxCostPerMonthUsd = null,
    [property: JsonPropertyName("allowedModels")] IReadOnlyList<string>? AllowedModels = null,
    [property: JsonPropertyName("requireApprovalAboveUsd")] decimal? RequireApprovalAboveUsd = null)
{
    public static BudgetPolicy Of(Agent a) => new(a.MaxApiCallsPerHour, a.MaxTokensPerDay, a.MaxCostPerMonthUsd, a.AllowedModels, a.RequireApprovalAboveUsd);
}

public sealed record AgentRequest(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("roles")] IReadOnlyList<string>? Roles,
    [property: JsonPropertyName("capabilities")] IReadOnlyList<string>? Capabilities,
    [property: JsonPropertyName("allowedIps")] IReadOnlyList<string>? AllowedIps,
    [property: JsonPropertyName("budgetPolicy")] BudgetPolicy? BudgetPolicy,
    [property: JsonPropertyName("isActive")] bool? IsActive,
    [property: JsonPropertyName("identityType")] string? IdentityType = null,
    [property: JsonPropertyName("workloadIdentity")] WorkloadIdentity? WorkloadIdentity = null,
    [property: JsonPropertyName("allowedScopes")] IReadOnlyList<string>? AllowedScopes = null,
    [property: JsonPropertyName("tokenLifetime")] int? TokenLifetime = null)
{
    public const string ClientOnly = "is for agents with an OAuth client (identity type client_credentials or workload_identity); an api_key agent gets no tokens";

    /// <summary>Whether the body sets what the agent's OAuth client holds (only agents with a client have them).</summary>
    public bool SetsClient => AllowedScopes is not null || TokenLifetime is not null;

    /// <summary>The field a refusal of <see cref="SetsClient"/> names.</summary>
    public string ClientField => AllowedScopes is not null ? "allowedScopes" : "tokenLifetime";
}

public sealed record AgentResponse(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("roles")] IReadOnlyList<string> Roles,
    [property: JsonPropertyName("permissions")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    IReadOnlyList<string>? Permissions,
    [property: JsonPropertyName("capabilities")] IReadOnlyList<string> Capabilities,
    [property: JsonPropertyName("isActive")] bool IsActive,
    [property: JsonPropertyName("allowedIps")] IReadOnlyList<string>? AllowedIps,
    [property: JsonPropertyName("budgetPolicy")] BudgetPolicy BudgetPolicy,
    [property: JsonPropertyName("identityType")] string IdentityType,
    [property: JsonPropertyName("clientId")] string? ClientId,
    [property: JsonPropertyName("workloadIdentity")] WorkloadIdentity? WorkloadIdentity,
    [property: JsonPropertyName("keyPrefix")] string KeyPrefix,
    [property: JsonPropertyName("lastUsedAt")] DateTimeOffset? LastUsedAt,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("updatedAt")] DateTimeOffset UpdatedAt)
{
    /// <summary>The agent's key: in the creation's answer only, never again.</summary>
    [JsonPropertyName("apiKey")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ApiKey { get; init; }

    /// <summary>The scopes its OAuth client may ask for (agents with a client; single reads and writes only, like <c>permissions</c>).</summary>
    [JsonPropertyName("allowedScopes")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? AllowedScopes { get; init; }

    /// <summary>How long its OAuth client's access tokens live, in seconds.</summary>
    [JsonPropertyName("tokenLifetime")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? TokenLifetime { get; init; }

    /// <summary>This answer with the client's settings, when the agent has a client.</summary>
    public AgentResponse With(AgentClientSettings? settings) =>
        settings is null ? this : this with { AllowedScopes = settings.AllowedScopes, TokenLifetime = settings.TokenLifetime };

    /// <summary>Its OAuth client's secret (client-credentials agents): in the creation's answer only; the Admin API's clients rotate it.</summary>
    [JsonPropertyName("clientSecret")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ClientSecret { get; init; }

    /// <param name="permissions">What its roles grant now (asked of the authorization service); left out of lists.</param>
    /// <param name="roles">The roles the authorization service holds for it, when asked; else the registry's record.</param>
    public static AgentResponse From(Agent a, IReadOnlyList<string>? permissions, IReadOnlyList<string>? roles = null) => new(
        a.Id, a.Name, a.Description, a.Type, roles ?? a.Roles, permissions, a.Capabilities, a.IsActive, a.AllowedIps,
        BudgetPolicy.Of(a), a.IdentityType, a.ClientId, a.Workload, a.KeyPrefix, a.LastUsedAt, a.CreatedAt, a.UpdatedAt);
}

public sealed record RotatedKeyResponse(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("apiKey")] string ApiKey,
    [property: JsonPropertyName("keyPrefix")] string KeyPrefix,
    [property: JsonPropertyName("keyCreatedAt")] DateTimeOffset KeyCreatedAt);
