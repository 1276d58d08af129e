using LumoAuth.Contracts.Internal;

namespace LumoAuth.ServiceDefaults.Tenancy;

/// <summary>The tenant of the current request, set once by <see cref="TenantResolutionMiddleware"/>.</summary>
public sealed class TenantContext
{
    private TenantInfo? _tenant;

    public TenantInfo? Tenant => _tenant;

    public bool HasTenant => _tenant is not null;

    /// <summary>For EF Core query filters: outside a tenant path it matches nothing.</summary>
    public Guid CurrentTenantId => _tenant?.Id ?? Guid.Empty;

    /// <summary>The current tenant's id; throws outside a tenant path so a query can never run unscoped by accident.</summary>
    public Guid TenantId => _tenant?.Id ?? throw new InvalidOperationException("No tenant in this context.");

    public string Slug => _tenant?.Slug ?? throw new InvalidOperationException("No tenant in this context.");

    /// <summary>Sets the tenant; used by the middleware and by background work that acts for a tenant.</summary>
    public void Set(TenantInfo tenant)
    {
        if (_tenant is not null && _tenant.Id != tenant.Id)
        {
            throw new InvalidOperationException("The tenant of a context cannot change.");
        }

        _tenant = tenant;
    }
}
