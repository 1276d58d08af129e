using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Internal;

/// <summary>
/// Internal calls are not on a tenant path: they name the tenant in the request. Entering it sets the
/// request's <see cref="TenantContext"/>, so every tenant-scoped query filter applies as on a public route.
/// </summary>
public static class InternalTenantScope
{
    public static async Task<bool> EnterAsync(AdminDbContext db, TenantContext tenant, Guid? tenantId, CancellationToken cancellationToken)
    {
        if (tenantId is not { } id)
        {
            return false;
        }

        var info = await db.Tenants.AsNoTracking().Where(t => t.Id == id && t.Status == TenantStatuses.Active)
            .Select(t => new TenantInfo(t.Id, t.Slug, t.Name, t.Status, t.Region)).FirstOrDefaultAsync(cancellationToken);
        if (info is null)
        {
            return false;
        }

        tenant.Set(info);
        return true;
    }
}
