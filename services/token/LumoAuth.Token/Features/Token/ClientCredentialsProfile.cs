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
    int AccessTokenLifetimeSeconds,
    string? RequiredAuthMethod = null)
{
    /// <summary>Whether the client may authenticate with its secret sent this way (Basic header or form), as it registered.</summary>
    public bool AcceptsSecret(bool basicHeader) =>
        ClientAuthMethods.Allows(RequiredAuthMethod, ClientAuthMethods.Used(assertion: false, secret: true, basicHeader, certificate: false));

    /// <summary>
    /// Scopes about a signed-in user, for which OpenIddict would add an ID token or a refresh token: a client-credentials
    /// grant has no user and gets no refresh token (RFC 6749 §4.4.3), so it never grants them.
    /// </summary>
    public static bool IsUserOnly(string scope) => scope is ScopeNames.OpenId or ScopeNames.OfflineAccess;

    /// <summary>What a client-credentials request without <c>scope</c> is granted: every scope the client holds but the user-only ones.</summary>
    public static string[] DefaultScopesOf(IEnumerable<string> allowed) =>
        allowed.Where(s => !IsUserOnly(s)).Order(StringComparer.Ordinal).ToArray();

    /// <summary>
    /// The requested scopes if the client holds them all (in the order asked), or its default scopes (all it holds but
    /// the user-only ones) when none are asked for — as <see cref="TokenEndpoints"/> grants them. False for a scope not
    /// held, a user-only one or one named twice (the fast path leaves those to the pipeline, which refuses them).
    /// </summary>
    public bool TryGrant(string? requested, out string[] scopes)
    {
        if (requested is null)
        {
            scopes = DefaultScopes;
            return true;
        }

        scopes = requested.Split(' ');
        if (scopes.Distinct(StringComparer.Ordinal).Count() != scopes.Length)
        {
            return false;
        }

        foreach (var scope in scopes)
        {
            if (!AllowedScopes.Contains(scope) || IsUserOnly(scope))
            {
                return false;
            }
        }

        return true;
    }

    public static ClientCredentialsProfile Of(TokenApplication row, ClientSettings settings)
    {
        var permissions = string.IsNullOrEmpty(row.Permissions) ? [] : JsonSerializer.Deserialize<List<string>>(row.Permissions) ?? [];
        var allowed = ClientPermissions.ScopesOf(permissions);
        var defaults = DefaultScopesOf(allowed);
        var eligible = row.IsActive
            && row.ClientType == ClientTypes.Confidential
            && !string.IsNullOrEmpty(row.ClientSecret)
            && permissions.Contains(Permissions.Endpoints.Token)
            && permissions.Contains(Permissions.GrantTypes.ClientCredentials)
            // A client held to DPoP or FAPI 2.0 needs its proof and key-based authentication checked: OpenIddict's pipeline does that.
            && !settings.DpopBoundAccessTokens
            && settings.FapiProfile == FapiProfiles.Disabled;
        return new ClientCredentialsProfile(eligible, allowed, defaults, settings.AccessTokenLifetime, ClientAuthMethods.Required(settings));
    }
}
