using LumoAuth.Token.Features.Ciba;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Clients;

/// <summary>How the Admin API's grant types and scopes map to OpenIddict permissions, both ways.</summary>
public static class ClientPermissions
{
    public static readonly IReadOnlySet<string> SupportedGrantTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        GrantTypes.AuthorizationCode, GrantTypes.ClientCredentials, GrantTypes.RefreshToken, GrantTypes.Implicit, GrantTypes.DeviceCode,
        GrantTypes.TokenExchange, CibaDelivery.GrantType,
    };

    public static HashSet<string> For(IEnumerable<string> grantTypes, IEnumerable<string> scopes)
    {
        // Every client may introspect and revoke its own tokens (RFC 7662/7009 are client-authenticated).
        var permissions = new HashSet<string>(StringComparer.Ordinal)
        {
            Permissions.Endpoints.Token, Permissions.Endpoints.Introspection, Permissions.Endpoints.Revocation,
        };
        var list = grantTypes.ToList();
        foreach (var grantType in list)
        {
            permissions.Add(Permissions.Prefixes.GrantType + grantType);
        }

        // Response types follow the grant types (inventory C-07): code (and none, a session check) with the code
        // grant; the implicit ones only when the client opted into the implicit grant; hybrid ones with both.
        var code = list.Contains(GrantTypes.AuthorizationCode);
        var @implicit = list.Contains(GrantTypes.Implicit);
        if (code || @implicit)
        {
            // Pushed authorization requests (RFC 9126) start the same flows from the back channel.
            permissions.UnionWith([Permissions.Endpoints.Authorization, Permissions.Endpoints.PushedAuthorization, Permissions.Endpoints.EndSession]);
        }

        if (code)
        {
            permissions.UnionWith([Permissions.ResponseTypes.Code, Permissions.ResponseTypes.None]);
        }

        if (@implicit)
        {
            permissions.UnionWith([Permissions.ResponseTypes.IdToken, Permissions.ResponseTypes.IdTokenToken, Permissions.ResponseTypes.Token]);
        }

        if (code && @implicit)
        {
            permissions.UnionWith([Permissions.ResponseTypes.CodeIdToken, Permissions.ResponseTypes.CodeIdTokenToken, Permissions.ResponseTypes.CodeToken]);
        }

        // RFC 8628: the device asks at the device authorization endpoint, then polls the token endpoint.
        if (list.Contains(GrantTypes.DeviceCode))
        {
            permissions.Add(Permissions.Endpoints.DeviceAuthorization);
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
