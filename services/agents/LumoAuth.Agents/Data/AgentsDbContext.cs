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

    public bool IsActive { get; set; } = true;

    public byte[] KeyHash { get; set; } = [];

    /// <summary>The key's first characters, to tell keys apart in lists and logs.</summary>
    public string KeyPrefix { get; set; } = string.Empty;

    public DateTimeOffset KeyCreatedAt { get; set; }

    public DateTimeOffset? LastUsedAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

public static class AgentTypes
{
    public const string AiAssistant = "ai_assistant";
    public const string Service = "service";
    public const string Bot = "bot";
    public const string Integration = "integration";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal) { AiAssistant, Service, Bot, Integration };
}

public sealed class AgentsDbContext(DbContextOptions<AgentsDbContext> options, TenantContext tenant) : DbContext(options)
{
    public DbSet<Agent> Agents => Set<Agent>();

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
            e.HasIndex(a => new { a.TenantId, a.CreatedAt });
            e.Property(a => a.Name).HasMaxLength(Agent.NameLength);
            e.Property(a => a.Description).HasMaxLength(Agent.DescriptionLength);
            e.Property(a => a.Type).HasMaxLength(32);
            e.Property(a => a.KeyPrefix).HasMaxLength(32);
            e.HasQueryFilter(a => a.TenantId == tenant.CurrentTenantId);
        });
    }
}
