using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Token.Features.Scopes;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// RFC 7591 §2 client metadata, as applications describe themselves without an administrator: in a dynamic registration
/// (<see cref="DynamicRegistrationEndpoints"/>) or in a Client ID Metadata Document (<see cref="ClientMetadataDocuments"/>).
/// Either way nobody vetted the client, so what it may get is narrower than through the Admin API: the interactive
/// grants only (never client_credentials), and only the OpenID Connect scopes and the tenant's own (never the Admin API's).
/// </summary>
public static class ClientMetadata
{
    /// <summary>The metadata; names the server does not know are ignored, as RFC 7591 §2 asks.</summary>
    public sealed record Document(
        [property: JsonPropertyName("redirect_uris")] IReadOnlyList<string>? RedirectUris,
        [property: JsonPropertyName("client_name")] string? ClientName,
        [property: JsonPropertyName("grant_types")] IReadOnlyList<string>? GrantTypes,
        [property: JsonPropertyName("response_types")] IReadOnlyList<string>? ResponseTypes,
        [property: JsonPropertyName("application_type")] string? ApplicationType,
        [property: JsonPropertyName("token_endpoint_auth_method")] string? TokenEndpointAuthMethod,
        [property: JsonPropertyName("scope")] string? Scope,
        [property: JsonPropertyName("post_logout_redirect_uris")] IReadOnlyList<string>? PostLogoutRedirectUris,
        [property: JsonPropertyName("frontchannel_logout_uri")] string? FrontchannelLogoutUri,
        [property: JsonPropertyName("backchannel_logout_uri")] string? BackchannelLogoutUri,
        [property: JsonPropertyName("dpop_bound_access_tokens")] bool? DpopBoundAccessTokens = null,
        [property: JsonPropertyName("audience_uris")] IReadOnlyList<string>? AudienceUris = null,
        [property: JsonPropertyName("client_id")] string? ClientId = null,
        [property: JsonPropertyName("client_secret")] string? ClientSecret = null,
        [property: JsonPropertyName("jwks")] JsonElement? Jwks = null,
        [property: JsonPropertyName("jwks_uri")] string? JwksUri = null,
        [property: JsonPropertyName("require_signed_request_object")] bool? RequireSignedRequestObject = null,
        [property: JsonPropertyName("client_uri")] string? ClientUri = null,
        [property: JsonPropertyName("logo_uri")] string? LogoUri = null,
        [property: JsonPropertyName("policy_uri")] string? PolicyUri = null,
        [property: JsonPropertyName("tos_uri")] string? TosUri = null,
        [property: JsonPropertyName("userinfo_signed_response_alg")] string? UserinfoSignedResponseAlg = null,
        [property: JsonPropertyName("id_token_encrypted_response_alg")] string? IdTokenEncryptedResponseAlg = null,
        [property: JsonPropertyName("id_token_encrypted_response_enc")] string? IdTokenEncryptedResponseEnc = null,
        [property: JsonPropertyName("userinfo_encrypted_response_alg")] string? UserinfoEncryptedResponseAlg = null,
        [property: JsonPropertyName("userinfo_encrypted_response_enc")] string? UserinfoEncryptedResponseEnc = null,
        [property: JsonPropertyName("authorization_encrypted_response_alg")] string? AuthorizationEncryptedResponseAlg = null,
        [property: JsonPropertyName("authorization_encrypted_response_enc")] string? AuthorizationEncryptedResponseEnc = null,
        [property: JsonPropertyName("introspection_encrypted_response_alg")] string? IntrospectionEncryptedResponseAlg = null,
        [property: JsonPropertyName("introspection_encrypted_response_enc")] string? IntrospectionEncryptedResponseEnc = null,
        [property: JsonPropertyName("id_token_signed_response_alg")] string? IdTokenSignedResponseAlg = null,
        [property: JsonPropertyName("subject_type")] string? SubjectType = null,
        [property: JsonPropertyName("sector_identifier_uri")] string? SectorIdentifierUri = null,
        [property: JsonPropertyName("authorization_details_types")] IReadOnlyList<string>? AuthorizationDetailsTypes = null,
        [property: JsonPropertyName("request_uris")] IReadOnlyList<string>? RequestUris = null);

    /// <summary>Where the metadata comes from, which decides how the client may authenticate.</summary>
    public enum Source
    {
        /// <summary>RFC 7591: the server hands out a secret; none for a public client or one that signs with its keys.</summary>
        DynamicRegistration,

        /// <summary>A Client ID Metadata Document: never a shared secret; a public client or keys in <c>jwks</c>.</summary>
        MetadataDocument,
    }

    public sealed record Translated(ClientRequest Client, string ApplicationType, IReadOnlyList<string> ResponseTypes, string AuthMethod);

    private static readonly HashSet<string> RegistrableGrantTypes = new(StringComparer.Ordinal)
    {
        GrantTypes.AuthorizationCode, GrantTypes.RefreshToken, GrantTypes.Implicit,
    };

    private static readonly HashSet<string> ResponseTypeValues = new(StringComparer.Ordinal)
    {
        "code", "token", "id_token", "none", "code id_token", "code token", "id_token token", "code id_token token",
    };

    /// <summary>The metadata as an Admin API client request, or null with the reason it cannot be accepted.</summary>
    public static Translated? Translate(Document metadata, Source source, IReadOnlyCollection<string> customScopes, out string? problem)
    {
        problem = null;
        var document = source == Source.MetadataDocument;
        var applicationType = metadata.ApplicationType ?? ApplicationTypes.Web;
        // RFC 7591's default is client_secret_basic, which a document cannot use: a document without one is a public client.
        var authMethod = metadata.TokenEndpointAuthMethod ?? (document ? ClientAuthenticationMethods.None : ClientAuthenticationMethods.ClientSecretBasic);
        var grantTypes = metadata.GrantTypes is { Count: > 0 } g ? g.Distinct(StringComparer.Ordinal).ToList() : [GrantTypes.AuthorizationCode];
        var responseTypes = metadata.ResponseTypes is { Count: > 0 } r ? r.Distinct(StringComparer.Ordinal).ToList() : ["code"];
        // No scope asked for: openid, the least an OpenID Connect client needs (RFC 7591 §2 leaves the default to us).
        var scopes = (metadata.Scope ?? ScopeNames.OpenId).Split(' ', StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToList();

        if (new[] { metadata.RedirectUris, metadata.PostLogoutRedirectUris, metadata.GrantTypes, metadata.ResponseTypes, metadata.AudienceUris }
            .Any(list => list?.Any(string.IsNullOrWhiteSpace) == true))
        {
            problem = "redirect_uris, post_logout_redirect_uris, grant_types, response_types and audience_uris must not hold null or empty entries.";
        }
        else if (applicationType is not (ApplicationTypes.Web or ApplicationTypes.Native))
        {
            problem = "application_type must be web or native.";
        }
        else if (!document && authMethod is not (ClientAuthenticationMethods.ClientSecretBasic or ClientAuthenticationMethods.ClientSecretPost
                     or ClientAuthenticationMethods.PrivateKeyJwt or ClientAuthenticationMethods.None))
        {
            problem = "token_endpoint_auth_method must be client_secret_basic, client_secret_post, private_key_jwt or none.";
        }
        else if (document && authMethod is not (ClientAuthenticationMethods.None or ClientAuthenticationMethods.PrivateKeyJwt))
        {
            problem = "token_endpoint_auth_method must be none or private_key_jwt: a metadata document cannot share a secret.";
        }
        else if (document && metadata.ClientSecret is not null)
        {
            problem = "A metadata document must not contain a client_secret.";
        }
        else if (authMethod == ClientAuthenticationMethods.PrivateKeyJwt && metadata.Jwks is not { ValueKind: JsonValueKind.Object } && metadata.JwksUri is null)
        {
            problem = "private_key_jwt needs the client's public keys, in jwks or at jwks_uri.";
        }
        else if (applicationType == ApplicationTypes.Native && authMethod != ClientAuthenticationMethods.None)
        {
            problem = "A native application cannot keep a secret: token_endpoint_auth_method must be none.";
        }
        else if (grantTypes.FirstOrDefault(t => !RegistrableGrantTypes.Contains(t)) is { } grant)
        {
            problem = $"The grant type '{grant}' cannot be registered here; allowed: authorization_code, refresh_token, implicit.";
        }
        else if (responseTypes.FirstOrDefault(t => !ResponseTypeValues.Contains(t)) is { } unknown)
        {
            problem = $"The response type '{unknown}' is not supported.";
        }
        else if (responseTypes.Any(t => t.Split(' ').Contains("code")) && !grantTypes.Contains(GrantTypes.AuthorizationCode)
            || responseTypes.Any(t => t.Split(' ').Any(p => p is "token" or "id_token")) && !grantTypes.Contains(GrantTypes.Implicit))
        {
            problem = "response_types and grant_types do not match (code needs authorization_code; token and id_token need implicit).";
        }
        else if (scopes.FirstOrDefault(s => !IsRegistrable(s, customScopes)) is { } scope)
        {
            problem = $"The scope '{scope}' cannot be registered here.";
        }

        if (problem is not null)
        {
            return null;
        }

        var kind = authMethod == ClientAuthenticationMethods.None
            ? applicationType == ApplicationTypes.Native ? ClientKinds.Native : ClientKinds.Spa
            : ClientKinds.Web;
        var client = new ClientRequest(
            Name: string.IsNullOrWhiteSpace(metadata.ClientName) ? document ? "Client of " + HostOf(metadata.ClientId) : "Dynamically registered client" : metadata.ClientName,
            Description: document ? "Described by its Client ID Metadata Document" : "Registered through dynamic client registration (RFC 7591)",
            ApplicationType: kind,
            IsConfidential: authMethod != ClientAuthenticationMethods.None,
            RedirectUris: metadata.RedirectUris,
            PostLogoutRedirectUris: metadata.PostLogoutRedirectUris,
            AllowedOrigins: null,
            GrantTypes: grantTypes,
            AllowedScopes: scopes,
            RequiresPkce: null,
            IsActive: true,
            AccessTokenLifetime: null,
            RefreshTokenLifetime: null,
            // The keys it signs assertions with, or that its ID tokens and userinfo answers are encrypted to.
            Jwks: KeysWanted(metadata, authMethod) ? metadata.Jwks : null,
            // RFC 7591 §2: the client said how it will authenticate; it is held to that.
            TokenEndpointAuthMethod: authMethod == ClientAuthenticationMethods.None ? null : authMethod,
            BackchannelLogoutUri: metadata.BackchannelLogoutUri,
            FrontchannelLogoutUri: metadata.FrontchannelLogoutUri,
            DpopBoundAccessTokens: metadata.DpopBoundAccessTokens,
            AudienceUris: metadata.AudienceUris,
            RequireSignedRequestObject: metadata.RequireSignedRequestObject,
            ClientUri: metadata.ClientUri,
            LogoUri: metadata.LogoUri,
            PolicyUri: metadata.PolicyUri,
            TosUri: metadata.TosUri,
            UserinfoSignedResponseAlg: metadata.UserinfoSignedResponseAlg,
            IdTokenEncryptedResponseAlg: metadata.IdTokenEncryptedResponseAlg,
            IdTokenEncryptedResponseEnc: metadata.IdTokenEncryptedResponseEnc,
            UserinfoEncryptedResponseAlg: metadata.UserinfoEncryptedResponseAlg,
            UserinfoEncryptedResponseEnc: metadata.UserinfoEncryptedResponseEnc,
            AuthorizationEncryptedResponseAlg: metadata.AuthorizationEncryptedResponseAlg,
            AuthorizationEncryptedResponseEnc: metadata.AuthorizationEncryptedResponseEnc,
            IntrospectionEncryptedResponseAlg: metadata.IntrospectionEncryptedResponseAlg,
            IntrospectionEncryptedResponseEnc: metadata.IntrospectionEncryptedResponseEnc,
            IdTokenSignedResponseAlg: metadata.IdTokenSignedResponseAlg,
            SubjectType: metadata.SubjectType,
            JwksUri: KeysWanted(metadata, authMethod) ? metadata.JwksUri : null,
            SectorIdentifierUri: metadata.SectorIdentifierUri,
            AuthorizationDetailsTypes: metadata.AuthorizationDetailsTypes,
            RequestUris: metadata.RequestUris);
        return new Translated(client, applicationType, responseTypes, authMethod);
    }

    private static bool KeysWanted(Document metadata, string authMethod) =>
        authMethod == ClientAuthenticationMethods.PrivateKeyJwt || EncryptsResponses(metadata);

    private static bool EncryptsResponses(Document metadata) =>
        metadata.IdTokenEncryptedResponseAlg is not null || metadata.UserinfoEncryptedResponseAlg is not null
        || metadata.AuthorizationEncryptedResponseAlg is not null || metadata.IntrospectionEncryptedResponseAlg is not null;

    /// <summary>An Admin API field name as RFC 7591 names it, for errors about metadata.</summary>
    public static string FieldName(string field) => field switch
    {
        "name" => "client_name",
        "redirectUris" => "redirect_uris",
        "postLogoutRedirectUris" => "post_logout_redirect_uris",
        "backchannelLogoutUri" => "backchannel_logout_uri",
        "frontchannelLogoutUri" => "frontchannel_logout_uri",
        "grantTypes" => "grant_types",
        "allowedScopes" => "scope",
        "audienceUris" => "audience_uris",
        _ => JsonNamingPolicy.SnakeCaseLower.ConvertName(field),
    };

    // The OpenID Connect scopes and the tenant's own, never a privileged one (Admin API, relationship store): those are an
    // administrator's to give.
    private static bool IsRegistrable(string scope, IReadOnlyCollection<string> customScopes) =>
        !ScopeNames.IsPrivileged(scope)
        && (ScopeNames.IsBuiltIn(scope) || customScopes.Contains(scope, StringComparer.Ordinal));

    private static string HostOf(string? url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Host : "an unnamed site";
}
