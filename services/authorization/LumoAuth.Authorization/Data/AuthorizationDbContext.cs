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

    public DateTimeOffset Timestamp { get; set; }
}

/// <summary>The tenant's current revision, bumped once per write transaction.</summary>
public sealed class TenantRevision
{
    public Guid TenantId { get; set; }

    public long Revision { get; set; }
}

public sealed class AuthorizationDbContext(DbContextOptions<AuthorizationDbContext> options, TenantContext tenant) : DbContext(options)
{
    public DbSet<StoredTuple> Tuples => Set<StoredTuple>();

    public DbSet<TupleChange> Changes => Set<TupleChange>();

    public DbSet<TenantRevision> Revisions => Set<TenantRevision>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddMessagingTables();
        modelBuilder.Entity<StoredTuple>(e =>
        {
            e.ToTable("tuples");
            e.HasKey(t => new { t.TenantId, t.ObjectType, t.ObjectId, t.Relation, t.SubjectType, t.SubjectId, t.SubjectRelation });
            // Reverse lookups (list-objects, "what can this subject reach").
            e.HasIndex(t => new { t.TenantId, t.SubjectType, t.SubjectId, t.SubjectRelation, t.Relation });
            foreach (var p in new[] { nameof(StoredTuple.ObjectType), nameof(StoredTuple.Relation), nameof(StoredTuple.SubjectType), nameof(StoredTuple.SubjectRelation) })
            {
                e.Property(p).HasMaxLength(64);
            }

            e.Property(t => t.ObjectId).HasMaxLength(256);
            e.Property(t => t.SubjectId).HasMaxLength(256);
            e.HasQueryFilter(t => t.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<TupleChange>(e =>
        {
            e.ToTable("tuple_changes");
            e.HasIndex(c => new { c.TenantId, c.Revision });
            e.Property(c => c.Operation).HasMaxLength(10);
            e.Property(c => c.Tuple).HasMaxLength(800);
            e.HasQueryFilter(c => c.TenantId == tenant.CurrentTenantId);
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
