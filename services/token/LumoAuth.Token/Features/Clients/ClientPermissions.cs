using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Clients;

/// <summary>How the Admin API's grant types and scopes map to OpenIddict permissions, both ways.</summary>
public static class ClientPermissions
{
    public static readonly IReadOnlySet<string> SupportedGrantTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        GrantTypes.AuthorizationCode, GrantTypes.ClientCredentials, GrantTypes.RefreshToken,
    };

    public static HashSet<string> For(IEnumerable<string> grantTypes, IEnumerable<string> scopes)
    {
        // Every client may introspect and revoke its own tokens (RFC 7662/7009 are client-authenticated).
        var permissions = new HashSet<string>(StringComparer.Ordinal)
        {
            Permissions.Endpoints.Token, Permissions.Endpoints.Introspection, Permissions.Endpoints.Revocation,
        };
        foreach (var grantType in grantTypes)
        {
            permissions.Add(Permissions.Prefixes.GrantType + grantType);
            if (grantType == GrantTypes.AuthorizationCode)
            {
                permissions.Add(Permissions.Endpoints.Authorization);
                permissions.Add(Permissions.Endpoints.EndSession);
                permissions.Add(Permissions.ResponseTypes.Code);
            }
        }

        foreach (var scope in scopes)
        {
            permissions.Add(Permissions.Prefixes.Scope + scope);
        }

        return permissions;
    }

    public static IReadOnlyList<string> GrantTypesOf(IEnumerable<string> permissions) => Strip(permissions, Permissions.Prefixes.GrantType);

    public static HashSet<string> ScopesOf(IEnumerable<string> permissions) =>
        Strip(permissions, Permissions.Prefixes.Scope).ToHashSet(StringComparer.Ordinal);

    private static List<string> Strip(IEnumerable<string> permissions, string prefix) =>
        permissions.Where(p => p.StartsWith(prefix, StringComparison.Ordinal)).Select(p => p[prefix.Length..]).ToList();
}
