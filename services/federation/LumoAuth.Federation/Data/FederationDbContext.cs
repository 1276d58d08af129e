using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Federation.Data;

/// <summary>
/// A tenant's upstream identity provider for social and external OpenID Connect sign-in (FED-14…17): a preset (Google,
/// Microsoft, LinkedIn, GitHub) or any OpenID Connect issuer. The client secret is kept encrypted (Data Protection, key
/// ring in this database sealed by the deployment's key-encryption key): the service must send it back to the provider.
/// </summary>
public sealed class IdentityProvider
{
    public const int NameLength = 100;
    public const int MaxScopes = 20;

    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    /// <summary>
    /// PostgreSQL's <c>xmin</c>: a write of a row changed since it was read fails (an administrator's edit and a job's
    /// refresh of the same provider never overwrite each other unseen).
    /// </summary>
    public uint Version { get; set; }

    /// <summary>One of <c>ProviderTypes.All</c>.</summary>
    public string Type { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public string ClientId { get; set; } = string.Empty;

    public string ProtectedClientSecret { get; set; } = string.Empty;

    /// <summary>The OpenID Connect issuer (<c>oidc</c>, and presets whose issuer a tenant may pin, such as a Microsoft directory).</summary>
    public string? IssuerUrl { get; set; }

    public List<string> Scopes { get; set; } = [];

    public bool IsEnabled { get; set; } = true;

    /// <summary>Whether a first sign-in by someone without an account creates one.</summary>
    public bool AllowSignup { get; set; } = true;

    /// <summary>
    /// Whether a first sign-in whose verified address belongs to an account links to it (else it is refused). Off unless
    /// the tenant turns it on: it trusts the provider's word that the address was verified with the account itself.
    /// </summary>
    public bool AutoLinkUsers { get; set; }

    /// <summary>
    /// Whether clients enabled for token exchange may present this provider's tokens (an ID token, a SAML assertion) at the
    /// token endpoint for its users' access tokens. Off unless the tenant turns it on: the person then never comes to the
    /// tenant's sign-in (no second step of ours), so the tenant trusts the provider's own sign-in outright.
    /// </summary>
    public bool AllowTokenExchange { get; set; }

    /// <summary>A SAML identity provider's settings (type <c>saml</c>); null for the OAuth and OpenID Connect types.</summary>
    public SamlIdpSettings? Saml { get; set; }

    /// <summary>An LDAP directory's settings (type <c>ldap</c>); null for the other types.</summary>
    public LdapSettings? Ldap { get; set; }

    /// <summary>Sign in with Apple's ids (type <c>apple</c>), which with the private key (kept as the client secret) sign each client secret.</summary>
    public AppleSettings? Apple { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>What names the tenant's key at Apple: the client secret Apple asks for is a JWT signed with it.</summary>
public sealed class AppleSettings
{
    /// <summary>The Apple developer team: the secret's issuer.</summary>
    public string TeamId { get; set; } = string.Empty;

    /// <summary>The Sign in with Apple key's id: the secret's <c>kid</c>.</summary>
    public string KeyId { get; set; } = string.Empty;
}

/// <summary>
/// An outside SAML identity provider the tenant's users sign in with (the tenant as SAML SP): where its sign-in is, what
/// its signatures are checked with, and how much of its word is taken.
/// </summary>
public sealed class SamlIdpSettings
{
    /// <summary>The IdP's entity ID: the Issuer its responses and assertions must name.</summary>
    public string EntityId { get; set; } = string.Empty;

    public string SsoUrl { get; set; } = string.Empty;

    public string? SloUrl { get; set; }

    /// <summary>The IdP's signing certificate, base64 DER.</summary>
    public string Certificate { get; set; } = string.Empty;

    /// <summary>
    /// A second signing certificate the IdP's metadata lists beside the first (its next key, published ahead of a
    /// rollover): signatures by either are taken. Base64 DER; null when the metadata lists one.
    /// </summary>
    public string? NextCertificate { get; set; }

    /// <summary>The IdP's metadata URL, when the provider follows it: read again on a schedule for new keys and moved endpoints.</summary>
    public string? MetadataUrl { get; set; }

    /// <summary>When the metadata at <see cref="MetadataUrl"/> was last read and applied.</summary>
    public DateTimeOffset? MetadataRefreshedAt { get; set; }

    /// <summary>The certificates a signature of the IdP may be checked with (DER): the current one, then the next.</summary>
    public IReadOnlyList<byte[]> SigningCertificates() =>
        NextCertificate is null ? [Convert.FromBase64String(Certificate)] : [Convert.FromBase64String(Certificate), Convert.FromBase64String(NextCertificate)];

    /// <summary>The NameID format asked for (short name, <c>SamlNames.NameIdFormats</c>).</summary>
    public string NameIdFormat { get; set; } = "emailAddress";

    /// <summary>Whether the IdP's e-mail addresses count as verified (it is the tenant's directory), so accounts may be made and linked with them.</summary>
    public bool TrustEmail { get; set; } = true;

    public bool WantResponsesSigned { get; set; } = true;

    public bool WantAssertionsSigned { get; set; } = true;

    /// <summary>Whether only encrypted assertions are taken (the IdP encrypts for the SP metadata's key); encrypted ones are taken either way.</summary>
    public bool WantAssertionsEncrypted { get; set; }

    public bool SignAuthnRequests { get; set; }

    /// <summary>Whether each sign-in brings a linked user's names up to date with the assertion's (the docs' "Update User on Login").</summary>
    public bool UpdateUserOnLogin { get; set; }

    /// <summary>Roles (slugs) a user made at their first sign-in through this IdP gets (the docs' JIT "Default Roles").</summary>
    public List<string> DefaultRoles { get; set; } = [];
}

/// <summary>
/// An LDAP directory (OpenLDAP, Active Directory…) the tenant's users sign in with: where it is, the service account that
/// looks people up, how a person is found and what of their entry becomes their profile and roles.
/// </summary>
public sealed class LdapSettings
{
    public string Host { get; set; } = string.Empty;

    public int Port { get; set; } = 636;

    /// <summary>LDAP over TLS (LDAPS) from the first byte; with it off, <see cref="StartTls"/> may still upgrade the connection.</summary>
    public bool UseTls { get; set; } = true;

    public bool StartTls { get; set; }

    /// <summary>
    /// The certificates (PEM) the directory's TLS certificate must chain to, for a directory whose CA is the tenant's own
    /// (an Active Directory's enterprise CA); null: the deployment's trusted folder and the system's CAs.
    /// </summary>
    public string? CaCertificate { get; set; }

    /// <summary>
    /// Whether a new password for a person the directory made is written to the directory (Keycloak's "writable" edit
    /// mode; RFC 3062's password modify operation): their own change as themselves, an administrator's reset as the
    /// service account. Off: such passwords are changed at the directory only.
    /// </summary>
    public bool PasswordWriteBack { get; set; }

    /// <summary>Where people are searched for (the whole subtree).</summary>
    public string BaseDn { get; set; } = string.Empty;

    /// <summary>The service account that searches; none: anonymous search.</summary>
    public string? BindDn { get; set; }

    /// <summary>The service account's password, encrypted like the providers' client secrets.</summary>
    public string? ProtectedBindPassword { get; set; }

    /// <summary>The search filter, with <c>{username}</c> where the escaped name goes.</summary>
    public string UserFilter { get; set; } = "(uid={username})";

    /// <summary>The attribute whose value names the entry for good (<c>entryUUID</c>, AD's <c>objectGUID</c>): the link's subject.</summary>
    public string IdAttribute { get; set; } = "entryUUID";

    public string UsernameAttribute { get; set; } = "uid";

    public string EmailAttribute { get; set; } = "mail";

    public string NameAttribute { get; set; } = "displayName";

    public string GivenNameAttribute { get; set; } = "givenName";

    public string FamilyNameAttribute { get; set; } = "sn";

    public string PhoneAttribute { get; set; } = "telephoneNumber";

    /// <summary>The attribute listing the groups (DNs) a person is in.</summary>
    public string GroupsAttribute { get; set; } = "memberOf";

    /// <summary>
    /// Whether the groups of a person's groups count too (a group in a group), read from each group's own groups
    /// attribute (AD's and OpenLDAP's <c>memberOf</c> on group entries).
    /// </summary>
    public bool NestedGroups { get; set; }

    /// <summary>Whether the directory's addresses count as verified (it is the tenant's own directory).</summary>
    public bool TrustEmail { get; set; } = true;

    /// <summary>Whether each sign-in brings a linked user's names up to date with the directory's.</summary>
    public bool UpdateUserOnLogin { get; set; }

    /// <summary>Roles (slugs) a user made at their first sign-in gets.</summary>
    public List<string> DefaultRoles { get; set; } = [];

    /// <summary>Roles that follow group membership: given at each sign-in to members of the group, taken from the others.</summary>
    public List<LdapGroupRoles> GroupRoles { get; set; } = [];

    /// <summary>How often the directory's people are imported (users made and linked before they first sign in); null: only when asked.</summary>
    public int? SyncIntervalMinutes { get; set; }

    /// <summary>
    /// How often only the entries changed since the last import are read (Keycloak's "changed users sync"); null: never.
    /// Between complete imports: only a complete one finds who left.
    /// </summary>
    public int? ChangedSyncIntervalMinutes { get; set; }

    /// <summary>What the last import found and did; null before the first. Written on its own (jsonb_set), never with the settings.</summary>
    public LdapSyncSummary? LastSync { get; set; }

    /// <summary>When the last complete import ran (the schedule of complete imports counts from it). Written with <see cref="LastSync"/>.</summary>
    public DateTimeOffset? LastFullSyncAt { get; set; }

    /// <summary>
    /// The latest <c>modifyTimestamp</c> an import saw, in the directory's own clock and words (generalized time): the next
    /// changes-only import reads the entries changed since. Written with <see cref="LastSync"/>.
    /// </summary>
    public string? SyncHighWater { get; set; }
}

/// <summary>One import of a directory's people: when, what it found and did, and what stopped it, if anything.</summary>
public sealed class LdapSyncSummary
{
    public DateTimeOffset At { get; set; }

    /// <summary>Entries the user filter matched (with a lasting id to link them by).</summary>
    public int Found { get; set; }

    /// <summary>Users made for entries no user was linked to.</summary>
    public int Created { get; set; }

    /// <summary>Entries linked to a user found by verified address (with <c>autoLinkUsers</c>).</summary>
    public int Linked { get; set; }

    /// <summary>Linked users whose names were sent to admin again (with <c>updateUserOnLogin</c>; admin changes only what differs).</summary>
    public int Updated { get; set; }

    /// <summary>Entries no user could be made or found for (sign-up off, an address taken, none verified).</summary>
    public int Skipped { get; set; }

    /// <summary>Entries whose user or roles could not be written (admin or the authorization service did not answer).</summary>
    public int Failed { get; set; }

    /// <summary>Linked entries the directory no longer lists: their mapped roles are taken (their links stay).</summary>
    public int Vanished { get; set; }

    /// <summary>Users the directory made that it no longer lists, blocked now (admin ends their sessions).</summary>
    public int Blocked { get; set; }

    /// <summary>Users the directory made and had blocked that it lists again, unblocked now.</summary>
    public int Unblocked { get; set; }

    /// <summary>Whether only the entries changed since the import before were read (no one is found gone by such an import).</summary>
    public bool ChangesOnly { get; set; }

    /// <summary>Whether the directory listed more entries than one import takes (the rest, and vanished entries, wait).</summary>
    public bool Truncated { get; set; }

    /// <summary>Why the import stopped or did not start, in words; null when it ran through.</summary>
    public string? Problem { get; set; }
}

/// <summary>The roles members of one directory group (by DN) hold.</summary>
public sealed class LdapGroupRoles
{
    public string Group { get; set; } = string.Empty;

    public List<string> Roles { get; set; } = [];
}

/// <summary>A user's account at an upstream provider, linked to their LumoAuth user: the provider's subject signs them in.</summary>
public sealed class ExternalIdentity
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid ProviderId { get; set; }

    /// <summary>The provider's stable id of the account (<c>sub</c>, or GitHub's numeric id).</summary>
    public string Subject { get; set; } = string.Empty;

    public Guid UserId { get; set; }

    /// <summary>The address the provider gave at the last sign-in, for the account page.</summary>
    public string? Email { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset LastSignInAt { get; set; }
}

/// <summary>
/// An application that signs its users in with this tenant as its SAML identity provider (the docs' "SAML app"): where
/// responses go, what names the user, which attributes it gets, and the certificate its signed requests are checked with.
/// </summary>
public sealed class SamlServiceProvider
{
    public const int NameLength = 100;
    public const int EntityIdLength = 1024;
    public const int UrlLength = 2000;
    public const int MaxAttributes = 30;

    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Name { get; set; } = string.Empty;

    /// <summary>The SP's entity ID: the <c>Issuer</c> of its requests and the <c>Audience</c> of our assertions.</summary>
    public string EntityId { get; set; } = string.Empty;

    /// <summary>The Assertion Consumer Service URL: the only place a response for this SP is ever posted to.</summary>
    public string AcsUrl { get; set; } = string.Empty;

    /// <summary>Where the SP takes logout responses (and requests); null when it does not take part in single logout.</summary>
    public string? SloUrl { get; set; }

    /// <summary>Where the app takes LogoutRequests over the back channel (SAML SOAP binding), for sessions that end without a browser.</summary>
    public string? SloSoapUrl { get; set; }

    /// <summary>One of <c>SamlNames.NameIdFormats</c>' keys (the short name: emailAddress, persistent, transient, unspecified).</summary>
    public string NameIdFormat { get; set; } = "emailAddress";

    /// <summary>The SP's signing certificate (DER), for its signed requests; null when it signs nothing.</summary>
    public byte[]? Certificate { get; set; }

    /// <summary>Whether requests (AuthnRequest, LogoutRequest) must be signed by <see cref="Certificate"/>.</summary>
    public bool RequireSignedRequests { get; set; }

    public bool SignResponse { get; set; } = true;

    public bool SignAssertion { get; set; } = true;

    /// <summary>Whether assertions are encrypted to <see cref="Certificate"/> (the SP's key then both signs and decrypts).</summary>
    public bool EncryptAssertions { get; set; }

    /// <summary>SAML attribute name → what of the user it carries (<c>SamlAttributes.Sources</c>).</summary>
    public Dictionary<string, string> AttributeMappings { get; set; } = [];

    /// <summary>
    /// Whether the tenant may start sign-ins to the app itself (IdP-initiated SSO: an unsolicited response from a link such
    /// as a portal's tile). Off unless turned on: the app must accept unsolicited responses.
    /// </summary>
    public bool AllowIdpInitiated { get; set; }

    public bool IsEnabled { get; set; } = true;

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>
/// A SAML signing key and certificate of the tenant (RSA 2048, SHA-256, three years): the current one, made on first use,
/// signs; a next one (made ahead of a rotation) and the previous one (after it) are only published in the metadata, so
/// partners learn a key before it signs and keep the old one while they catch up. The private key is kept encrypted
/// (Data Protection); the certificate is what the metadata publishes.
/// </summary>
public sealed class SamlSigningKey
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    /// <summary>One of <c>SamlKeyStatus</c>'s: current, next or previous; one of each per tenant at most.</summary>
    public string Status { get; set; } = "current";

    public byte[] Certificate { get; set; } = [];

    public string ProtectedPrivateKey { get; set; } = string.Empty;

    public DateTimeOffset NotAfter { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

public static class FederationSaves
{
    /// <summary>Saves the Admin API's change; a unique index's refusal (a name or entity ID taken) is the 409 it answers, else null.</summary>
    public static async Task<Microsoft.AspNetCore.Http.IResult?> SaveOrDuplicateAsync(this FederationDbContext db, string duplicate, CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return null;
        }
        catch (DbUpdateException exception) when (LumoAuth.Messaging.Data.DbErrors.IsUniqueViolation(exception))
        {
            return LumoAuth.ServiceDefaults.Errors.ApiErrors.Duplicate(duplicate);
        }
    }

    /// <summary>
    /// Deletes the provider when it is one of <paramref name="types"/> (each Admin API resource removes its own kind), and
    /// every account linked through it, in one transaction; false when there is no such provider.
    /// </summary>
    public static async Task<bool> DeleteProviderAsync(this FederationDbContext db, Guid providerId, IReadOnlyList<string> types, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var provider = await db.IdentityProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == providerId && types.Contains(p.Type), cancellationToken);
        var deleted = provider is null ? 0 : await db.IdentityProviders.Where(p => p.Id == providerId).ExecuteDeleteAsync(cancellationToken);
        if (deleted > 0)
        {
            await db.ExternalIdentities.Where(i => i.ProviderId == providerId).ExecuteDeleteAsync(cancellationToken);
            db.AddEvent(Features.Providers.ProviderEvents.Changed(provider!, Contracts.Authorization.ConfigurationChanges.Deleted));
            await db.SaveChangesAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return deleted > 0;
    }
}

public sealed class FederationDbContext(DbContextOptions<FederationDbContext> options, TenantContext tenant) : DbContext(options)
{
    public DbSet<IdentityProvider> IdentityProviders => Set<IdentityProvider>();

    public DbSet<ExternalIdentity> ExternalIdentities => Set<ExternalIdentity>();

    public DbSet<SamlServiceProvider> SamlServiceProviders => Set<SamlServiceProvider>();

    public DbSet<SamlSigningKey> SamlSigningKeys => Set<SamlSigningKey>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder) =>
        configurationBuilder.StoreTimestampsAsUtc();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddMessagingTables();
        modelBuilder.AddDataProtectionKeys();
        modelBuilder.Entity<IdentityProvider>(e =>
        {
            e.ToTable("identity_providers");
            e.HasKey(p => p.Id);
            e.Property(p => p.Version).IsRowVersion();
            e.HasIndex(p => new { p.TenantId, p.Name }).IsUnique();
            e.Property(p => p.Type).HasMaxLength(32);
            e.Property(p => p.Name).HasMaxLength(IdentityProvider.NameLength);
            e.Property(p => p.ClientId).HasMaxLength(500);
            e.Property(p => p.IssuerUrl).HasMaxLength(500);
            e.OwnsOne(p => p.Saml, saml => saml.ToJson());
            e.OwnsOne(p => p.Apple, apple => apple.ToJson());
            e.OwnsOne(p => p.Ldap, ldap =>
            {
                ldap.ToJson();
                ldap.OwnsMany(l => l.GroupRoles);
                ldap.OwnsOne(l => l.LastSync);
            });
            e.HasQueryFilter(p => p.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<ExternalIdentity>(e =>
        {
            e.ToTable("external_identities");
            e.HasKey(i => i.Id);
            // One account of a provider signs in one user; a user's links are listed on their account page.
            e.HasIndex(i => new { i.TenantId, i.ProviderId, i.Subject }).IsUnique();
            e.HasIndex(i => new { i.TenantId, i.UserId });
            e.Property(i => i.Subject).HasMaxLength(500);
            e.Property(i => i.Email).HasMaxLength(320);
            e.HasQueryFilter(i => i.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<SamlServiceProvider>(e =>
        {
            e.ToTable("saml_service_providers");
            e.HasKey(p => p.Id);
            e.HasIndex(p => new { p.TenantId, p.Name }).IsUnique();
            // A request names its SP by entity ID alone.
            e.HasIndex(p => new { p.TenantId, p.EntityId }).IsUnique();
            e.Property(p => p.Name).HasMaxLength(SamlServiceProvider.NameLength);
            e.Property(p => p.EntityId).HasMaxLength(SamlServiceProvider.EntityIdLength);
            e.Property(p => p.AcsUrl).HasMaxLength(SamlServiceProvider.UrlLength);
            e.Property(p => p.SloUrl).HasMaxLength(SamlServiceProvider.UrlLength);
            e.Property(p => p.SloSoapUrl).HasMaxLength(SamlServiceProvider.UrlLength);
            e.Property(p => p.NameIdFormat).HasMaxLength(32);
            e.Property(p => p.AttributeMappings).HasColumnType("jsonb").HasConversion(
                v => System.Text.Json.JsonSerializer.Serialize(v, (System.Text.Json.JsonSerializerOptions?)null),
                v => System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(v, (System.Text.Json.JsonSerializerOptions?)null) ?? new(),
                new Microsoft.EntityFrameworkCore.ChangeTracking.ValueComparer<Dictionary<string, string>>(
                    (a, b) => a!.Count == b!.Count && !a.Except(b).Any(), v => v.Count, v => new Dictionary<string, string>(v)));
            e.HasQueryFilter(p => p.TenantId == tenant.CurrentTenantId);
        });
        modelBuilder.Entity<SamlSigningKey>(e =>
        {
            e.ToTable("saml_signing_keys");
            e.HasKey(k => k.Id);
            // One key of each status per tenant: two first uses at once make one current key, the other reads it.
            e.HasIndex(k => new { k.TenantId, k.Status }).IsUnique();
            e.Property(k => k.Status).HasMaxLength(16);
            e.HasQueryFilter(k => k.TenantId == tenant.CurrentTenantId);
        });
    }
}
