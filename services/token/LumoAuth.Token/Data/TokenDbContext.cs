using LumoAuth.Messaging.Data;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace LumoAuth.Token.Data;

public sealed class TokenDbContext(DbContextOptions<TokenDbContext> options, TenantContext tenantContext) : DbContext(options)
{
    public DbSet<TokenApplication> Applications => Set<TokenApplication>();

    public DbSet<TenantKey> TenantKeys => Set<TenantKey>();

    public DbSet<ScopeDefinition> Scopes => Set<ScopeDefinition>();

    public DbSet<BrowserSession> Sessions => Set<BrowserSession>();

    public DbSet<BackchannelAuthentication> BackchannelAuthentications => Set<BackchannelAuthentication>();

    public DbSet<TrustedDevice> TrustedDevices => Set<TrustedDevice>();

    public DbSet<DataProtectionKeyRow> DataProtectionKeys => Set<DataProtectionKeyRow>();

    /// <summary>The tenant of the current request; <see cref="Guid.Empty"/> (matches nothing) outside one.</summary>
    private Guid CurrentTenantId => tenantContext.Tenant?.Id ?? Guid.Empty;

    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        StampTenant();
        return base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        StampTenant();
        return base.SaveChanges(acceptAllChangesOnSuccess);
    }

    // OpenIddict creates tokens and authorizations itself: they belong to the tenant of the request.
    private void StampTenant()
    {
        foreach (var entry in ChangeTracker.Entries())
        {
            if (entry.State != EntityState.Added)
            {
                continue;
            }

            switch (entry.Entity)
            {
                case TokenApplication { TenantId: var id } a when id == Guid.Empty: a.TenantId = tenantContext.TenantId; break;
                case TokenAuthorization { TenantId: var id } a when id == Guid.Empty: a.TenantId = tenantContext.TenantId; break;
                case TokenToken { TenantId: var id } t when id == Guid.Empty: t.TenantId = tenantContext.TenantId; break;
                case TokenScope { TenantId: var id } s when id == Guid.Empty: s.TenantId = tenantContext.TenantId; break;
                case TrustedDevice { TenantId: var id } d when id == Guid.Empty: d.TenantId = tenantContext.TenantId; break;
            }
        }
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder) =>
        configurationBuilder.StoreTimestampsAsUtc();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.UseOpenIddict<TokenApplication, TokenAuthorization, TokenScope, TokenToken, Guid>();

        modelBuilder.Entity<TokenApplication>(e =>
        {
            e.ToTable("oidc_applications");
            e.Property(a => a.Description).HasMaxLength(1000);
            e.Property(a => a.Kind).HasMaxLength(10).HasDefaultValue("web");
            e.Property(a => a.IsActive).HasDefaultValue(true);
            // Room for a Client ID Metadata Document's URL (OpenIddict's default is 100 characters).
            e.Property(a => a.ClientId).HasMaxLength(ClientMetadataDocuments.MaxClientIdLength);
            // OpenIddict makes client_id unique on its own; ours is unique per tenant.
            var clientIdIndex = e.Metadata.GetIndexes().Single(i => i.Properties is [{ Name: nameof(TokenApplication.ClientId) }]);
            e.Metadata.RemoveIndex(clientIdIndex);
            e.HasIndex(a => new { a.TenantId, a.ClientId }).IsUnique();
            e.HasIndex(a => new { a.TenantId, a.CreatedAt });
            // Every query of clients sees only the current tenant's, including OpenIddict's own lookups.
            e.HasQueryFilter(a => a.TenantId == CurrentTenantId);
        });
        modelBuilder.Entity<TokenAuthorization>(e =>
        {
            e.ToTable("oidc_authorizations");

            // A user's grants are found and revoked by subject (blocked, deleted, signed out everywhere); OpenIddict's own
            // index has the subject behind the application and status. Also serves the tenant's own queries.
            e.HasIndex(a => new { a.TenantId, a.Subject });
            e.HasIndex(a => a.CreationDate);
            e.HasQueryFilter(a => a.TenantId == CurrentTenantId);
        });
        modelBuilder.Entity<TokenScope>(e =>
        {
            e.ToTable("oidc_scopes");
            var nameIndex = e.Metadata.GetIndexes().Single(i => i.Properties is [{ Name: nameof(TokenScope.Name) }]);
            e.Metadata.RemoveIndex(nameIndex);
            e.HasIndex(s => new { s.TenantId, s.Name }).IsUnique();
            e.HasQueryFilter(s => s.TenantId == CurrentTenantId);
        });
        modelBuilder.Entity<TokenToken>(e =>
        {
            e.ToTable("oidc_tokens");
            e.HasIndex(t => new { t.TenantId, t.Subject });
            // Housekeeping deletes along it (TokenStoreHousekeeping).
            e.HasIndex(t => t.ExpirationDate);
            e.HasQueryFilter(t => t.TenantId == CurrentTenantId);
        });

        modelBuilder.Entity<TenantKey>(e =>
        {
            e.ToTable("tenant_keys");
            e.HasKey(k => k.Id);
            e.Property(k => k.Id).HasColumnName("id");
            e.Property(k => k.TenantId).HasColumnName("tenant_id");
            e.Property(k => k.KeyId).HasColumnName("kid").HasMaxLength(100);
            e.Property(k => k.Algorithm).HasColumnName("alg").HasMaxLength(20);
            e.Property(k => k.Use).HasColumnName("use").HasMaxLength(10);
            e.Property(k => k.ProtectedMaterial).HasColumnName("protected_material");
            e.Property(k => k.CreatedAt).HasColumnName("created_at");
            e.Property(k => k.RetiredAt).HasColumnName("retired_at");
            e.Property(k => k.PublishedUntil).HasColumnName("published_until");
            // One active key per use and tenant: two replicas creating the first key at once cannot both win.
            e.HasIndex(k => new { k.TenantId, k.Use }).IsUnique().HasFilter("retired_at IS NULL").HasDatabaseName("ux_tenant_keys_active");
            e.HasIndex(k => new { k.TenantId, k.KeyId }).IsUnique();
        });

        modelBuilder.Entity<ScopeDefinition>(e =>
        {
            e.ToTable("scopes");
            e.HasKey(s => s.Id);
            e.Property(s => s.Id).HasColumnName("id").UseIdentityByDefaultColumn().HasIdentityOptions(startValue: ScopeDefinition.FirstCustomId);
            e.Property(s => s.TenantId).HasColumnName("tenant_id");
            e.Property(s => s.Name).HasColumnName("name").HasMaxLength(200);
            e.Property(s => s.Description).HasColumnName("description").HasMaxLength(1000);
            e.Property(s => s.IsDefault).HasColumnName("is_default");
            e.Property(s => s.Claims).HasColumnName("claims").HasColumnType("jsonb");
            e.Property(s => s.CreatedAt).HasColumnName("created_at");
            e.Property(s => s.UpdatedAt).HasColumnName("updated_at");
            e.HasIndex(s => new { s.TenantId, s.Name }).IsUnique();
            e.HasQueryFilter(s => s.TenantId == CurrentTenantId);
        });

        modelBuilder.Entity<BrowserSession>(e =>
        {
            e.ToTable("sessions");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id").HasMaxLength(64);
            e.Property(x => x.TenantId).HasColumnName("tenant_id");
            e.Property(x => x.TenantSlug).HasColumnName("tenant_slug").HasMaxLength(100);
            e.Property(x => x.Issuer).HasColumnName("issuer").HasMaxLength(400);
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.IpAddress).HasColumnName("ip_address").HasMaxLength(64);
            e.Property(x => x.UserAgent).HasColumnName("user_agent").HasMaxLength(512);
            e.Property(x => x.AuthMethod).HasColumnName("auth_method").HasMaxLength(20);
            e.Property(x => x.MfaVerified).HasColumnName("mfa_verified");
            e.Property(x => x.CreatedAt).HasColumnName("created_at");
            e.Property(x => x.LastActiveAt).HasColumnName("last_active_at");
            e.Property(x => x.ExpiresAt).HasColumnName("expires_at");
            e.Property(x => x.RevokedAt).HasColumnName("revoked_at");
            e.Property(x => x.ClientIds).HasColumnName("client_ids");
            e.HasIndex(x => new { x.TenantId, x.UserId });
            e.HasIndex(x => x.ExpiresAt);
            e.HasQueryFilter(x => x.TenantId == CurrentTenantId);
        });

        modelBuilder.Entity<TrustedDevice>(e =>
        {
            e.ToTable("trusted_devices");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id");
            e.Property(x => x.TenantId).HasColumnName("tenant_id");
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.TokenHash).HasColumnName("token_hash").HasMaxLength(64);
            e.Property(x => x.UserAgent).HasColumnName("user_agent").HasMaxLength(512);
            e.Property(x => x.CreatedAt).HasColumnName("created_at");
            e.Property(x => x.ExpiresAt).HasColumnName("expires_at");
            e.Property(x => x.LastUsedAt).HasColumnName("last_used_at");
            e.HasIndex(x => x.TokenHash).IsUnique();
            e.HasIndex(x => new { x.TenantId, x.UserId });
            e.HasIndex(x => x.ExpiresAt);
            e.HasQueryFilter(x => x.TenantId == CurrentTenantId);
        });

        modelBuilder.Entity<BackchannelAuthentication>(e =>
        {
            e.ToTable("backchannel_authentications");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).HasColumnName("id");
            e.Property(x => x.TenantId).HasColumnName("tenant_id");
            e.Property(x => x.AuthReqIdHash).HasColumnName("auth_req_id_hash").HasMaxLength(64);
            e.Property(x => x.ClientId).HasColumnName("client_id").HasMaxLength(200);
            e.Property(x => x.UserId).HasColumnName("user_id");
            e.Property(x => x.Scopes).HasColumnName("scopes").HasMaxLength(4000);
            e.Property(x => x.BindingMessage).HasColumnName("binding_message").HasMaxLength(200);
            e.Property(x => x.UserCodeHash).HasColumnName("user_code_hash").HasMaxLength(64);
            e.Property(x => x.FailedUserCodeAttempts).HasColumnName("failed_user_code_attempts");
            e.Property(x => x.DeliveryMode).HasColumnName("delivery_mode").HasMaxLength(10);
            e.Property(x => x.ProtectedPing).HasColumnName("protected_ping");
            e.Property(x => x.Status).HasColumnName("status").HasMaxLength(10).IsConcurrencyToken();
            e.Property(x => x.AuthorizationId).HasColumnName("authorization_id").HasMaxLength(64);
            e.Property(x => x.SessionId).HasColumnName("session_id").HasMaxLength(64);
            e.Property(x => x.AuthTime).HasColumnName("auth_time").HasMaxLength(20);
            e.Property(x => x.Methods).HasColumnName("methods").HasMaxLength(200);
            e.Property(x => x.PreferredAcr).HasColumnName("preferred_acr").HasMaxLength(8);
            e.Property(x => x.AuthorizationDetails).HasColumnName("authorization_details");
            e.Property(x => x.IntervalSeconds).HasColumnName("interval_seconds");
            e.Property(x => x.CreatedAt).HasColumnName("created_at");
            e.Property(x => x.ExpiresAt).HasColumnName("expires_at");
            e.Property(x => x.DecidedAt).HasColumnName("decided_at");
            e.Property(x => x.LastPolledAt).HasColumnName("last_polled_at");
            e.HasIndex(x => new { x.TenantId, x.AuthReqIdHash }).IsUnique();
            e.HasIndex(x => new { x.TenantId, x.UserId, x.Status });
            // Housekeeping deletes expired requests of every tenant at once: the index leads with the expiry, not the tenant.
            e.HasIndex(x => x.ExpiresAt);
            e.HasQueryFilter(x => x.TenantId == CurrentTenantId);
        });

        modelBuilder.AddDataProtectionKeys();

        modelBuilder.AddMessagingTables();
    }
}

/// <summary>For <c>dotnet ef</c>: the model without the running service's configuration.</summary>
public sealed class TokenDbContextDesignTimeFactory : IDesignTimeDbContextFactory<TokenDbContext>
{
    public TokenDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<TokenDbContext>().UseNpgsql("Host=localhost;Database=tokendb_design").Options, new TenantContext());
}
