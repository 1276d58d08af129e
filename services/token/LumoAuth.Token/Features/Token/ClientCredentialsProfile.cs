using System.Text.Json;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Features.Scopes;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Token;

/// <summary>
/// What the token endpoint's fast path needs to know about a client, read once from its cached registration
/// instead of parsing its JSON columns on every request.
/// </summary>
public sealed record ClientCredentialsProfile(
    bool CanUseClientCredentials,
    IReadOnlySet<string> AllowedScopes,
    string[] DefaultScopes,
    int AccessTokenLifetimeSeconds)
{
    /// <summary>Scopes that change what OpenIddict issues (an ID token, a refresh token): left to the full pipeline.</summary>
    public static bool ChangesTheResponse(string scope) => scope is ScopeNames.OpenId or ScopeNames.OfflineAccess;

    public static ClientCredentialsProfile Of(TokenApplication row, ClientSettings settings)
    {
        var permissions = string.IsNullOrEmpty(row.Permissions) ? [] : JsonSerializer.Deserialize<List<string>>(row.Permissions) ?? [];
        var allowed = ClientPermissions.ScopesOf(permissions);
        var defaults = allowed.Order(StringComparer.Ordinal).ToArray();
        var eligible = row.IsActive
            && row.ClientType == ClientTypes.Confidential
            && !string.IsNullOrEmpty(row.ClientSecret)
            && permissions.Contains(Permissions.Endpoints.Token)
            && permissions.Contains(Permissions.GrantTypes.ClientCredentials)
            // A client held to DPoP or FAPI 2.0 needs its proof and key-based authentication checked: OpenIddict's pipeline does that.
            && !settings.DpopBoundAccessTokens
            && settings.FapiProfile == FapiProfiles.Disabled;
        return new ClientCredentialsProfile(eligible, allowed, defaults, settings.AccessTokenLifetime);
    }
}
