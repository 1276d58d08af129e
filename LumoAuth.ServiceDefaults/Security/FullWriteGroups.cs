using LumoAuth.ServiceDefaults.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace LumoAuth.ServiceDefaults.Security;

public static class FullWriteGroups
{
    /// <summary>
    /// The writes of an Admin API resource that only a credential writing everything may make (an API key scoped to a
    /// resource may read it): 403 <c>insufficient_scope</c> naming <paramref name="what"/> otherwise.
    /// </summary>
    public static RouteGroupBuilder WritesNeedingFullAccess(this RouteGroupBuilder admin, string what) =>
        admin.MapGroup(string.Empty).AddEndpointFilter(async (context, next) =>
            AdminScopeHandler.HasFullWrite(context.HttpContext.User) ? await next(context) : ApiErrors.NeedsFullWrite(what));
}
