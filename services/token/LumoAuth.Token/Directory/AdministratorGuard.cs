using System.Security.Claims;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Authorize;

namespace LumoAuth.Token.Directory;

/// <summary>
/// Admin's rule for administrator accounts, applied to what this service does to a user (ending their sessions, revoking
/// their grants and tokens, forgetting their trusted devices): a resource-scoped key (<c>admin:users</c>) must not reach an
/// administrator's powers, e.g. sign every administrator out at will. A user who administers the tenant — <c>isAdmin</c>, or
/// holding <c>admin</c> or <c>tenant_admin</c> directly or through a group (<see cref="UserClaims.MayAdminister"/>) — is
/// acted on only by a full administrator (<see cref="AdminScopeHandler.HasFullWrite"/>). The facts come from admin's user
/// profile and the authorization service's <c>roles-of</c>; when either cannot say, such a caller is refused (503) rather
/// than trusted.
/// </summary>
public sealed class AdministratorGuard(UserDirectory users, RolesDirectory roles)
{
    /// <summary>Null when <paramref name="caller"/> may act on the user's account (or the tenant has no such user: the handler answers that).</summary>
    public async Task<IResult?> RefuseAccountAsync(ClaimsPrincipal caller, Guid tenantId, Guid userId, CancellationToken cancellationToken)
    {
        if (AdminScopeHandler.HasFullWrite(caller))
        {
            return null;
        }

        var (found, profile) = await users.FindAsync(tenantId, userId, cancellationToken);
        if (found is null)
        {
            return RolesUnknown;
        }

        if (profile is null)
        {
            return null;
        }

        if (!profile.IsAdmin)
        {
            var held = await roles.RolesOfAsync(tenantId, userId.ToString(), cancellationToken);
            if (held?.Administers is null)
            {
                return RolesUnknown;
            }

            if (!UserClaims.MayAdminister(profile, held))
            {
                return null;
            }
        }

        return ApiErrors.NeedsFullWrite("This user administers the tenant: ending their sessions, grants or trusted devices");
    }

    private static IResult RolesUnknown => ApiErrors.AdministeringUnknown();
}

/// <summary>Applies <see cref="AdministratorGuard.RefuseAccountAsync"/> to every change under <c>…/admin/users/{userId}</c> (reads pass).</summary>
public sealed class AdministratorAccountFilter(AdministratorGuard guard) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var reading = HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method);
        if (!reading && !AdminScopeHandler.HasFullWrite(http.User)
            && http.Request.RouteValues["userId"] is string value && Guid.TryParse(value, out var userId))
        {
            var tenant = http.RequestServices.GetRequiredService<TenantContext>();
            if (await guard.RefuseAccountAsync(http.User, tenant.TenantId, userId, http.RequestAborted) is { } refused)
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
