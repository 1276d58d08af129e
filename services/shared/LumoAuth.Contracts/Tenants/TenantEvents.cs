namespace LumoAuth.Contracts.Tenants;

public sealed record TenantCreated(Guid Id, string Slug, string Name, string Region) : IntegrationEvent;

/// <summary>Raised when a tenant's name, status or region changes; caches of the tenant evict on it.</summary>
public sealed record TenantUpdated(Guid Id, string Slug, string Status) : IntegrationEvent;
