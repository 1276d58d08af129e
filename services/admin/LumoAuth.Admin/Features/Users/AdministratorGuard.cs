using System.Security.Claims;
using LumoAuth.Admin.Data;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Users;

/// <summary>
/// Keeps a resource-scoped key (<c>admin:users</c>, <c>admin:groups</c>) from reaching an administrator's powers.
/// Whoever holds <c>admin</c> or <c>tenant_admin</c> (directly or through a group), or is the tenant's first
/// administrator, is changed only by a full administrator (<see cref="AdminScopeHandler.HasFullWrite"/>): otherwise a
/// user-management key could set an administrator's e-mail or password, reset their MFA and sign in as them. Likewise
/// joining or leaving a group that holds such a role gives or takes it. The roles live in the authorization service;
/// when it cannot say, such a caller is refused (503) rather than trusted.
/// </summary>
public sealed class AdministratorGuard(RoleHolderLookup roleHolders)
{
    /// <summary>Refuses a change of the memberships of <paramref name="groupIds"/> when one of them holds an administering role.</summary>
    public async Task<IResult?> RefuseGroupsAsync(ClaimsPrincipal caller, Guid tenantId, IReadOnlyCollection<Guid> groupIds, CancellationToken cancellationToken)
    {
        if (groupIds.Count == 0 || AdminScopeHandler.HasFullWrite(caller))
        {
            return null;
        }

        return await roleHolders.AdministeringAsync(tenantId, [], [.. groupIds], cancellationToken) switch
        {
            null => RolesUnknown,
            { Count: > 0 } => ApiErrors.NeedsFullWrite("This group holds an administering role: changing its members"),
            _ => null,
        };
    }

    /// <summary>
    /// Refuses a change of <paramref name="user"/>'s account when the user administers the tenant. The user's groups are
    /// read here, where memberships are decided, and asked about too: the authorization service learns of a new
    /// membership only when its event arrives.
    /// </summary>
    public async Task<IResult?> RefuseAccountAsync(ClaimsPrincipal caller, AdminDbContext db, User user, CancellationToken cancellationToken)
    {
        if (AdminScopeHandler.HasFullWrite(caller))
        {
            return null;
        }

        if (!user.IsAdmin)
        {
            var groups = await db.GroupMembers.AsNoTracking().Where(m => m.UserId == user.Id).Select(m => m.GroupId).ToListAsync(cancellationToken);
            var administering = await roleHolders.AdministeringAsync(user.TenantId, [user.Id], groups, cancellationToken);
            if (administering is null)
            {
                return RolesUnknown;
            }

            if (administering.Count == 0)
            {
                return null;
            }
        }

        return ApiErrors.NeedsFullWrite("This user administers the tenant: changing their account");
    }

    private static IResult RolesUnknown => ApiErrors.AdministeringUnknown();
}

/// <summary>Applies <see cref="AdministratorGuard.RefuseAccountAsync"/> to every change under <c>…/users/{userId}</c>.</summary>
public sealed class AdministratorAccountFilter(AdministratorGuard guard) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var reading = HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method);
        if (!reading && !AdminScopeHandler.HasFullWrite(http.User) && http.Request.RouteValues["userId"] is string userId)
        {
            var db = http.RequestServices.GetRequiredService<AdminDbContext>();
            if (await UserCommands.FindAsync(db, userId, http.RequestAborted, tracking: false) is { } user
                && await guard.RefuseAccountAsync(http.User, db, user, http.RequestAborted) is { } refused)
            {
                return refused;
            }
        }

        return await next(context);
    }
}

public static class AdministratorAccountFilterExtensions
{
    public static TBuilder GuardingAdministratorAccounts<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter<TBuilder, AdministratorAccountFilter>();
}
