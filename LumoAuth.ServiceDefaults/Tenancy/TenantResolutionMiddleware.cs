using System.Diagnostics;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LumoAuth.ServiceDefaults.Tenancy;

/// <summary>
/// Resolves <c>/t/{tenantSlug}/...</c> once per request: unknown → 404 <c>tenant_not_found</c>,
/// suspended → 403 <c>tenant_suspended</c>, served by another region → 421 <c>tenant_in_other_region</c> naming that region.
/// </summary>
public sealed class TenantResolutionMiddleware(RequestDelegate next, ILogger<TenantResolutionMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context, TenantDirectory directory, TenantContext tenantContext, IOptions<LumoAuthOptions> options)
    {
        if (!TryGetSlug(context.Request.Path, out var slug))
        {
            if (context.Request.Path.StartsWithSegments("/t", StringComparison.OrdinalIgnoreCase))
            {
                // "/T/{slug}/…": routing matches it regardless of case, but no tenant is resolved for it; answering it
                // would run tenant endpoints with no tenant.
                await ErrorWriter.WriteAsync(context, new ApiError("Tenant not found", 404, ErrorCodes.TenantNotFound));
                return;
            }

            await next(context);
            return;
        }

        var tenant = await directory.FindAsync(slug, context.RequestAborted);
        if (tenant is null)
        {
            await ErrorWriter.WriteAsync(context, new ApiError("Tenant not found", 404, ErrorCodes.TenantNotFound));
            return;
        }

        if (tenant.Status == TenantStatuses.Suspended)
        {
            await ErrorWriter.WriteAsync(context, new ApiError("Tenant is suspended", 403, ErrorCodes.TenantSuspended));
            return;
        }

        if (!string.Equals(tenant.Region, options.Value.Region, StringComparison.Ordinal))
        {
            await ErrorWriter.WriteAsync(context, new ApiError(
                $"Tenant lives in region '{tenant.Region}'", StatusCodes.Status421MisdirectedRequest, ErrorCodes.TenantInOtherRegion,
                new { region = tenant.Region }));
            return;
        }

        tenantContext.Set(tenant);
        Activity.Current?.SetTag("lumoauth.tenant_id", tenant.Id).SetTag("lumoauth.tenant_slug", tenant.Slug);
        using (logger.BeginScope(new Dictionary<string, object> { ["TenantId"] = tenant.Id, ["TenantSlug"] = tenant.Slug }))
        {
            await next(context);
        }
    }

    public static bool TryGetSlug(PathString path, out string slug)
    {
        slug = string.Empty;
        var value = path.Value;
        if (value is null || !value.StartsWith("/t/", StringComparison.Ordinal))
        {
            return false;
        }

        var end = value.IndexOf('/', 3);
        slug = end < 0 ? value[3..] : value[3..end];
        return slug.Length > 0;
    }
}
