using System.Security.Claims;
using LumoAuth.Admin.Features.Users;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;

namespace LumoAuth.Admin.Features.Groups;

/// <summary>
/// Joining or leaving a group gives or takes the roles the group holds. When one of them administers the tenant
/// (<c>admin</c>, <c>tenant_admin</c>), the change is for full administrators only, as a direct assignment of that role
/// is: a key scoped to users or groups must not make an administrator by moving someone into the right group. The
/// roles live in the authorization service; when it cannot say, such a caller is refused (503) rather than trusted.
/// </summary>
public sealed class AdministeringGroups(RoleHolderLookup roleHolders)
{
    public async Task<IResult?> RefuseAsync(ClaimsPrincipal caller, Guid tenantId, IReadOnlyCollection<Guid> groupIds, CancellationToken cancellationToken)
    {
        if (groupIds.Count == 0 || AdminScopeHandler.HasFullWrite(caller))
        {
            return null;
        }

        var roles = await roleHolders.RolesOfManyAsync(tenantId, [], [.. groupIds], cancellationToken);
        if (roles is null)
        {
            return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "The roles of these groups cannot be read right now; try again shortly");
        }

        return roles.Values.Any(held => held.Any(r => AdminScopeHandler.IsPrivilegedRole(r.Slug)))
            ? ApiErrors.Create(StatusCodes.Status403Forbidden, ErrorCodes.InsufficientScope, "This group holds an administering role: changing its members needs the admin:write scope")
            : null;
    }
}
