using System.Globalization;
using System.Text.Json;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Ciba;
using LumoAuth.Token.Protocol;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Clients;

/// <summary>Between a stored OpenIddict application and the Admin API's view of a client.</summary>
public static class ClientMapping
{
    public static ClientSettings Read(TokenApplication row)
    {
        var permissions = ReadList(row.Permissions);
        var settings = string.IsNullOrEmpty(row.Settings) ? [] : JsonSerializer.Deserialize<Dictionary<string, string>>(row.Settings) ?? [];
        return new ClientSettings(
            row.DisplayName ?? string.Empty,
            row.Description,
            row.Kind,
            row.ClientType == ClientTypes.Confidential,
            ClientPermissions.GrantTypesOf(permissions),
            ClientPermissions.ScopesOf(permissions).Order(StringComparer.Ordinal).ToList(),
            ReadList(row.RedirectUris),
            ReadList(row.PostLogoutRedirectUris),
            ReadList(row.AllowedOrigins),
            ReadList(row.Requirements).Contains(Requirements.Features.ProofKeyForCodeExchange),
            row.IsActive,
            Seconds(settings, Settings.TokenLifetimes.AccessToken, ClientValidation.DefaultAccessTokenLifetime),
            Seconds(settings, Settings.TokenLifetimes.RefreshToken, ClientValidation.DefaultRefreshTokenLifetime),
            string.IsNullOrEmpty(row.JsonWebKeySet) ? null : row.JsonWebKeySet,
            ReadProperty(row.Properties, BackchannelLogoutUriProperty),
            ReadProperty(row.Properties, FrontchannelLogoutUriProperty),
            ReadList(row.Requirements).Contains(Requirements.Features.PushedAuthorizationRequests),
            ReadList(row.Requirements).Contains(DPoPBinding.RequirementFeature),
            ReadProperty(row.Properties, FapiProfiles.Property) ?? FapiProfiles.Disabled,
            ReadListProperty(row.Properties, AudienceMatchings.UrisProperty),
            ReadProperty(row.Properties, AudienceMatchings.ModeProperty) ?? AudienceMatchings.Exact,
            ReadProperty(row.Properties, CibaDelivery.ModeProperty),
            ReadProperty(row.Properties, CibaDelivery.NotificationEndpointProperty),
            ReadProperty(row.Properties, TlsClientAuth.SubjectDnProperty),
            ReadListProperty(row.Properties, TlsClientAuth.AuthoritiesProperty) is { Count: > 0 } authorities ? authorities : null,
            ReadList(row.Requirements).Contains(SignedRequestObjects.RequirementFeature),
            ReadLinks(row.Properties),
            ReadProperty(row.Properties, ClientAuthMethods.Property),
            ReadResponseProtection(row.Properties),
            ReadProperty(row.Properties, SectorIdentifierProperty),
            ReadProperty(row.Properties, JwksUriProperty),
            ReadProperty(row.Properties, SectorIdentifierUriProperty),
            ReadListProperty(row.Properties, AuthorizationDetailsTypesProperty) is { Count: > 0 } types ? types : null,
            ReadListProperty(row.Properties, RequestUrisProperty) is { Count: > 0 } requestUris ? requestUris : null);
    }

    private static ClientResponseProtection? ReadResponseProtection(string? properties)
    {
        ResponseEncryption.Choice? Encryption(string algProperty, string encProperty) =>
            ReadProperty(properties, algProperty) is { } alg
                ? new ResponseEncryption.Choice(alg, ReadProperty(properties, encProperty) ?? ResponseEncryption.DefaultContentAlgorithm)
                : null;

        var protection = new ClientResponseProtection(
            ReadProperty(properties, UserinfoSignedResponseAlgProperty),
            Encryption(IdTokenEncryptedResponseAlgProperty, IdTokenEncryptedResponseEncProperty),
            Encryption(UserinfoEncryptedResponseAlgProperty, UserinfoEncryptedResponseEncProperty),
            Encryption(AuthorizationEncryptedResponseAlgProperty, AuthorizationEncryptedResponseEncProperty),
            Encryption(IntrospectionEncryptedResponseAlgProperty, IntrospectionEncryptedResponseEncProperty),
            ReadProperty(properties, IdTokenSignedResponseAlgProperty));
        return protection.IsEmpty ? null : protection;
    }

    private static ClientLinks? ReadLinks(string? properties)
    {
        var links = new ClientLinks(
            ReadProperty(properties, ClientUriProperty), ReadProperty(properties, LogoUriProperty),
            ReadProperty(properties, PolicyUriProperty), ReadProperty(properties, TosUriProperty));
        return links.IsEmpty ? null : links;
    }

    /// <summary>Writes the settings into the descriptor (OpenIddict's fields) and the row (ours).</summary>
    public static void Apply(ClientSettings client, OpenIddictApplicationDescriptor descriptor, TokenApplication row)
    {
        descriptor.DisplayName = client.Name;
        descriptor.ClientType = client.IsConfidential ? ClientTypes.Confidential : ClientTypes.Public;
        descriptor.ApplicationType = client.Kind == ClientKinds.Native ? ApplicationTypes.Native : ApplicationTypes.Web;
        descriptor.ConsentType = ConsentTypes.Explicit;
        descriptor.Permissions.Clear();
        descriptor.Permissions.UnionWith(ClientPermissions.For(client.GrantTypes, client.Scopes));
        descriptor.RedirectUris.Clear();
        descriptor.RedirectUris.UnionWith(client.RedirectUris.Select(u => new Uri(u, UriKind.Absolute)));
        descriptor.PostLogoutRedirectUris.Clear();
        descriptor.PostLogoutRedirectUris.UnionWith(client.PostLogoutRedirectUris.Select(u => new Uri(u, UriKind.Absolute)));
        descriptor.Requirements.Remove(Requirements.Features.ProofKeyForCodeExchange);
        if (client.RequiresPkce)
        {
            descriptor.Requirements.Add(Requirements.Features.ProofKeyForCodeExchange);
        }

        descriptor.Requirements.Remove(Requirements.Features.PushedAuthorizationRequests);
        if (client.RequiresPushedAuthorization)
        {
            descriptor.Requirements.Add(Requirements.Features.PushedAuthorizationRequests);
        }

        descriptor.Requirements.Remove(DPoPBinding.RequirementFeature);
        if (client.DpopBoundAccessTokens)
        {
            descriptor.Requirements.Add(DPoPBinding.RequirementFeature);
        }

        descriptor.Requirements.Remove(SignedRequestObjects.RequirementFeature);
        if (client.RequireSignedRequestObject)
        {
            descriptor.Requirements.Add(SignedRequestObjects.RequirementFeature);
        }

        // OpenIddict applies per-client lifetimes from these settings when it issues tokens.
        descriptor.Settings[Settings.TokenLifetimes.AccessToken] = TimeSpan.FromSeconds(client.AccessTokenLifetime).ToString("c", CultureInfo.InvariantCulture);
        descriptor.Settings[Settings.TokenLifetimes.RefreshToken] = TimeSpan.FromSeconds(client.RefreshTokenLifetime).ToString("c", CultureInfo.InvariantCulture);

        descriptor.JsonWebKeySet = client.Jwks is null ? null : new Microsoft.IdentityModel.Tokens.JsonWebKeySet(client.Jwks);
        SetProperty(descriptor, JwksUriProperty, client.JwksUri);
        SetProperty(descriptor, BackchannelLogoutUriProperty, client.BackchannelLogoutUri);
        SetProperty(descriptor, FrontchannelLogoutUriProperty, client.FrontchannelLogoutUri);
        SetListProperty(descriptor, AudienceMatchings.UrisProperty, client.AudienceUris);
        SetProperty(descriptor, AudienceMatchings.ModeProperty, client.AudienceMatching == AudienceMatchings.Exact ? null : client.AudienceMatching);
        SetProperty(descriptor, CibaDelivery.ModeProperty, client.BackchannelTokenDeliveryMode);
        SetProperty(descriptor, CibaDelivery.NotificationEndpointProperty, client.BackchannelClientNotificationEndpoint);
        SetProperty(descriptor, TlsClientAuth.SubjectDnProperty, client.TlsClientAuthSubjectDn);
        SetListProperty(descriptor, TlsClientAuth.AuthoritiesProperty, client.TlsClientCertificateAuthorities);
        SetProperty(descriptor, ClientUriProperty, client.Links?.ClientUri);
        SetProperty(descriptor, LogoUriProperty, client.Links?.LogoUri);
        SetProperty(descriptor, PolicyUriProperty, client.Links?.PolicyUri);
        SetProperty(descriptor, TosUriProperty, client.Links?.TosUri);
        SetProperty(descriptor, ClientAuthMethods.Property, client.TokenEndpointAuthMethod);
        var protection = client.ResponseProtection;
        SetProperty(descriptor, UserinfoSignedResponseAlgProperty, protection?.UserinfoSigningAlg);
        SetProperty(descriptor, IdTokenSignedResponseAlgProperty, protection?.IdTokenSigningAlg);
        SetProperty(descriptor, SectorIdentifierProperty, client.PairwiseSector);
        SetProperty(descriptor, SectorIdentifierUriProperty, client.SectorIdentifierUri);
        SetListProperty(descriptor, AuthorizationDetailsTypesProperty, client.AuthorizationDetailsTypes);
        SetListProperty(descriptor, RequestUrisProperty, client.RequestUris);
        SetProperty(descriptor, IdTokenEncryptedResponseAlgProperty, protection?.IdTokenEncryption?.Alg);
        SetProperty(descriptor, IdTokenEncryptedResponseEncProperty, protection?.IdTokenEncryption?.Enc);
        SetProperty(descriptor, UserinfoEncryptedResponseAlgProperty, protection?.UserinfoEncryption?.Alg);
        SetProperty(descriptor, UserinfoEncryptedResponseEncProperty, protection?.UserinfoEncryption?.Enc);
        SetProperty(descriptor, AuthorizationEncryptedResponseAlgProperty, protection?.AuthorizationEncryption?.Alg);
        SetProperty(descriptor, AuthorizationEncryptedResponseEncProperty, protection?.AuthorizationEncryption?.Enc);
        SetProperty(descriptor, IntrospectionEncryptedResponseAlgProperty, protection?.IntrospectionEncryption?.Alg);
        SetProperty(descriptor, IntrospectionEncryptedResponseEncProperty, protection?.IntrospectionEncryption?.Enc);
        var fapi = client.FapiProfile != FapiProfiles.Disabled;
        SetProperty(descriptor, FapiProfiles.Property, fapi ? client.FapiProfile : null);
        if (fapi)
        {
            descriptor.Settings[Settings.TokenLifetimes.AuthorizationCode] = FapiProfiles.AuthorizationCodeLifetime.ToString("c", CultureInfo.InvariantCulture);
        }
        else
        {
            descriptor.Settings.Remove(Settings.TokenLifetimes.AuthorizationCode);
        }

        row.Description = client.Description;
        row.Kind = client.Kind;
        row.IsActive = client.IsActive;
        row.AllowedOrigins = client.AllowedOrigins.Count == 0 ? null : JsonSerializer.Serialize(client.AllowedOrigins);
    }

    /// <summary>The hash of a dynamic registration's access token (RFC 7592), when the client has one.</summary>
    public static string? RegistrationTokenHashOf(TokenApplication row) => ReadProperty(row.Properties, DynamicRegistrationEndpoints.RegistrationTokenProperty);

    public static ClientResponse ToResponse(TokenApplication row)
    {
        var c = Read(row);
        return new ClientResponse(
            row.Id, row.ClientId ?? string.Empty, c.Name, c.Description, c.Kind, c.IsConfidential, c.GrantTypes, c.Scopes,
            c.RedirectUris, c.PostLogoutRedirectUris, c.AllowedOrigins, c.RequiresPkce, c.IsActive,
            c.AccessTokenLifetime, c.RefreshTokenLifetime, Element(c.Jwks), c.JwksUri, c.BackchannelLogoutUri, c.FrontchannelLogoutUri, c.RequiresPushedAuthorization, c.DpopBoundAccessTokens, c.FapiProfile,
            c.AudienceUris ?? [], c.AudienceMatching, c.BackchannelTokenDeliveryMode, c.BackchannelClientNotificationEndpoint, row.CreatedAt, row.UpdatedAt,
            c.TlsClientAuthSubjectDn, c.TlsClientCertificateAuthorities ?? [], c.RequireSignedRequestObject,
            c.Links?.ClientUri, c.Links?.LogoUri, c.Links?.PolicyUri, c.Links?.TosUri, c.TokenEndpointAuthMethod,
            c.ResponseProtection?.UserinfoSigningAlg, c.ResponseProtection?.IdTokenEncryption?.Alg, c.ResponseProtection?.IdTokenEncryption?.Enc,
            c.ResponseProtection?.UserinfoEncryption?.Alg, c.ResponseProtection?.UserinfoEncryption?.Enc,
            c.ResponseProtection?.AuthorizationEncryption?.Alg, c.ResponseProtection?.AuthorizationEncryption?.Enc,
            c.ResponseProtection?.IntrospectionEncryption?.Alg, c.ResponseProtection?.IntrospectionEncryption?.Enc,
            c.ResponseProtection?.IdTokenSigningAlg,
            c.PairwiseSector is null ? PairwiseSubjects.Public : PairwiseSubjects.PairwiseType, c.PairwiseSector, c.SectorIdentifierUri, c.AuthorizationDetailsTypes ?? [], c.RequestUris ?? []);
    }

    public static CreatedClientResponse ToCreatedResponse(TokenApplication row, string? secret)
    {
        var c = Read(row);
        return new CreatedClientResponse(
            row.Id, row.ClientId ?? string.Empty, secret, c.Name, c.Description, c.Kind, c.IsConfidential, c.GrantTypes, c.Scopes,
            c.RedirectUris, c.PostLogoutRedirectUris, c.AllowedOrigins, c.RequiresPkce, c.IsActive,
            c.AccessTokenLifetime, c.RefreshTokenLifetime, Element(c.Jwks), c.JwksUri, c.BackchannelLogoutUri, c.FrontchannelLogoutUri, c.RequiresPushedAuthorization, c.DpopBoundAccessTokens, c.FapiProfile,
            c.AudienceUris ?? [], c.AudienceMatching, c.BackchannelTokenDeliveryMode, c.BackchannelClientNotificationEndpoint, row.CreatedAt,
            c.TlsClientAuthSubjectDn, c.TlsClientCertificateAuthorities ?? [], c.RequireSignedRequestObject,
            c.Links?.ClientUri, c.Links?.LogoUri, c.Links?.PolicyUri, c.Links?.TosUri, c.TokenEndpointAuthMethod,
            c.ResponseProtection?.UserinfoSigningAlg, c.ResponseProtection?.IdTokenEncryption?.Alg, c.ResponseProtection?.IdTokenEncryption?.Enc,
            c.ResponseProtection?.UserinfoEncryption?.Alg, c.ResponseProtection?.UserinfoEncryption?.Enc,
            c.ResponseProtection?.AuthorizationEncryption?.Alg, c.ResponseProtection?.AuthorizationEncryption?.Enc,
            c.ResponseProtection?.IntrospectionEncryption?.Alg, c.ResponseProtection?.IntrospectionEncryption?.Enc,
            c.ResponseProtection?.IdTokenSigningAlg,
            c.PairwiseSector is null ? PairwiseSubjects.Public : PairwiseSubjects.PairwiseType, c.PairwiseSector, c.SectorIdentifierUri, c.AuthorizationDetailsTypes ?? [], c.RequestUris ?? []);
    }

    // How ID tokens, userinfo, authorization and introspection answers reach the client (OIDC Registration, JARM, RFC 9701 names).
    private const string UserinfoSignedResponseAlgProperty = "userinfo_signed_response_alg";
    private const string IdTokenSignedResponseAlgProperty = "id_token_signed_response_alg";

    // Where a client publishes its keys (RFC 7591 §2), instead of registering them in jwks.
    private const string JwksUriProperty = "jwks_uri";

    // A pairwise client's sector (OIDC Core §8.1); absent for public subjects.
    private const string SectorIdentifierProperty = "sector_identifier";

    // The document listing a pairwise client's redirect URIs, whose host is its sector (OIDC Core §8.1).
    private const string SectorIdentifierUriProperty = "sector_identifier_uri";

    /// <summary>The RFC 9396 authorization details types the client may ask for (§10), which discovery also lists.</summary>
    public const string AuthorizationDetailsTypesProperty = "authorization_details_types";

    // Where the client publishes request objects for request_uri (OIDC Registration's request_uris).
    private const string RequestUrisProperty = "request_uris";
    private const string IdTokenEncryptedResponseAlgProperty = "id_token_encrypted_response_alg";
    private const string IdTokenEncryptedResponseEncProperty = "id_token_encrypted_response_enc";
    private const string UserinfoEncryptedResponseAlgProperty = "userinfo_encrypted_response_alg";
    private const string UserinfoEncryptedResponseEncProperty = "userinfo_encrypted_response_enc";
    private const string AuthorizationEncryptedResponseAlgProperty = "authorization_encrypted_response_alg";
    private const string AuthorizationEncryptedResponseEncProperty = "authorization_encrypted_response_enc";
    private const string IntrospectionEncryptedResponseAlgProperty = "introspection_encrypted_response_alg";
    private const string IntrospectionEncryptedResponseEncProperty = "introspection_encrypted_response_enc";

    // The client's links (RFC 7591 §2 names), shown on the consent page.
    private const string ClientUriProperty = "client_uri";
    private const string LogoUriProperty = "logo_uri";
    private const string PolicyUriProperty = "policy_uri";
    private const string TosUriProperty = "tos_uri";

    /// <summary>Where back-channel logout tokens for this client are posted (OIDC Back-Channel Logout 1.0).</summary>
    public const string BackchannelLogoutUriProperty = "backchannel_logout_uri";

    /// <summary>The page our logout page loads in an iframe for this client (OIDC Front-Channel Logout 1.0).</summary>
    public const string FrontchannelLogoutUriProperty = "frontchannel_logout_uri";

    private static void SetProperty(OpenIddictApplicationDescriptor descriptor, string name, string? value)
    {
        if (value is null)
        {
            descriptor.Properties.Remove(name);
        }
        else
        {
            descriptor.Properties[name] = JsonSerializer.SerializeToElement(value);
        }
    }

    private static void SetListProperty(OpenIddictApplicationDescriptor descriptor, string name, IReadOnlyList<string>? values)
    {
        if (values is null or { Count: 0 })
        {
            descriptor.Properties.Remove(name);
        }
        else
        {
            descriptor.Properties[name] = JsonSerializer.SerializeToElement(values);
        }
    }

    private static List<string> ReadListProperty(string? json, string name) =>
        !string.IsNullOrEmpty(json) && JsonDocument.Parse(json).RootElement is { ValueKind: JsonValueKind.Object } root
            && root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray().Where(v => v.ValueKind == JsonValueKind.String).Select(v => v.GetString()!).ToList()
            : [];

    private static JsonElement? Element(string? json) => json is null ? null : JsonDocument.Parse(json).RootElement.Clone();

    private static string? ReadProperty(string? json, string name) =>
        !string.IsNullOrEmpty(json) && JsonDocument.Parse(json).RootElement is { ValueKind: JsonValueKind.Object } root
            && root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private static int Seconds(Dictionary<string, string> settings, string key, int fallback) =>
        settings.TryGetValue(key, out var value) && TimeSpan.TryParse(value, CultureInfo.InvariantCulture, out var span)
            ? (int)span.TotalSeconds
            : fallback;

    /// <summary>A JSON array column (redirect URIs, origins, permissions) as a list; empty when unset.</summary>
    public static List<string> ReadList(string? json) =>
        string.IsNullOrEmpty(json) ? [] : JsonSerializer.Deserialize<List<string>>(json) ?? [];
}
