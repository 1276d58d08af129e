using LumoAuth.Messaging.Data;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Data;

public sealed class AdminDbContext(DbContextOptions<AdminDbContext> options, TenantContext tenant) : DbContext(options)
{
    public DbSet<Tenant> Tenants => Set<Tenant>();

    public DbSet<User> Users => Set<User>();

    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    public DbSet<AuditLogEntry> AuditLogs => Set<AuditLogEntry>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddMessagingTables();

        modelBuilder.Entity<Tenant>(e =>
        {
            e.ToTable("tenants");
            e.HasIndex(t => t.Slug).IsUnique();
            e.Property(t => t.Slug).HasMaxLength(63);
            e.Property(t => t.Name).HasMaxLength(200);
            e.Property(t => t.Status).HasMaxLength(20);
            e.Property(t => t.Region).HasMaxLength(8);
        });

        // Every tenant-owned row is filtered by the request's tenant in the query itself.
        modelBuilder.Entity<User>(e =>
        {
            e.ToTable("users");
            e.HasIndex(u => new { u.TenantId, u.NormalizedEmail }).IsUnique();
            e.Property(u => u.Email).HasMaxLength(320);
            e.Property(u => u.NormalizedEmail).HasMaxLength(320);
            e.Property(u => u.Username).HasMaxLength(100);
            e.Property(u => u.Name).HasMaxLength(200);
            e.Property(u => u.PasswordHash).HasMaxLength(200);
            e.HasQueryFilter(u => u.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<ApiKey>(e =>
        {
            e.ToTable("api_keys");
            e.HasIndex(k => k.KeyHash).IsUnique();
            e.HasIndex(k => k.TenantId);
            e.Property(k => k.Name).HasMaxLength(200);
            e.Property(k => k.Prefix).HasMaxLength(20);
            e.HasQueryFilter(k => k.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<AuditLogEntry>(e =>
        {
            e.ToTable("audit_logs");
            e.HasIndex(a => a.EventId).IsUnique();
            e.HasIndex(a => new { a.TenantId, a.Timestamp });
            e.Property(a => a.Action).HasMaxLength(100);
            e.Property(a => a.Category).HasMaxLength(50);
            e.Property(a => a.ActorType).HasMaxLength(20);
            e.Property(a => a.ActorId).HasMaxLength(200);
            e.Property(a => a.ActorEmail).HasMaxLength(320);
            e.Property(a => a.TargetType).HasMaxLength(50);
            e.Property(a => a.TargetId).HasMaxLength(200);
            e.Property(a => a.Outcome).HasMaxLength(20);
            e.Property(a => a.IpAddress).HasMaxLength(64);
            e.Property(a => a.UserAgent).HasMaxLength(512);
            e.Property(a => a.CorrelationId).HasMaxLength(128);
            e.Property(a => a.Metadata).HasColumnType("jsonb");
            e.HasQueryFilter(a => a.TenantId == tenant.CurrentTenantId);
        });
    }
}

/// <summary>Lets <c>dotnet ef migrations add</c> build the model without a running host.</summary>
public sealed class AdminDbContextDesignFactory : Microsoft.EntityFrameworkCore.Design.IDesignTimeDbContextFactory<AdminDbContext>
{
    public AdminDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<AdminDbContext>().UseNpgsql("Host=127.0.0.1;Database=design").Options, new TenantContext());
}
