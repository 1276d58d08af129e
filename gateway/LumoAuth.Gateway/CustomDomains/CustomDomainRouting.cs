using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace LumoAuth.Gateway.CustomDomains;

/// <summary>
/// A request for a tenant's verified domain is that tenant's: <c>https://auth.acme.com/api/v1/oauth/token</c> is routed as
/// <c>/t/acme/api/v1/oauth/token</c>, so the services see the one path form they serve. Paths that already name the tenant
/// (the hosted pages link to themselves that way) pass as they are, but only for that tenant: another tenant's path, or
/// the platform API, is no route on a tenant's domain. Runs before routing.
/// </summary>
public sealed class CustomDomainRouting(RequestDelegate next, CustomDomainMap map)
{
    /// <summary>The domain (canonical) and slug a request came in on, for the transforms.</summary>
    private sealed record Served(string Domain, string Slug);

    public Task InvokeAsync(HttpContext context)
    {
        if (!map.TryGet(context.Request.Host.Host, out var route))
        {
            // Until the map has loaded once (admin unreachable at start), a host other than the deployment's may be a
            // tenant's: it waits rather than be served as the deployment's host, where every tenant's /t/ paths are open.
            // The deployment's own host never waits for the map.
            if (!map.IsComplete && !IsDeploymentHost(context) && !IsProbe(context.Request.Path))
            {
                context.Response.Headers.RetryAfter = "5";
                return ErrorWriter.WriteAsync(context, new ApiError("Not ready for this host yet; try again shortly", 503, ErrorCodes.ServiceUnavailable));
            }

            return next(context);
        }

        var slug = route.TenantSlug;
        var path = context.Request.Path;
        var prefix = new PathString("/t/" + slug);
        if (path.StartsWithSegments("/t", StringComparison.OrdinalIgnoreCase))
        {
            if (!path.StartsWithSegments(prefix, StringComparison.Ordinal))
            {
                return ErrorWriter.WriteAsync(context, new ApiError("No such route", 404, ErrorCodes.RouteNotFound));
            }
        }
        else
        {
            context.Request.Path = prefix.Add(path);
        }

        context.Features.Set(new Served(route.Domain, slug));
        return next(context);
    }

    private static bool IsDeploymentHost(HttpContext context) => string.Equals(
        context.Request.Host.Host, context.RequestServices.GetRequiredService<IOptions<LumoAuthOptions>>().Value.PublicHost, StringComparison.OrdinalIgnoreCase);

    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments(LumoServiceDefaults.HealthPath) || path.StartsWithSegments(LumoServiceDefaults.AlivePath);

    /// <summary>
    /// Tells the service which domain a request came in on (<see cref="RequestDomain.Header"/>, the URL a DPoP proof
    /// names), never passing on one a caller sent. The services scope their cookies to <c>/t/{slug}/…</c>; on the tenant's
    /// own domain the browser also visits unprefixed paths, and the whole host is the tenant's, so such a cookie is scoped
    /// to <c>/</c> there.
    /// </summary>
    public static void AddTransforms(TransformBuilderContext builder)
    {
        builder.AddRequestTransform(transform =>
        {
            transform.ProxyRequest.Headers.Remove(RequestDomain.Header);
            if (transform.HttpContext.Features.Get<Served>() is { } served)
            {
                transform.ProxyRequest.Headers.TryAddWithoutValidation(RequestDomain.Header, served.Domain);
            }

            return ValueTask.CompletedTask;
        });
        builder.AddResponseTransform(transform =>
        {
            if (transform.HttpContext.Features.Get<Served>() is not { } served
                || !transform.HttpContext.Response.Headers.TryGetValue(HeaderNames.SetCookie, out var cookies))
            {
                return ValueTask.CompletedTask;
            }

            var prefix = "/t/" + served.Slug;
            var rewritten = new string?[cookies.Count];
            for (var i = 0; i < cookies.Count; i++)
            {
                rewritten[i] = SetCookieHeaderValue.TryParse(cookies[i], out var cookie)
                    && cookie.Path.HasValue && (cookie.Path.Value == prefix || cookie.Path.Value!.StartsWith(prefix + "/", StringComparison.Ordinal))
                        ? WithRootPath(cookie)
                        : cookies[i];
            }

            transform.HttpContext.Response.Headers.SetCookie = rewritten;
            return ValueTask.CompletedTask;
        });
    }

    private static string WithRootPath(SetCookieHeaderValue cookie)
    {
        cookie.Path = "/";
        return cookie.ToString();
    }
}
