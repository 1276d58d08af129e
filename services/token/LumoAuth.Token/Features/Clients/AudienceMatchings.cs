namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// The resources (RFC 8707) a client may ask tokens for: its registered audience URIs, matched exactly (the default)
/// or as a path prefix (a registered <c>https://api.example.com</c> also admits <c>https://api.example.com/v2</c>, never
/// <c>https://api.example.com.evil.com</c>). The tenant's own API (its issuer) is every client's resource.
/// </summary>
public static class AudienceMatchings
{
    public const string Exact = "exact";
    public const string Prefix = "prefix";

    /// <summary>Where the URIs and the mode are kept among the application's properties.</summary>
    public const string UrisProperty = "audience_uris";
    public const string ModeProperty = "audience_matching";

    /// <summary>
    /// RFC 8707 §2: an absolute URI without fragment; we take http(s) only. No whitespace (RFC 3986 has none; .NET's parser
    /// would take it, and a remembered consent keeps resources beside space-separated scopes).
    /// </summary>
    public static bool IsResourceUri(string value) =>
        !value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))
        && Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && uri.Scheme is "https" or "http"
        && string.IsNullOrEmpty(uri.Fragment) && !value.Contains('#')
        && string.IsNullOrEmpty(uri.UserInfo);

    /// <param name="tenantIssuers">The tenant's own API under each of its hosts (always admitted).</param>
    public static bool Admits(ClientSettings client, string resource, IReadOnlyList<string> tenantIssuers)
    {
        if (tenantIssuers.Contains(resource, StringComparer.Ordinal))
        {
            return true;
        }

        foreach (var registered in client.AudienceUris ?? [])
        {
            if (string.Equals(registered, resource, StringComparison.Ordinal)
                || (client.AudienceMatching == Prefix && UnderPath(registered, resource)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Same scheme, host and port, and the path continues the registered one at a segment boundary.</summary>
    private static bool UnderPath(string registered, string resource)
    {
        if (!Uri.TryCreate(registered, UriKind.Absolute, out var parent) || !Uri.TryCreate(resource, UriKind.Absolute, out var child)
            || !string.Equals(parent.GetLeftPart(UriPartial.Authority), child.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase)
            || !string.IsNullOrEmpty(child.Query))
        {
            return false;
        }

        var parentPath = parent.AbsolutePath.TrimEnd('/');
        var childPath = child.AbsolutePath;
        return childPath.Length == parentPath.Length
            ? string.Equals(childPath, parentPath, StringComparison.Ordinal)
            : childPath.StartsWith(parentPath + "/", StringComparison.Ordinal);
    }
}
