using System.Net;
using System.Text.RegularExpressions;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Tenancy;

namespace LumoAuth.Token.Features.Branding;

/// <summary>
/// Branding as the hosted pages may use it: every value checked again here, whatever admin accepted (older rows,
/// direct writes). The name is text (encoded when rendered), the colour only a hex colour, the logo only an https
/// URL (http on loopback in development) whose origin goes into the page's <c>img-src</c>.
/// </summary>
public sealed partial record PageBranding(string? DisplayName, string? PrimaryColor, Uri? Logo)
{
    public static readonly PageBranding None = new(null, null, null);

    /// <summary>The CSP source of the logo (scheme, host, port), or null without a logo.</summary>
    public string? LogoOrigin => Logo is null ? null : OriginOf(Logo);

    /// <summary>An image's origin as a CSP source.</summary>
    // Host keeps an IPv6 literal's brackets; IdnHost gives a name in the ASCII (punycode) form CSP needs.
    public static string OriginOf(Uri image) =>
        $"{image.Scheme}://{(image.Host.StartsWith('[') ? image.Host : image.IdnHost)}{(image.IsDefaultPort ? string.Empty : ":" + image.Port)}";

    public static PageBranding From(HostedPageSettings? settings, string? tenantName, bool development)
    {
        var name = string.IsNullOrWhiteSpace(settings?.DisplayName) ? tenantName : settings.DisplayName.Trim();
        var colour = settings?.PrimaryColor is { } c && HexColour().IsMatch(c) ? c : null;
        return new PageBranding(name, colour, SafeLogo(settings?.LogoUrl, development));
    }

    /// <summary>The branding of the request's tenant; unbranded (tenant name only) when admin cannot be asked.</summary>
    public static async Task<PageBranding> ForRequestAsync(HttpContext http)
    {
        var tenant = http.RequestServices.GetRequiredService<TenantContext>();
        if (!tenant.HasTenant)
        {
            return None;
        }

        var settings = await http.RequestServices.GetRequiredService<HostedPageSettingsCache>().GetAsync(tenant.TenantId, http.RequestAborted);
        var development = http.RequestServices.GetRequiredService<IHostEnvironment>().IsDevelopment();
        return From(settings, tenant.Tenant?.Name, development);
    }

    private static Uri? SafeLogo(string? value, bool development)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > 2048
            || !Uri.TryCreate(value, UriKind.Absolute, out var uri)
            || !string.IsNullOrEmpty(uri.UserInfo)
            || uri.HostNameType is UriHostNameType.Unknown)
        {
            return null;
        }

        var loopback = uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
        return uri.Scheme == Uri.UriSchemeHttps || (development && uri.Scheme == Uri.UriSchemeHttp && loopback) ? uri : null;
    }

    [GeneratedRegex("^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")]
    private static partial Regex HexColour();
}
