using LumoAuth.Contracts.Internal;
using Microsoft.AspNetCore.Http;

namespace LumoAuth.ServiceDefaults.Http;

/// <summary>
/// The URL a client addressed for this request (scheme, host and path; what a DPoP proof's <c>htu</c> names). Behind the
/// gateway a request arrives by its <c>/t/{slug}</c> path; on one of the tenant's domains the client may have used the
/// path with or without the tenant prefix, so both count.
/// </summary>
public readonly record struct PublicTarget(string Uri, string? Alternate)
{
    public static PublicTarget Of(HttpRequest request, LumoAuthOptions options, TenantInfo tenant)
    {
        var path = (request.PathBase + request.Path).Value ?? string.Empty;
        if (RequestDomain.Of(request, tenant) is { } domain)
        {
            var origin = options.OriginFor(domain);
            var prefix = "/t/" + tenant.Slug;
            var unprefixed = path.StartsWith(prefix + "/", StringComparison.Ordinal) ? path[prefix.Length..] : path;
            return new(origin + unprefixed, origin + path);
        }

        return new(options.PublicBaseUrl.TrimEnd('/') + path, null);
    }

    public bool Matches(Func<string, bool> sameAs) => sameAs(Uri) || (Alternate is not null && sameAs(Alternate));
}
