using LumoAuth.Messaging.Data;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Data;

/// <summary>A stored relationship <c>object#relation@subject</c>; <see cref="SubjectRelation"/> is empty for a plain subject.</summary>
public sealed class StoredTuple
{
    public Guid TenantId { get; set; }

    public string ObjectType { get; set; } = string.Empty;

    public string ObjectId { get; set; } = string.Empty;

    public string Relation { get; set; } = string.Empty;

    public string SubjectType { get; set; } = string.Empty;

    public string SubjectId { get; set; } = string.Empty;

    public string SubjectRelation { get; set; } = string.Empty;

    /// <summary>The condition that must hold for the tuple to count; empty when unconditional.</summary>
    public string ConditionName { get; set; } = string.Empty;

    /// <summary>The condition's stored parameters as a JSON object (they win over a request's context).</summary>
    public string? ConditionContext { get; set; }

    public long CreatedRevision { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>The tenant's changelog: every write and delete with the revision it produced (replicas and caches tail it).</summary>
public sealed class TupleChange
{
    public long Id { get; set; }

    public Guid TenantId { get; set; }

    public long Revision { get; set; }

    public string Operation { get; set; } = string.Empty;

    public string Tuple { get; set; } = string.Empty;

    public string ConditionName { get; set; } = string.Empty;

    public string? ConditionContext { get; set; }

    public DateTimeOffset Timestamp { get; set; }
}

/// <summary>One version of a tenant's schema, as written (DSL or YAML); the highest version is in force.</summary>
public sealed class TenantSchema
{
    public long Id { get; set; }

    public Guid TenantId { get; set; }

    public int Version { get; set; }

    public string Format { get; set; } = string.Empty;

    public string Source { get; set; } = string.Empty;

    public string ModelId { get; set; } = string.Empty;

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>The tenant's current revision, bumped once per write transaction.</summary>
public sealed class TenantRevision
{
    public Guid TenantId { get; set; }

    public long Revision { get; set; }

    /// <summary>
    /// The changelog's horizon: changes up to this revision are no longer kept (<see cref="Storage.ChangelogRetention"/>).
    /// Raised, and committed, before they are deleted: whoever reads changes and then this finds out when some were missing.
    /// </summary>
    public long ChangelogHorizon { get; set; }
}

/// <summary>An RBAC role. Its slug names it in tuples of the built-in RBAC model, so it never changes.</summary>
public sealed class Role
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Slug { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public string? Description { get; set; }

    public bool IsSystem { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>An RBAC permission: an opaque slug (<c>document.edit</c>, <c>users:read</c>) that never changes.</summary>
public sealed class Permission
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Slug { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public string? Description { get; set; }

    public string? Category { get; set; }

    public bool IsSystem { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>An ABAC attribute definition (AZ-11): what an attribute is called, where it lives and what type it has.</summary>
public sealed class AbacAttribute
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Key { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public string Category { get; set; } = string.Empty;

    public string DataType { get; set; } = string.Empty;

    public string? Description { get; set; }

    /// <summary>JSON array of the allowed values, or null for any.</summary>
    public string? AllowedValues { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A tenant's ABAC settings: how matching policies combine (<c>deny_overrides</c> or <c>priority</c>); no row, the default.</summary>
public sealed class AbacSettingsRow
{
    public Guid TenantId { get; set; }

    public string CombiningAlgorithm { get; set; } = AbacSettingsRow.DenyOverrides;

    public DateTimeOffset UpdatedAt { get; set; }

    public const string DenyOverrides = "deny_overrides";
    public const string Priority = "priority";
}

/// <summary>An ABAC policy; <see cref="Conditions"/> holds the canonical condition JSON (form A).</summary>
public sealed class AbacPolicyRow
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Name { get; set; } = string.Empty;

    public string? Description { get; set; }

    public string Effect { get; set; } = string.Empty;

    public int Priority { get; set; }

    public bool IsActive { get; set; }

    /// <summary>JSON array of resource types (empty: any).</summary>
    public string Resources { get; set; } = "[]";

    /// <summary>JSON array of actions (empty: any).</summary>
    public string Actions { get; set; } = "[]";

    public string? Conditions { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>Attributes stored for a subject (a user or agent id) or a resource (type and id), as one JSON object.</summary>
public sealed class AbacEntityAttributes
{
    public Guid TenantId { get; set; }

    /// <summary><c>subject</c> or a resource type.</summary>
    public string EntityType { get; set; } = string.Empty;

    public string EntityId { get; set; } = string.Empty;

    public string Attributes { get; set; } = "{}";

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>
/// When the last applied membership event for (group, user) happened. Events arrive at least once and in
/// any order, so an event older than the one already applied is stale and skipped.
/// </summary>
public sealed class GroupMembershipVersion
{
    public Guid TenantId { get; set; }

    public Guid GroupId { get; set; }

    public Guid UserId { get; set; }

    public DateTimeOffset OccurredAt { get; set; }
}

public sealed class AuthorizationDbContext(DbContextOptions<AuthorizationDbContext> options, TenantContext tenant) : DbContext(options)
{
    public DbSet<StoredTuple> Tuples => Set<StoredTuple>();

    public DbSet<TupleChange> Changes => Set<TupleChange>();

    public DbSet<TenantRevision> Revisions => Set<TenantRevision>();

    public DbSet<TenantSchema> Schemas => Set<TenantSchema>();

    public DbSet<Role> Roles => Set<Role>();

    public DbSet<Permission> Permissions => Set<Permission>();

    public DbSet<GroupMembershipVersion> GroupMembershipVersions => Set<GroupMembershipVersion>();

    public DbSet<AbacAttribute> AbacAttributes => Set<AbacAttribute>();

    public DbSet<AbacPolicyRow> AbacPolicies => Set<AbacPolicyRow>();

    public DbSet<AbacSettingsRow> AbacSettings => Set<AbacSettingsRow>();

    public DbSet<AbacEntityAttributes> AbacEntityAttributes => Set<AbacEntityAttributes>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder) =>
        configurationBuilder.StoreTimestampsAsUtc();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddMessagingTables();
        modelBuilder.Entity<StoredTuple>(e =>
        {
            e.ToTable("tuples");
            e.HasKey(t => new { t.TenantId, t.ObjectType, t.ObjectId, t.Relation, t.SubjectType, t.SubjectId, t.SubjectRelation });
            // Reverse lookups (list-objects, "what can this subject reach").
            e.HasIndex(t => new { t.TenantId, t.SubjectType, t.SubjectId, t.SubjectRelation, t.Relation });

            // A check that misses the direct tuple reads the object's usersets (group#member…): only those, not every direct
            // subject (a role's hundred thousand assignees). The reader's query repeats the filter literally, so it matches.
            e.HasIndex(t => new { t.TenantId, t.ObjectType, t.ObjectId, t.Relation }).HasFilter("\"SubjectRelation\" <> ''").HasDatabaseName("ix_tuples_usersets");
            foreach (var p in new[] { nameof(StoredTuple.ObjectType), nameof(StoredTuple.Relation), nameof(StoredTuple.SubjectType), nameof(StoredTuple.SubjectRelation) })
            {
                e.Property(p).HasMaxLength(64);
            }

            e.Property(t => t.ObjectId).HasMaxLength(256);
            e.Property(t => t.SubjectId).HasMaxLength(256);
            e.Property(t => t.ConditionName).HasMaxLength(64).HasDefaultValue(string.Empty);
            e.Property(t => t.ConditionContext).HasColumnType("jsonb");
            e.HasQueryFilter(t => t.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<TupleChange>(e =>
        {
            e.ToTable("tuple_changes");
            e.HasIndex(c => new { c.TenantId, c.Revision });
            e.Property(c => c.Operation).HasMaxLength(10);
            e.Property(c => c.Tuple).HasMaxLength(800);
            e.Property(c => c.ConditionName).HasMaxLength(64).HasDefaultValue(string.Empty);
            e.Property(c => c.ConditionContext).HasColumnType("jsonb");
            e.HasQueryFilter(c => c.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<TenantSchema>(e =>
        {
            e.ToTable("tenant_schemas");
            e.HasIndex(x => new { x.TenantId, x.Version }).IsUnique();
            e.Property(x => x.Format).HasMaxLength(8);
            e.Property(x => x.ModelId).HasMaxLength(64);
            e.Property(x => x.Source).HasMaxLength(1_000_000);
            e.HasQueryFilter(x => x.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<Role>(e =>
        {
            e.ToTable("roles");
            e.HasIndex(r => new { r.TenantId, r.Slug }).IsUnique();
            e.Property(r => r.Slug).HasMaxLength(100);
            e.Property(r => r.Name).HasMaxLength(200);
            e.Property(r => r.Description).HasMaxLength(1000);
            e.HasQueryFilter(r => r.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<Permission>(e =>
        {
            e.ToTable("permissions");
            e.HasIndex(p => new { p.TenantId, p.Slug }).IsUnique();
            e.Property(p => p.Slug).HasMaxLength(100);
            e.Property(p => p.Name).HasMaxLength(200);
            e.Property(p => p.Description).HasMaxLength(1000);
            e.Property(p => p.Category).HasMaxLength(100);
            e.HasQueryFilter(p => p.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<GroupMembershipVersion>(e =>
        {
            e.ToTable("group_membership_versions");
            e.HasKey(v => new { v.TenantId, v.GroupId, v.UserId });
        });
        modelBuilder.Entity<AbacAttribute>(e =>
        {
            e.ToTable("abac_attributes");
            e.HasIndex(a => new { a.TenantId, a.Key }).IsUnique();
            e.Property(a => a.Key).HasMaxLength(100);
            e.Property(a => a.Name).HasMaxLength(200);
            e.Property(a => a.Category).HasMaxLength(20);
            e.Property(a => a.DataType).HasMaxLength(20);
            e.Property(a => a.Description).HasMaxLength(1000);
            e.Property(a => a.AllowedValues).HasColumnType("jsonb");
            e.HasQueryFilter(a => a.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<AbacPolicyRow>(e =>
        {
            e.ToTable("abac_policies");
            e.HasIndex(p => new { p.TenantId, p.IsActive });
            e.Property(p => p.Name).HasMaxLength(200);
            e.Property(p => p.Description).HasMaxLength(1000);
            e.Property(p => p.Effect).HasMaxLength(10);
            e.Property(p => p.Resources).HasColumnType("jsonb");
            e.Property(p => p.Actions).HasColumnType("jsonb");
            e.Property(p => p.Conditions).HasColumnType("jsonb");
            e.HasQueryFilter(p => p.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<AbacSettingsRow>(e =>
        {
            e.ToTable("abac_settings");
            e.HasKey(x => x.TenantId);
            e.Property(x => x.CombiningAlgorithm).HasMaxLength(32);
            e.HasQueryFilter(x => x.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<AbacEntityAttributes>(e =>
        {
            e.ToTable("abac_entity_attributes");
            e.HasKey(a => new { a.TenantId, a.EntityType, a.EntityId });
            e.Property(a => a.EntityType).HasMaxLength(64);
            e.Property(a => a.EntityId).HasMaxLength(256);
            e.Property(a => a.Attributes).HasColumnType("jsonb");
            e.HasQueryFilter(a => a.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<TenantRevision>(e =>
        {
            e.ToTable("tenant_revisions");
            e.HasKey(r => r.TenantId);
        });
    }
}

public sealed class AuthorizationDbContextDesignFactory : Microsoft.EntityFrameworkCore.Design.IDesignTimeDbContextFactory<AuthorizationDbContext>
{
    public AuthorizationDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<AuthorizationDbContext>().UseNpgsql("Host=127.0.0.1;Database=design").Options, new TenantContext());
}
