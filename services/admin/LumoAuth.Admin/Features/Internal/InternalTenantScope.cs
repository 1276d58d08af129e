using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
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

    /// <summary>The opening of an internal request about one user: the tenant entered, then its user; null for either missing.</summary>
    public static async Task<User?> FindUserAsync(
        AdminDbContext db, TenantContext tenant, Guid? tenantId, Guid userId, CancellationToken cancellationToken, bool tracking = false) =>
        await EnterAsync(db, tenant, tenantId, cancellationToken)
            ? await Users.UserCommands.FindAsync(db, userId.ToString(), cancellationToken, tracking)
            : null;

    /// <summary>
    /// The opening of an internal request about an e-mail address (forgot password, new verification link): the
    /// address must be valid and the tenant active. Null when both hold (the tenant entered), else the answer to give.
    /// </summary>
    public static async Task<IResult?> EnterForEmailAsync(
        AdminDbContext db, TenantContext tenant, Guid? tenantId, string? email, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Email("email", email);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        return await EnterAsync(db, tenant, tenantId, cancellationToken)
            ? null
            : ApiErrors.Create(StatusCodes.Status404NotFound, ErrorCodes.TenantNotFound, "Tenant not found");
    }
}
