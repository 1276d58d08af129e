using System.Net;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Hosting;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms;

namespace LumoAuth.Gateway;

/// <summary>
/// Every public path and the service that owns it (DESIGN §3). Services keep the full public path, so
/// routes forward unchanged. More literal segments win over fewer, so the owner-specific admin routes
/// (clients, roles…) take precedence over admin's catch-all.
/// </summary>
public static class GatewayRoutes
{
    private const string Api = "/t/{tenantSlug}/api/v1";

    public static readonly IReadOnlyList<(string Path, string Service)> Table =
    [
        // token: protocol, discovery, hosted pages, and the admin resources it owns
        (Api + "/oauth/{**rest}", ServiceNames.Token),
        (Api + "/connect/{**rest}", ServiceNames.Token),
        (Api + "/oidc/register", ServiceNames.Token),
        (Api + "/.well-known/openid-configuration", ServiceNames.Token),
        (Api + "/.well-known/oauth-authorization-server", ServiceNames.Token),
        (Api + "/.well-known/jwks.json", ServiceNames.Token),
        ("/t/{tenantSlug}/.well-known/openid-configuration", ServiceNames.Token),
        ("/t/{tenantSlug}/.well-known/oauth-authorization-server", ServiceNames.Token),
        ("/t/{tenantSlug}/.well-known/jwks.json", ServiceNames.Token),
        (Api + "/admin/clients/{**rest}", ServiceNames.Token),
        (Api + "/admin/oauth-clients/{**rest}", ServiceNames.Token),
        (Api + "/admin/sessions/{**rest}", ServiceNames.Token),
        (Api + "/admin/scopes/{**rest}", ServiceNames.Token),
        (Api + "/admin/signing-keys/{**rest}", ServiceNames.Token),
        (Api + "/admin/tokens/{**rest}", ServiceNames.Token),
        (Api + "/admin/users/{userId}/sessions/{**rest}", ServiceNames.Token),
        (Api + "/admin/users/{userId}/trusted-devices/{**rest}", ServiceNames.Token),
        (Api + "/admin/users/{userId}/tokens", ServiceNames.Token),
        (Api + "/admin/users/{userId}/consents/{**rest}", ServiceNames.Token),
        (Api + "/admin/localization/pages", ServiceNames.Token),
        ("/t/{tenantSlug}/login/{**rest}", ServiceNames.Token),
        ("/t/{tenantSlug}/logout/{**rest}", ServiceNames.Token),
        ("/t/{tenantSlug}/consent/{**rest}", ServiceNames.Token),
        ("/t/{tenantSlug}/device/{**rest}", ServiceNames.Token),
        ("/t/{tenantSlug}/ciba/{**rest}", ServiceNames.Token),
        ("/t/{tenantSlug}/aauth/{**rest}", ServiceNames.Token),
        ("/t/{tenantSlug}/register/{**rest}", ServiceNames.Token),
        ("/t/{tenantSlug}/forgot-password/{**rest}", ServiceNames.Token),
        ("/t/{tenantSlug}/account/{**rest}", ServiceNames.Token),
        ("/t/{tenantSlug}/magic-link/{**rest}", ServiceNames.Token),
        ("/t/{tenantSlug}/check-email", ServiceNames.Token),
        ("/t/{tenantSlug}/language", ServiceNames.Token),
        ("/t/{tenantSlug}/webauthn/{**rest}", ServiceNames.Token),

        // authorization: Zanzibar, RBAC, ABAC, AuthZEN and their admin resources
        (Api + "/zanzibar/{**rest}", ServiceNames.Authorization),
        (Api + "/authz/{**rest}", ServiceNames.Authorization),
        (Api + "/abac/{**rest}", ServiceNames.Authorization),
        (Api + "/permissions/{**rest}", ServiceNames.Authorization),
        (Api + "/access/v1/{**rest}", ServiceNames.Authorization),
        (Api + "/.well-known/authzen-configuration", ServiceNames.Authorization),
        (Api + "/admin/roles/{**rest}", ServiceNames.Authorization),
        (Api + "/admin/permissions/{**rest}", ServiceNames.Authorization),
        (Api + "/admin/abac/{**rest}", ServiceNames.Authorization),
        (Api + "/admin/users/{userId}/roles", ServiceNames.Authorization),
        (Api + "/admin/groups/{groupId}/roles", ServiceNames.Authorization),
        (Api + "/roles/{**rest}", ServiceNames.Authorization),
        (Api + "/users/{userId}/roles", ServiceNames.Authorization),
        (Api + "/groups/{groupId}/roles", ServiceNames.Authorization),

        // agents: registry, JIT, AAuth, MCP, Ask
        (Api + "/agents/{**rest}", ServiceNames.Agents),
        (Api + "/jit/{**rest}", ServiceNames.Agents),
        (Api + "/aauth/{**rest}", ServiceNames.Agents),
        (Api + "/mcp/{**rest}", ServiceNames.Agents),
        (Api + "/.well-known/oauth-protected-resource/{**rest}", ServiceNames.Agents),
        (Api + "/.well-known/aauth-agent", ServiceNames.Agents),
        (Api + "/.well-known/aauth-resource", ServiceNames.Agents),
        (Api + "/admin/agents/{**rest}", ServiceNames.Agents),
        (Api + "/admin/mcp-servers/{**rest}", ServiceNames.Agents),
        (Api + "/admin/aauth/{**rest}", ServiceNames.Agents),
        (Api + "/.well-known/aauth-issuer", ServiceNames.Agents),
        ("/t/{tenantSlug}/.well-known/aauth-issuer", ServiceNames.Agents),

        // federation: SAML, social and external IdPs
        ("/t/{tenantSlug}/saml/{**rest}", ServiceNames.Federation),
        (Api + "/saml/{**rest}", ServiceNames.Federation),
        ("/t/{tenantSlug}/auth/social/{**rest}", ServiceNames.Federation),
        (Api + "/admin/social-providers/{**rest}", ServiceNames.Federation),
        (Api + "/admin/identity-providers/{**rest}", ServiceNames.Federation),
        (Api + "/admin/ldap-providers/{**rest}", ServiceNames.Federation),
        (Api + "/admin/saml-apps/{**rest}", ServiceNames.Federation),
        (Api + "/admin/saml-keys/{**rest}", ServiceNames.Federation),

        // admin: the platform API, the rest of the Tenant Admin API, SCIM
        ("/api/v1/tenants/{**rest}", ServiceNames.Admin),
        (Api + "/admin/{**rest}", ServiceNames.Admin),
        (Api + "/invitations/{**rest}", ServiceNames.Admin),
        (Api + "/gdpr/{**rest}", ServiceNames.Admin),
        (Api + "/custom-domains/{**rest}", ServiceNames.Admin),
        (Api + "/groups/{**rest}", ServiceNames.Admin),
        (Api + "/scim/v2/{**rest}", ServiceNames.Admin),
        (Api + "/scim2.0/{**rest}", ServiceNames.Admin),
    ];

    /// <remarks>
    /// Services read the caller's address and scheme from X-Forwarded-For/-Proto (ServiceDefaults) and take their
    /// public host and path from configuration, so the gateway sets those two and drops X-Forwarded-Host/-Prefix,
    /// whatever the caller sent: two headers fewer to write and parse on every forwarded request.
    /// </remarks>
    public static IReadOnlyList<RouteConfig> Routes() =>
        Table.Select((route, index) => new RouteConfig
        {
            RouteId = $"{route.Service}-{index}",
            ClusterId = route.Service,
            Match = new RouteMatch { Path = route.Path },
        }.WithTransformXForwarded(
            xDefault: ForwardedTransformActions.Set,
            xHost: ForwardedTransformActions.Remove,
            xPrefix: ForwardedTransformActions.Remove)).ToList();

    /// <summary>
    /// One cluster per service. A service whose h2c endpoint service discovery knows (<c>services:{name}:h2c:0</c>, see
    /// <see cref="Http2Port"/>) is spoken to over HTTP/2 there; any other over HTTP/1.1 at its <c>http</c> endpoint.
    /// </summary>
    public static IReadOnlyList<ClusterConfig> Clusters(IConfiguration configuration) =>
        Table.Select(r => r.Service).Distinct().Select(service =>
        {
            var http2 = configuration.GetSection($"services:{service}:{Http2Port.EndpointName}").Exists();
            return new ClusterConfig
            {
                ClusterId = service,
                Destinations = new Dictionary<string, DestinationConfig>
                {
                    // Resolved by Aspire service discovery: "_h2c.token" is token's endpoint named h2c. The Host header
                    // names the service either way (the resolver would otherwise send the discovery name).
                    ["default"] = new() { Address = http2 ? $"http://_{Http2Port.EndpointName}.{service}" : $"http://{service}", Host = service },
                },
                HttpRequest = new ForwarderRequestConfig
                {
                    ActivityTimeout = TimeSpan.FromSeconds(100),
                    // Without TLS HTTP/2 cannot be negotiated, only required (prior knowledge).
                    Version = http2 ? HttpVersion.Version20 : HttpVersion.Version11,
                    VersionPolicy = http2 ? HttpVersionPolicy.RequestVersionExact : HttpVersionPolicy.RequestVersionOrLower,
                },
            };
        }).ToList();
}
