using System.ComponentModel.DataAnnotations;
using LumoAuth.Contracts.Internal;

namespace LumoAuth.ServiceDefaults;

/// <summary>Deployment-wide settings every service reads (section <c>LumoAuth</c>).</summary>
public sealed class LumoAuthOptions
{
    public const string SectionName = "LumoAuth";

    /// <summary>The public origin clients use (the gateway), e.g. <c>https://auth.example.com</c>. Issuers derive from it.</summary>
    [Required, Url]
    public string PublicBaseUrl { get; set; } = "http://127.0.0.1:8080";

    public const int MinInternalKeyLength = 32;

    /// <summary>Shared secret for <c>/internal/v1/**</c> calls between services (required by the services, not the gateway).</summary>
    public string InternalKey { get; set; } = string.Empty;

    /// <summary>
    /// Shared secret the gateway presents for the one internal call it makes (admin's custom-domain map), good for nothing
    /// else: the process facing the internet never holds the internal key.
    /// </summary>
    public string GatewayKey { get; set; } = string.Empty;

    /// <summary>The region this deployment serves (<c>us</c>, <c>eu</c>).</summary>
    [Required, RegularExpression("^[a-z]{2,8}$")]
    public string Region { get; set; } = "us";

    /// <summary>Largest request body accepted, in bytes (1 MiB by default).</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// An absolute http(s) URL without query, fragment or user info (a path is allowed, for a deployment behind a prefix):
    /// what issuers, links and cookie rules are built from.
    /// </summary>
    public static bool IsOrigin(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
        && uri.Query.Length == 0 && uri.Fragment.Length == 0 && string.IsNullOrEmpty(uri.UserInfo);

    /// <summary>
    /// The tenant's issuer as seen from where a request came in: on the deployment's host
    /// <c>{PublicBaseUrl}/t/{slug}/api/v1</c> (inventory C-03); on one of its verified domains (<paramref name="domain"/>)
    /// <c>{scheme}://{domain}/api/v1</c>, the same form without the prefix the domain makes unnecessary. Each host names
    /// itself, so discovery always names the issuer its own URL belongs to (RFC 8414 §3.3, OIDC Discovery §4.3) and
    /// clients set up on one host never break when another is added, made primary or removed.
    /// </summary>
    public string IssuerFor(TenantInfo tenant, string? domain = null)
    {
        var issuers = IssuersOf(tenant);
        if (domain is not null && tenant.Domains is { } domains)
        {
            for (var i = 0; i < domains.Count; i++)
            {
                if (string.Equals(domains[i], domain, StringComparison.OrdinalIgnoreCase))
                {
                    return issuers[i + 1];
                }
            }
        }

        return issuers[0];
    }

    /// <summary>The issuer a tenant has on the deployment's own host, whatever its custom domains.</summary>
    public string PathIssuerFor(string tenantSlug) => $"{PublicBaseUrl.TrimEnd('/')}/t/{tenantSlug}/api/v1";

    /// <summary>
    /// Every issuer (and audience) the tenant's tokens may name: the path one first, then one per verified domain in the
    /// order of <see cref="TenantInfo.Domains"/>. A token stays good on every host; removing a domain ends the tokens
    /// naming it. Built once per tenant snapshot (the directory keeps one for a minute), as every bearer check asks.
    /// </summary>
    public IReadOnlyList<string> IssuersOf(TenantInfo tenant) =>
        // TryGetValue first: the hit, on every request, allocates nothing (not even the callback).
        _issuers.TryGetValue(tenant, out var issuers) ? issuers : _issuers.GetValue(tenant, BuildIssuers);

    private IReadOnlyList<string> BuildIssuers(TenantInfo tenant) =>
        [PathIssuerFor(tenant.Slug), .. (tenant.Domains ?? []).Select(domain => OriginFor(domain) + "/api/v1")];

    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<TenantInfo, IReadOnlyList<string>> _issuers = new();

    /// <summary>The deployment's own host name (of <see cref="PublicBaseUrl"/>).</summary>
    public string PublicHost => Uri.TryCreate(PublicBaseUrl, UriKind.Absolute, out var origin) ? origin.Host : string.Empty;

    /// <summary>A tenant's custom domain as an origin: the public scheme and port, that host.</summary>
    public string OriginFor(string domain)
    {
        var origin = new UriBuilder(PublicBaseUrl) { Host = domain, Path = string.Empty, Query = string.Empty, Fragment = string.Empty };
        return origin.Uri.GetLeftPart(UriPartial.Authority);
    }
}
