using LumoAuth.ServiceDefaults.Tenancy;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Makes OpenIddict see one tenant at a time: <c>/t/{slug}/api/v1/rest</c> becomes PathBase
/// <c>/t/{slug}/api/v1</c> + Path <c>/rest</c>, so the relative endpoint URIs match. The documented
/// <c>/t/{slug}/.well-known/*</c> aliases get the same PathBase. Runs after routing (endpoints are
/// matched on the full public path) and before authentication (where OpenIddict runs).
/// </summary>
public sealed class TenantPathMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context, TenantContext tenantContext, TenantServerOptionsMonitor serverOptions)
    {
        if (tenantContext.Tenant is not { } tenant)
        {
            await next(context);
            return;
        }

        await serverOptions.PinForRequestAsync(context, tenant);

        var request = context.Request;
        var tenantRoot = new PathString("/t/" + tenant.Slug);
        var apiBase = tenantRoot.Add("/api/v1");
        var originalBase = request.PathBase;
        var originalPath = request.Path;
        if (originalPath.StartsWithSegments(apiBase, StringComparison.Ordinal, out var rest))
        {
            request.PathBase = originalBase.Add(apiBase);
            request.Path = rest;
        }
        else if (originalPath.StartsWithSegments(tenantRoot.Add("/.well-known"), StringComparison.Ordinal)
                 && originalPath.StartsWithSegments(tenantRoot, StringComparison.Ordinal, out var wellKnown))
        {
            request.PathBase = originalBase.Add(apiBase);
            request.Path = wellKnown;
        }

        try
        {
            await next(context);
        }
        finally
        {
            request.PathBase = originalBase;
            request.Path = originalPath;
        }
    }
}
