using System.Text.Json;
using System.Text.Json.Serialization;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// The body of <c>POST</c> (create) and <c>PUT</c> (update) on a client. On update an absent field keeps its
/// current value; the merged settings are validated as a whole.
/// </summary>
public sealed record ClientRequest(
    string? Name,
    string? Description,
    string? ApplicationType,
    bool? IsConfidential,
    IReadOnlyList<string>? RedirectUris,
    IReadOnlyList<string>? PostLogoutRedirectUris,
    IReadOnlyList<string>? AllowedOrigins,
    IReadOnlyList<string>? GrantTypes,
    IReadOnlyList<string>? AllowedScopes,
    bool? RequiresPkce,
    bool? IsActive,
    int? AccessTokenLifetime,
    int? RefreshTokenLifetime,
    JsonElement? Jwks = null,
    string? BackchannelLogoutUri = null,
    string? FrontchannelLogoutUri = null,
    bool? RequiresPushedAuthorization = null,
    bool? DpopBoundAccessTokens = null,
    string? FapiProfile = null,
    IReadOnlyList<string>? AudienceUris = null,
    string? AudienceMatching = null,
    string? BackchannelTokenDeliveryMode = null,
    string? BackchannelClientNotificationEndpoint = null,
    string? TlsClientAuthSubjectDn = null,
    IReadOnlyList<string>? TlsClientCertificateAuthorities = null,
    bool? RequireSignedRequestObject = null,
    string? ClientUri = null,
    string? LogoUri = null,
    string? PolicyUri = null,
    string? TosUri = null,
    string? TokenEndpointAuthMethod = null,
    string? UserinfoSignedResponseAlg = null,
    string? IdTokenEncryptedResponseAlg = null,
    string? IdTokenEncryptedResponseEnc = null,
    string? UserinfoEncryptedResponseAlg = null,
    string? UserinfoEncryptedResponseEnc = null,
    string? AuthorizationEncryptedResponseAlg = null,
    string? AuthorizationEncryptedResponseEnc = null,
    string? IntrospectionEncryptedResponseAlg = null,
    string? IntrospectionEncryptedResponseEnc = null,
    string? IdTokenSignedResponseAlg = null,
    string? SubjectType = null,
    string? JwksUri = null,
    string? SectorIdentifierUri = null,
    IReadOnlyList<string>? AuthorizationDetailsTypes = null);

/// <summary>A client as the Admin API shows it; the secret is never part of it.</summary>
public sealed record ClientResponse(
    Guid Id,
    string ClientId,
    string Name,
    string? Description,
    string ApplicationType,
    bool IsConfidential,
    IReadOnlyList<string> GrantTypes,
    IReadOnlyList<string> AllowedScopes,
    IReadOnlyList<string> RedirectUris,
    IReadOnlyList<string> PostLogoutRedirectUris,
    IReadOnlyList<string> AllowedOrigins,
    bool RequiresPkce,
    bool IsActive,
    int AccessTokenLifetime,
    int RefreshTokenLifetime,
    JsonElement? Jwks,
    string? JwksUri,
    string? BackchannelLogoutUri,
    string? FrontchannelLogoutUri,
    bool RequiresPushedAuthorization,
    bool DpopBoundAccessTokens,
    string FapiProfile,
    IReadOnlyList<string> AudienceUris,
    string AudienceMatching,
    string? BackchannelTokenDeliveryMode,
    string? BackchannelClientNotificationEndpoint,
    DateTimeOffset CreatedAt,
    DateTimeOffset? UpdatedAt,
    string? TlsClientAuthSubjectDn,
    IReadOnlyList<string> TlsClientCertificateAuthorities,
    bool RequireSignedRequestObject,
    string? ClientUri,
    string? LogoUri,
    string? PolicyUri,
    string? TosUri,
    string? TokenEndpointAuthMethod,
    string? UserinfoSignedResponseAlg,
    string? IdTokenEncryptedResponseAlg,
    string? IdTokenEncryptedResponseEnc,
    string? UserinfoEncryptedResponseAlg,
    string? UserinfoEncryptedResponseEnc,
    string? AuthorizationEncryptedResponseAlg,
    string? AuthorizationEncryptedResponseEnc,
    string? IntrospectionEncryptedResponseAlg,
    string? IntrospectionEncryptedResponseEnc,
    string? IdTokenSignedResponseAlg,
    string SubjectType,
    string? SectorIdentifier,
    string? SectorIdentifierUri,
    IReadOnlyList<string> AuthorizationDetailsTypes);

/// <summary>The one response of creation, which carries the secret (once).</summary>
public sealed record CreatedClientResponse(
    Guid Id,
    string ClientId,
    string? Secret,
    string Name,
    string? Description,
    string ApplicationType,
    bool IsConfidential,
    IReadOnlyList<string> GrantTypes,
    IReadOnlyList<string> AllowedScopes,
    IReadOnlyList<string> RedirectUris,
    IReadOnlyList<string> PostLogoutRedirectUris,
    IReadOnlyList<string> AllowedOrigins,
    bool RequiresPkce,
    bool IsActive,
    int AccessTokenLifetime,
    int RefreshTokenLifetime,
    JsonElement? Jwks,
    string? JwksUri,
    string? BackchannelLogoutUri,
    string? FrontchannelLogoutUri,
    bool RequiresPushedAuthorization,
    bool DpopBoundAccessTokens,
    string FapiProfile,
    IReadOnlyList<string> AudienceUris,
    string AudienceMatching,
    string? BackchannelTokenDeliveryMode,
    string? BackchannelClientNotificationEndpoint,
    DateTimeOffset CreatedAt,
    string? TlsClientAuthSubjectDn,
    IReadOnlyList<string> TlsClientCertificateAuthorities,
    bool RequireSignedRequestObject,
    string? ClientUri,
    string? LogoUri,
    string? PolicyUri,
    string? TosUri,
    string? TokenEndpointAuthMethod,
    string? UserinfoSignedResponseAlg,
    string? IdTokenEncryptedResponseAlg,
    string? IdTokenEncryptedResponseEnc,
    string? UserinfoEncryptedResponseAlg,
    string? UserinfoEncryptedResponseEnc,
    string? AuthorizationEncryptedResponseAlg,
    string? AuthorizationEncryptedResponseEnc,
    string? IntrospectionEncryptedResponseAlg,
    string? IntrospectionEncryptedResponseEnc,
    string? IdTokenSignedResponseAlg,
    string SubjectType,
    string? SectorIdentifier,
    string? SectorIdentifierUri,
    IReadOnlyList<string> AuthorizationDetailsTypes)
{
    [JsonPropertyName("_note")]
    public string Note => Secret is null ? "Public client: it has no secret." : ClientSecretNotes.ShownOnce;
}

/// <summary>The answer of a secret rotation: the new secret, shown once.</summary>
public sealed record RotatedSecretResponse(string ClientId, string Secret)
{
    [JsonPropertyName("_note")]
    public string Note => ClientSecretNotes.ShownOnce;
}

internal static class ClientSecretNotes
{
    public const string ShownOnce = "Store the secret securely. It will not be shown again.";
}
