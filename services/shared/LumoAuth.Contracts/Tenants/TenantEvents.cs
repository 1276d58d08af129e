namespace LumoAuth.Contracts.Tenants;

public sealed record TenantCreated(Guid Id, string Slug, string Name, string Region) : IntegrationEvent;

/// <summary>Raised when a tenant's name, status or region changes; caches of the tenant evict on it.</summary>
public sealed record TenantUpdated(Guid Id, string Slug, string Status) : IntegrationEvent;

/// <summary>Tenant settings changed; <see cref="Sections"/> names the parts (passwordPolicy, mfaPolicy, sessionPolicy, loginPolicy, branding).</summary>
public sealed record TenantSettingsChanged(Guid Id, string Slug, IReadOnlyList<string> Sections) : IntegrationEvent;
