using LumoAuth.Contracts.Internal;
using Microsoft.AspNetCore.Http;

namespace LumoAuth.ServiceDefaults;

/// <summary>Which of a tenant's custom domains a request came in on, as the gateway says.</summary>
public static class RequestDomain
{
    /// <summary>Set by the gateway (and only by it: it drops any a caller sends) on requests for a verified custom domain.</summary>
    public const string Header = "X-LumoAuth-Domain";

    /// <summary>The domain, when the gateway named one and it is one of the tenant's verified domains; else null.</summary>
    public static string? Of(HttpRequest? request, TenantInfo tenant) =>
        request?.Headers[Header] is [{ Length: > 0 } domain] && tenant.Serves(domain) ? domain.ToLowerInvariant() : null;

    /// <summary>The tenant's issuer on the host this request came in on (<see cref="LumoAuthOptions.IssuerFor"/>).</summary>
    public static string IssuerFor(this LumoAuthOptions options, HttpRequest? request, TenantInfo tenant) =>
        options.IssuerFor(tenant, Of(request, tenant));
}
