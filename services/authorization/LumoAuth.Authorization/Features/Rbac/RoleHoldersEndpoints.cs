using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Features.Relationships;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;

namespace LumoAuth.Authorization.Features.Rbac;

/// <summary>Admin's view for <c>GET /admin/users?role=</c>: which users hold a role (internal key only).</summary>
public static class RoleHoldersEndpoints
{
    public static IEndpointRouteBuilder MapRoleHoldersEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet(InternalRoutes.RoleUsers, GetRoleHolders).RequireAuthorization(Policies.Internal).WithName("InternalGetRoleHolders").WithTags("Internal");
        return app;
    }

    /// <summary>An unknown role simply has no holders; fully consistent, like <c>roles-of</c>, so a fresh assignment is seen at once.</summary>
    public static async Task<IResult> GetRoleHolders(string role, Guid? tenantId, RbacStore rbac, CancellationToken cancellationToken)
    {
        if (tenantId is not { } tenant || tenant == Guid.Empty)
        {
            return ApiErrors.Validation("tenantId", "is required");
        }

        if (!RbacCatalog.IsSlug(role))
        {
            return ApiErrors.Validation("role", "must be a role slug");
        }

        var scope = await rbac.OpenAsync(tenant, new ConsistencyRequirement(ConsistencyMode.FullyConsistent), cancellationToken);
        var holders = await RbacStore.UsersWithRoleAsync(scope, role, cancellationToken);
        if (holders.Error is { } error)
        {
            return new ApiErrorResult(EngineErrors.ToApiError(error));
        }

        // Only admin's users have GUID ids; any other subject id cannot match a user there.
        var ids = holders.Users.Select(u => Guid.TryParse(u.Id, out var id) ? id : Guid.Empty).Where(id => id != Guid.Empty).Order().ToList();
        return TypedResults.Ok(new RoleHolders(ids, holders.IsComplete));
    }
}
