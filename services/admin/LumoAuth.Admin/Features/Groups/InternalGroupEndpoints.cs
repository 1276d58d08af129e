using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Groups;

/// <summary>The group lookup the authorization service makes before it assigns roles to a group (internal key only).</summary>
public static class InternalGroupEndpoints
{
    public static IEndpointRouteBuilder MapInternalGroupEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet(InternalRoutes.Group, GetGroup).RequireAuthorization(Policies.Internal).WithName("InternalGetGroup").WithTags("Internal");
        return app;
    }

    public static async Task<IResult> GetGroup(Guid groupId, Guid? tenantId, AdminDbContext db, CancellationToken cancellationToken)
    {
        if (tenantId is null)
        {
            return ApiErrors.Validation("tenantId", "is required");
        }

        // Scoped by the named tenant in the query itself: another tenant's group is not found. Nor is a soft-deleted one,
        // so it cannot be given roles.
        var group = await db.Groups.IgnoreQueryFilters().AsNoTracking()
            .Where(g => g.Id == groupId && g.TenantId == tenantId && g.SoftDeletedAt == null)
            .Select(g => new GroupSummary(g.Id, g.TenantId, g.Slug, g.Name))
            .FirstOrDefaultAsync(cancellationToken);
        return group is null ? ApiErrors.NotFound("Group") : TypedResults.Ok(group);
    }
}
