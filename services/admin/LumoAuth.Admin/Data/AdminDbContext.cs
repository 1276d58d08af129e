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

    public DbSet<ErasedSubject> ErasedSubjects => Set<ErasedSubject>();

    public DbSet<SignInTrait> SignInTraits => Set<SignInTrait>();

    public DbSet<SignInPlace> SignInPlaces => Set<SignInPlace>();

    public DbSet<PasswordHistoryEntry> PasswordHistory => Set<PasswordHistoryEntry>();

    public DbSet<PasswordResetToken> PasswordResetTokens => Set<PasswordResetToken>();

    public DbSet<MagicLinkToken> MagicLinkTokens => Set<MagicLinkToken>();

    public DbSet<MfaFactor> MfaFactors => Set<MfaFactor>();

    public DbSet<SignInCode> SignInCodes => Set<SignInCode>();

    public DbSet<BackupCode> BackupCodes => Set<BackupCode>();

    public DbSet<PasskeyCredential> Passkeys => Set<PasskeyCredential>();

    public DbSet<Group> Groups => Set<Group>();

    public DbSet<GroupMember> GroupMembers => Set<GroupMember>();

    public DbSet<Webhook> Webhooks => Set<Webhook>();

    public DbSet<Invitation> Invitations => Set<Invitation>();

    public DbSet<WebhookDelivery> WebhookDeliveries => Set<WebhookDelivery>();

    public DbSet<WebhookDeliveryAttempt> WebhookDeliveryAttempts => Set<WebhookDeliveryAttempt>();

    public DbSet<CustomDomain> CustomDomains => Set<CustomDomain>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder) =>
        configurationBuilder.StoreTimestampsAsUtc();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        // Trigram indexes for substring search (a trusted extension: the database's owner may create it).
        modelBuilder.HasPostgresExtension("pg_trgm");
        modelBuilder.AddMessagingTables();

        modelBuilder.Entity<Tenant>(e =>
        {
            e.ToTable("tenants");
            e.HasIndex(t => t.Slug).IsUnique();
            e.Property(t => t.Slug).HasMaxLength(63);
            e.Property(t => t.Name).HasMaxLength(200);
            e.Property(t => t.Status).HasMaxLength(20);
            e.Property(t => t.Region).HasMaxLength(8);
            e.Property(t => t.Settings).HasColumnType("jsonb");
            e.Property(t => t.Version).IsRowVersion();
        });

        modelBuilder.Entity<CustomDomain>(e =>
        {
            e.ToTable("custom_domains");
            e.Property(d => d.Domain).HasMaxLength(253);
            e.Property(d => d.VerificationToken).HasMaxLength(64);
            e.Property(d => d.LastCheckError).HasMaxLength(500);
            e.HasIndex(d => new { d.TenantId, d.Domain }).IsUnique();
            // Several tenants may claim a name, but only one can prove it: a verified domain belongs to one tenant.
            e.HasIndex(d => d.Domain, "ix_custom_domains_verified").IsUnique().HasFilter("\"VerifiedAt\" IS NOT NULL");
            e.HasIndex(d => d.TenantId, "ix_custom_domains_primary").IsUnique().HasFilter("\"IsPrimary\"");
            e.HasOne<Tenant>().WithMany().HasForeignKey(d => d.TenantId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(d => d.TenantId == tenant.CurrentTenantId);
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
            e.Property(u => u.PasswordHash).HasMaxLength(1000);
            e.Property(u => u.TermsAcceptedVersion).HasMaxLength(50);
            e.Property(u => u.GivenName).HasMaxLength(100);
            e.Property(u => u.FamilyName).HasMaxLength(100);
            e.Property(u => u.PhoneNumber).HasMaxLength(32);
            e.Property(u => u.Picture).HasMaxLength(2048);
            e.Property(u => u.Locale).HasMaxLength(LumoAuth.ServiceDefaults.Localization.LanguageTags.MaxLength);
            e.Property(u => u.ExternalId).HasMaxLength(200);
            e.Property(u => u.Title).HasMaxLength(200);
            e.Property(u => u.EnterpriseData).HasColumnType("jsonb");
            e.Property(u => u.Attributes).HasColumnType("jsonb");
            e.Property(u => u.Version).IsRowVersion();
            e.HasIndex(u => new { u.TenantId, u.CreatedAt });

            // Identity providers look a user up by externalId before each change (SCIM filter externalId eq …).
            e.HasIndex(u => new { u.TenantId, u.ExternalId }).HasFilter("\"ExternalId\" IS NOT NULL");

            // The users list's search, a substring of any of these in any case (ILIKE '%q%'): trigrams serve it, where a
            // btree cannot, so a search of a large tenant does not read every user (patterns under 3 characters still do).
            e.HasIndex(u => new { u.Email, u.Name, u.Username, u.GivenName, u.FamilyName }, "ix_users_search")
                .HasMethod("gin").HasOperators("gin_trgm_ops", "gin_trgm_ops", "gin_trgm_ops", "gin_trgm_ops", "gin_trgm_ops");

            // The tenant's administrators, told of high-risk sign-ins and disabled webhooks (a handful among many users).
            e.HasIndex(u => u.TenantId, "ix_users_admins").HasFilter("\"IsAdmin\" AND \"IsActive\" AND NOT \"Blocked\" AND \"SoftDeletedAt\" IS NULL");
            e.HasQueryFilter(u => u.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<PasswordHistoryEntry>(e =>
        {
            e.ToTable("password_history");
            e.HasIndex(h => new { h.UserId, h.CreatedAt });
            e.Property(h => h.PasswordHash).HasMaxLength(1000);
            e.HasOne<User>().WithMany().HasForeignKey(h => h.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(h => h.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<PasswordResetToken>(e =>
        {
            e.ToTable("password_reset_tokens");
            e.HasIndex(t => t.TokenHash).IsUnique();
            e.HasIndex(t => t.UserId);
            e.HasOne<User>().WithMany().HasForeignKey(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(t => t.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<MagicLinkToken>(e =>
        {
            e.ToTable("magic_link_tokens");
            e.Property(t => t.ReturnUrl).HasMaxLength(8192);
            e.Property(t => t.Domain).HasMaxLength(253);
            e.HasIndex(t => t.TokenHash).IsUnique();
            e.HasIndex(t => t.UserId);
            e.HasOne<User>().WithMany().HasForeignKey(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(t => t.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<SignInCode>(e =>
        {
            e.ToTable("sign_in_codes");
            e.HasIndex(c => new { c.UserId, c.CreatedAt });
            e.HasOne<User>().WithMany().HasForeignKey(c => c.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(c => c.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<PasskeyCredential>(e =>
        {
            e.ToTable("passkeys");
            e.Property(p => p.CredentialId).HasMaxLength(1023);
            e.Property(p => p.Name).HasMaxLength(100);
            e.Property(p => p.AttestationFormat).HasMaxLength(32);
            e.Property(p => p.AuthenticatorAttachment).HasMaxLength(32);
            e.HasIndex(p => new { p.TenantId, p.CredentialId }).IsUnique();
            e.HasIndex(p => p.UserId);
            e.HasOne<User>().WithMany().HasForeignKey(p => p.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(p => p.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<BackupCode>(e =>
        {
            e.ToTable("backup_codes");
            e.HasIndex(c => new { c.UserId, c.CodeHash }).IsUnique();
            e.HasOne<User>().WithMany().HasForeignKey(c => c.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(c => c.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<MfaFactor>(e =>
        {
            e.ToTable("mfa_factors");
            e.HasIndex(f => f.UserId);
            e.Property(f => f.Type).HasMaxLength(20);
            e.Property(f => f.ProtectedSecret).HasMaxLength(1000);
            e.HasOne<User>().WithMany().HasForeignKey(f => f.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(f => f.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<Group>(e =>
        {
            e.ToTable("groups");
            e.HasIndex(g => new { g.TenantId, g.Slug }).IsUnique();

            // SCIM pages through a tenant's groups in creation order, as it does users.
            e.HasIndex(g => new { g.TenantId, g.CreatedAt });
            e.Property(g => g.Slug).HasMaxLength(100);
            e.Property(g => g.Name).HasMaxLength(200);
            e.Property(g => g.Description).HasMaxLength(1000);
            e.Property(g => g.ExternalId).HasMaxLength(200);
            e.HasIndex(g => new { g.TenantId, g.ExternalId }).HasFilter("\"ExternalId\" IS NOT NULL");
            e.Property(g => g.Version).IsRowVersion();
            e.HasQueryFilter(g => g.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<GroupMember>(e =>
        {
            e.ToTable("group_members");
            e.HasKey(m => new { m.GroupId, m.UserId });
            e.HasIndex(m => m.UserId);
            e.HasOne<Group>().WithMany().HasForeignKey(m => m.GroupId).OnDelete(DeleteBehavior.Cascade);
            e.HasOne<User>().WithMany().HasForeignKey(m => m.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(m => m.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<Webhook>(e =>
        {
            e.ToTable("webhooks");
            e.HasIndex(w => w.TenantId);
            e.Property(w => w.Url).HasMaxLength(2048);
            e.Property(w => w.Description).HasMaxLength(500);
            e.Property(w => w.ProtectedSecret).HasMaxLength(1000);
            e.Property(w => w.PreviousProtectedSecret).HasMaxLength(1000);
            e.HasQueryFilter(w => w.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<WebhookDelivery>(e =>
        {
            e.ToTable("webhook_deliveries");
            e.HasIndex(d => new { d.WebhookId, d.MessageId }).IsUnique();
            e.HasIndex(d => new { d.WebhookId, d.CreatedAt });
            // The dispatcher's claim: each webhook's pending rows by due time, and the few rows in flight (leased).
            e.HasIndex(d => new { d.WebhookId, d.NextAttemptAt }).HasFilter("\"Status\" = 'pending'");
            e.HasIndex(d => d.LockedUntil).HasFilter("\"Status\" = 'pending' AND \"LockedUntil\" IS NOT NULL");
            e.Property(d => d.EventId).HasMaxLength(64);
            e.Property(d => d.EventType).HasMaxLength(100);
            e.Property(d => d.Status).HasMaxLength(20);
            e.Property(d => d.LastError).HasMaxLength(1000);
            e.HasOne<Webhook>().WithMany().HasForeignKey(d => d.WebhookId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(d => d.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<WebhookDeliveryAttempt>(e =>
        {
            e.ToTable("webhook_delivery_attempts");
            e.HasIndex(a => a.DeliveryId);
            e.Property(a => a.Error).HasMaxLength(1000);
            e.HasOne<WebhookDelivery>().WithMany().HasForeignKey(a => a.DeliveryId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(a => a.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<Invitation>(e =>
        {
            e.ToTable("invitations");
            e.HasIndex(i => new { i.TenantId, i.NormalizedEmail });
            e.Property(i => i.Locale).HasMaxLength(LumoAuth.ServiceDefaults.Localization.LanguageTags.MaxLength);
            e.HasIndex(i => i.TokenHash).IsUnique();
            e.Property(i => i.Email).HasMaxLength(320);
            e.Property(i => i.NormalizedEmail).HasMaxLength(320);
            e.Property(i => i.Status).HasMaxLength(20);
            e.HasQueryFilter(i => i.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.AddDataProtectionKeys();

        modelBuilder.Entity<ApiKey>(e =>
        {
            e.ToTable("api_keys");
            e.HasIndex(k => k.KeyHash).IsUnique();
            e.HasIndex(k => k.TenantId);
            e.Property(k => k.Name).HasMaxLength(200);
            e.Property(k => k.Prefix).HasMaxLength(20);
            e.HasQueryFilter(k => k.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<SignInTrait>(e =>
        {
            e.ToTable("sign_in_traits");
            e.HasIndex(t => new { t.UserId, t.Kind, t.ValueHash }).IsUnique();
            e.Property(t => t.Kind).HasMaxLength(20);
            e.HasOne<User>().WithMany().HasForeignKey(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(t => t.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<SignInPlace>(e =>
        {
            e.ToTable("sign_in_places");
            e.HasKey(p => p.UserId);
            e.HasOne<User>().WithMany().HasForeignKey(p => p.UserId).OnDelete(DeleteBehavior.Cascade);
            e.HasQueryFilter(p => p.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<ErasedSubject>(e =>
        {
            e.ToTable("erased_subjects");
            e.HasIndex(x => new { x.TenantId, x.ErasedAt });

            // The erasures of the last day (their id and address still kept), read for every webhook message of the tenant.
            e.HasIndex(x => x.TenantId, "ix_erased_subjects_pending").HasFilter("\"UserId\" IS NOT NULL");
            e.Property(x => x.ErasedAs).HasMaxLength(64);
            e.Property(x => x.Email).HasMaxLength(AuditLogEntry.EmailLength);
            e.HasQueryFilter(x => x.TenantId == tenant.CurrentTenantId);
        });

        modelBuilder.Entity<AuditLogEntry>(e =>
        {
            e.ToTable("audit_logs");
            // The key is the event's id, never generated here: a redelivery is a conflict, not a second entry.
            e.Property(a => a.Id).ValueGeneratedNever();
            e.HasIndex(a => new { a.TenantId, a.Timestamp });
            e.Property(a => a.Action).HasMaxLength(100);
            e.Property(a => a.Category).HasMaxLength(50);
            e.Property(a => a.ActorType).HasMaxLength(AuditLogEntry.ActorTypeLength);
            e.Property(a => a.ActorId).HasMaxLength(AuditLogEntry.IdLength);
            e.Property(a => a.ActorEmail).HasMaxLength(AuditLogEntry.EmailLength);
            e.Property(a => a.ActorChain).HasColumnType("jsonb");
            e.Property(a => a.TargetType).HasMaxLength(50);
            e.Property(a => a.TargetId).HasMaxLength(AuditLogEntry.IdLength);
            e.Property(a => a.Outcome).HasMaxLength(20);
            e.Property(a => a.IpAddress).HasMaxLength(AuditLogEntry.IpAddressLength);
            e.Property(a => a.UserAgent).HasMaxLength(AuditLogEntry.UserAgentLength);
            e.Property(a => a.CorrelationId).HasMaxLength(AuditLogEntry.CorrelationIdLength);
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
