using LumoAuth.Messaging.Data;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Agents.Data;

/// <summary>
/// A non-human identity of a tenant: an AI assistant, a bot, a service. It authenticates with its own key (only the
/// key's SHA-256 is kept) and may do what its roles grant (held in the authorization service's RBAC as <c>agent:{id}</c>)
/// and what its capabilities name.
/// </summary>
public sealed class Agent
{
    public const int NameLength = 200;
    public const int DescriptionLength = 1000;
    public const int MaxCapabilities = 100;
    public const int MaxAllowedIps = 50;

    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Name { get; set; } = string.Empty;

    public string? Description { get; set; }

    /// <summary>One of <see cref="AgentTypes.All"/>.</summary>
    public string Type { get; set; } = AgentTypes.Service;

    /// <summary>
    /// The role slugs last written for it at the authorization service, which holds the truth (a role's deletion takes it
    /// away here too, <c>AgentRoleRecordConsumer</c>); for lists, which do not ask it about every agent.
    /// </summary>
    public List<string> Roles { get; set; } = [];

    /// <summary>Permission or scope slugs the agent may use besides what its roles grant.</summary>
    public List<string> Capabilities { get; set; } = [];

    /// <summary>Addresses and CIDR ranges the agent may call from; null for anywhere.</summary>
    public List<string>? AllowedIps { get; set; }

    /// <summary>At most this many authenticated calls per clock hour; null for no limit.</summary>
    public int? MaxApiCallsPerHour { get; set; }

    /// <summary>At most this many model tokens (as the agent reports them) per UTC day; null for no limit.</summary>
    public long? MaxTokensPerDay { get; set; }

    /// <summary>At most this much spending in US dollars (as the agent reports it) per UTC month; null for no limit.</summary>
    public decimal? MaxCostPerMonthUsd { get; set; }

    /// <summary>
    /// A JIT request stating an amount above this many US dollars (or one in another currency, or unreadable) waits for a
    /// person's approval, whatever its risk level; null for no such rule.
    /// </summary>
    public decimal? RequireApprovalAboveUsd { get; set; }

    /// <summary>The models the agent may report using; null for any.</summary>
    public List<string>? AllowedModels { get; set; }

    public bool IsActive { get; set; } = true;

    /// <summary><c>api_key</c> (its own key only) or <c>client_credentials</c> (also an OAuth client, <see cref="ClientId"/>).</summary>
    public string IdentityType { get; set; } = AgentIdentityTypes.ApiKey;

    /// <summary>Its OAuth client at the token service, for the client-credentials and workload identity types.</summary>
    public string? ClientId { get; set; }

    /// <summary>The workload whose platform tokens it exchanges for access tokens (identity type <c>workload_identity</c>).</summary>
    public Features.Registry.WorkloadIdentity? Workload { get; set; }

    /// <summary>The workload's issuer and subject (<c>WorkloadIdentities.SubjectOf</c>), kept apart for the token service's lookup and uniqueness.</summary>
    public string? WorkloadIssuer { get; set; }

    public string? WorkloadSubject { get; set; }

    public byte[] KeyHash { get; set; } = [];

    /// <summary>The key's first characters, to tell keys apart in lists and logs.</summary>
    public string KeyPrefix { get; set; } = string.Empty;

    public DateTimeOffset KeyCreatedAt { get; set; }

    public DateTimeOffset? LastUsedAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

public static class AgentIdentityTypes
{
    public const string ApiKey = "api_key";
    public const string ClientCredentials = "client_credentials";
    public const string WorkloadIdentity = "workload_identity";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal) { ApiKey, ClientCredentials, WorkloadIdentity };

    /// <summary>The identity types whose agent has an OAuth client at the token service.</summary>
    public static bool HasClient(string identityType) => identityType is ClientCredentials or WorkloadIdentity;
}

public static class AgentTypes
{
    public const string AiAssistant = "ai_assistant";
    public const string Service = "service";
    public const string Bot = "bot";
    public const string Integration = "integration";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal) { AiAssistant, Service, Bot, Integration };
}

/// <summary>
/// A JIT task: one piece of an agent's work (an "ephemeral persona"). Its requests are judged with its accumulated risk,
/// and ending it (completed, suspended, expired) revokes every token its requests were given.
/// </summary>
public sealed class JitTask
{
    public const int NameLength = 200;

    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid AgentId { get; set; }

    public string Name { get; set; } = string.Empty;

    public string? Type { get; set; }

    /// <summary>Whom the agent works for (an e-mail address), when it says so.</summary>
    public string? OnBehalfOf { get; set; }

    /// <summary>
    /// The task this one was opened within (a subtask, the docs' <c>parent_task_id</c>): it ends no later than its parent,
    /// and ending the parent ends it.
    /// </summary>
    public Guid? ParentTaskId { get; set; }

    /// <summary>One of <see cref="JitStatuses"/>' task states.</summary>
    public string Status { get; set; } = JitStatuses.Active;

    /// <summary>The sum of its requests' risk (<c>JitRisk</c>); past the threshold the task is suspended.</summary>
    public int RiskScore { get; set; }

    public int DenialCount { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    public string? EndReason { get; set; }
}

/// <summary>A request for permission within a task, as RFC 9396 <c>authorization_details</c>, and what became of it.</summary>
public sealed class JitRequest
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid TaskId { get; set; }

    public Guid AgentId { get; set; }

    /// <summary>The normalised <c>authorization_details</c> (a JSON array of objects).</summary>
    public string AuthorizationDetails { get; set; } = "[]";

    /// <summary>
    /// The OAuth scopes asked, for a request of the scope-based design (<c>required_scopes</c>, <c>scope</c>); null for
    /// one that sent <c>authorization_details</c>. Its <see cref="AuthorizationDetails"/> then describe the scopes.
    /// </summary>
    public List<string>? Scopes { get; set; }

    public string? Justification { get; set; }

    public int GrantedTtl { get; set; }

    public string RiskLevel { get; set; } = string.Empty;

    /// <summary>One of <see cref="JitStatuses"/>' request states.</summary>
    public string Status { get; set; } = JitStatuses.Pending;

    public string? DenyReason { get; set; }

    public string? CallbackUrl { get; set; }

    /// <summary>Who decided (an API key, a user) for a request a human decided; null when decided automatically.</summary>
    public string? DecidedBy { get; set; }

    public DateTimeOffset? DecidedAt { get; set; }

    /// <summary>A pending request waits for a decision, and an approved one for its token, until this moment.</summary>
    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The one token the request was given (its <c>jti</c>), once fetched.</summary>
    public string? TokenId { get; set; }

    public DateTimeOffset? TokenExpiresAt { get; set; }
}

public static class JitStatuses
{
    public const string Active = "active";
    public const string Completed = "completed";
    public const string Suspended = "suspended";
    public const string Expired = "expired";

    public const string Pending = "pending";
    public const string Approved = "approved";
    public const string Denied = "denied";
}

/// <summary>
/// An MCP server registered as a protected resource (RFC 9728): its Resource URI (RFC 8707) is the <c>resource</c> clients
/// ask tokens for and the <c>aud</c> of those tokens, which live <see cref="TokenLifetime"/> seconds.
/// </summary>
public sealed class McpServer
{
    public const int MinTokenLifetime = 60;
    public const int MaxTokenLifetime = 86_400;

    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Name { get; set; } = string.Empty;

    public string? Description { get; set; }

    public string ResourceUri { get; set; } = string.Empty;

    public string? EndpointUrl { get; set; }

    /// <summary><c>http_streamable</c>, <c>http_sse</c> or <c>stdio</c>.</summary>
    public string Transport { get; set; } = "http_streamable";

    /// <summary><c>oauth</c> (protected) or <c>none</c> (public: no tokens are bound to it).</summary>
    public string AuthMode { get; set; } = "oauth";

    /// <summary><c>active</c> or <c>inactive</c>.</summary>
    public string Status { get; set; } = "active";

    public List<string> ScopesSupported { get; set; } = [];

    public int TokenLifetime { get; set; } = 3600;

    /// <summary>The OAuth clients that may get tokens for it; empty for every client of the tenant.</summary>
    public List<string> AllowedClientIds { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class AgentsDbContext(DbContextOptions<AgentsDbContext> options, TenantContext tenant) : DbContext(options)
{
    public DbSet<Agent> Agents => Set<Agent>();

    public DbSet<JitTask> JitTasks => Set<JitTask>();

    public DbSet<JitRequest> JitRequests => Set<JitRequest>();

    public DbSet<McpServer> McpServers => Set<McpServer>();

    public DbSet<AAuthAgent> AAuthAgents => Set<AAuthAgent>();

    public DbSet<AAuthResource> AAuthResources => Set<AAuthResource>();

    public DbSet<AAuthGrant> AAuthGrants => Set<AAuthGrant>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder) =>
        configurationBuilder.StoreTimestampsAsUtc();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddMessagingTables();
        modelBuilder.Entity<Agent>(e =>
        {
            e.ToTable("agents");
            e.HasKey(a => a.Id);
            // A key is found by its hash alone (the tenant is checked after): one index, unique across tenants.
            e.HasIndex(a => a.KeyHash).IsUnique();
            e.HasIndex(a => new { a.TenantId, a.Name }).IsUnique();
            e.HasIndex(a => new { a.TenantId, a.ClientId }).IsUnique().HasFilter("\"ClientId\" IS NOT NULL");
            e.Property(a => a.IdentityType).HasMaxLength(32).HasDefaultValue(AgentIdentityTypes.ApiKey);
            e.Property(a => a.ClientId).HasMaxLength(64);
            e.Property(a => a.Workload).HasColumnType("jsonb").HasConversion(
                w => w == null ? null : System.Text.Json.JsonSerializer.Serialize(w, (System.Text.Json.JsonSerializerOptions?)null),
                json => json == null ? null : System.Text.Json.JsonSerializer.Deserialize<Features.Registry.WorkloadIdentity>(json, (System.Text.Json.JsonSerializerOptions?)null));
            e.Property(a => a.WorkloadIssuer).HasMaxLength(500);
            e.Property(a => a.WorkloadSubject).HasMaxLength(600);
            // One agent per workload in a tenant: a token never answers for two.
            e.HasIndex(a => new { a.TenantId, a.WorkloadIssuer, a.WorkloadSubject }).IsUnique().HasFilter("\"WorkloadIssuer\" IS NOT NULL");
            e.HasIndex(a => new { a.TenantId, a.CreatedAt });
            e.Property(a => a.Name).HasMaxLength(Agent.NameLength);
            e.Property(a => a.Description).HasMaxLength(Agent.DescriptionLength);
            e.Property(a => a.Type).HasMaxLength(32);
            e.Property(a => a.KeyPrefix).HasMaxLength(32);
            e.Property(a => a.MaxCostPerMonthUsd).HasPrecision(12, 2);
            e.Property(a => a.RequireApprovalAboveUsd).HasPrecision(12, 2);
            e.HasQueryFilter(a => a.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<JitTask>(e =>
        {
            e.ToTable("jit_tasks");
            e.HasKey(t => t.Id);
            e.HasIndex(t => new { t.TenantId, t.AgentId, t.CreatedAt });
            // A task's subtasks, found when it ends.
            e.HasIndex(t => t.ParentTaskId).HasFilter("\"ParentTaskId\" IS NOT NULL");
            e.Property(t => t.Name).HasMaxLength(JitTask.NameLength);
            e.Property(t => t.Type).HasMaxLength(64);
            e.Property(t => t.OnBehalfOf).HasMaxLength(320);
            e.Property(t => t.Status).HasMaxLength(16);
            e.Property(t => t.EndReason).HasMaxLength(64);
            e.HasQueryFilter(t => t.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<JitRequest>(e =>
        {
            e.ToTable("jit_requests");
            e.HasKey(r => r.Id);
            e.HasIndex(r => new { r.TenantId, r.TaskId });
            // The approvers' queue: a tenant's pending requests, oldest first.
            e.HasIndex(r => new { r.TenantId, r.Status, r.CreatedAt });
            e.Property(r => r.AuthorizationDetails).HasColumnType("jsonb");
            e.Property(r => r.Justification).HasMaxLength(1000);
            e.Property(r => r.RiskLevel).HasMaxLength(16);
            e.Property(r => r.Status).HasMaxLength(16);
            e.Property(r => r.DenyReason).HasMaxLength(500);
            e.Property(r => r.CallbackUrl).HasMaxLength(2000);
            e.Property(r => r.DecidedBy).HasMaxLength(200);
            e.Property(r => r.TokenId).HasMaxLength(64);
            e.HasQueryFilter(r => r.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<McpServer>(e =>
        {
            e.ToTable("mcp_servers");
            e.HasKey(m => m.Id);
            // One server per Resource URI in a tenant: the URI is how tokens and requests name it.
            e.HasIndex(m => new { m.TenantId, m.ResourceUri }).IsUnique();
            e.Property(m => m.Name).HasMaxLength(200);
            e.Property(m => m.Description).HasMaxLength(1000);
            e.Property(m => m.ResourceUri).HasMaxLength(2000);
            e.Property(m => m.EndpointUrl).HasMaxLength(2000);
            e.Property(m => m.Transport).HasMaxLength(32);
            e.Property(m => m.AuthMode).HasMaxLength(16);
            e.Property(m => m.Status).HasMaxLength(16);
            e.HasQueryFilter(m => m.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<AAuthAgent>(e =>
        {
            e.ToTable("aauth_agents");
            e.HasKey(a => a.Id);
            // Requests name an agent by its identifier: one per tenant.
            e.HasIndex(a => new { a.TenantId, a.Identifier }).IsUnique();
            e.Property(a => a.Name).HasMaxLength(200);
            e.Property(a => a.Description).HasMaxLength(1000);
            e.Property(a => a.Identifier).HasMaxLength(500);
            e.Property(a => a.Jwks).HasColumnType("jsonb");
            e.Property(a => a.JwksUri).HasMaxLength(500);
            e.HasQueryFilter(a => a.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<AAuthResource>(e =>
        {
            e.ToTable("aauth_resources");
            e.HasKey(r => r.Id);
            e.HasIndex(r => new { r.TenantId, r.Identifier }).IsUnique();
            e.Property(r => r.Name).HasMaxLength(200);
            e.Property(r => r.Description).HasMaxLength(1000);
            e.Property(r => r.Identifier).HasMaxLength(500);
            e.Property(r => r.Jwks).HasColumnType("jsonb");
            e.Property(r => r.JwksUri).HasMaxLength(500);
            e.Property(r => r.AuthLevel).HasMaxLength(16);
            e.HasQueryFilter(r => r.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<AAuthGrant>(e =>
        {
            e.ToTable("aauth_grants");
            e.HasKey(g => g.Id);
            // Secrets are found by their hash alone (the tenant is checked after).
            e.HasIndex(g => g.RequestTokenHash).IsUnique().HasFilter("\"RequestTokenHash\" IS NOT NULL");
            e.HasIndex(g => g.RefreshTokenHash).IsUnique().HasFilter("\"RefreshTokenHash\" IS NOT NULL");
            e.HasIndex(g => g.PreviousRefreshTokenHash).HasFilter("\"PreviousRefreshTokenHash\" IS NOT NULL");
            // An agent's or resource's grants, revoked when it is deleted.
            e.HasIndex(g => new { g.TenantId, g.AgentId });
            e.HasIndex(g => new { g.TenantId, g.ResourceId });
            e.Property(g => g.Scope).HasMaxLength(2000);
            e.Property(g => g.AuthLevel).HasMaxLength(16);
            e.Property(g => g.KeyThumbprint).HasMaxLength(64);
            e.Property(g => g.Actor).HasMaxLength(500);
            e.Property(g => g.State).HasMaxLength(16);
            e.Property(g => g.RedirectUri).HasMaxLength(2000);
            e.Property(g => g.ClientState).HasMaxLength(500);
            e.HasQueryFilter(g => g.TenantId == tenant.CurrentTenantId);
        });
    }
}
