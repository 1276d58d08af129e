using OpenIddict.EntityFrameworkCore.Models;

namespace LumoAuth.Token.Data;

/// <summary>
/// An OAuth client. OpenIddict's application plus the tenant it belongs to: the same <c>client_id</c> may
/// exist in two tenants, and a global query filter on <see cref="TenantId"/> keeps them apart.
/// </summary>
public sealed class TokenApplication : OpenIddictEntityFrameworkCoreApplication<Guid, TokenAuthorization, TokenToken>
{
    public Guid TenantId { get; set; }

    public string? Description { get; set; }

    /// <summary><c>web</c>, <c>spa</c>, <c>native</c> or <c>m2m</c> (see <c>ClientKinds</c>).</summary>
    public string Kind { get; set; } = "web";

    /// <summary>An inactive client keeps its registration but cannot authenticate or obtain tokens.</summary>
    public bool IsActive { get; set; } = true;

    /// <summary>Browser origins allowed to call the token endpoints (CORS), JSON array of <c>scheme://host[:port]</c>.</summary>
    public string? AllowedOrigins { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? UpdatedAt { get; set; }

    /// <summary>
    /// Set only for a client described by its Client ID Metadata Document (its <c>client_id</c> is the document's URL):
    /// until when the copy stored here may be used before the document is fetched again.
    /// </summary>
    public DateTimeOffset? MetadataDocumentExpiresAt { get; set; }
}

public sealed class TokenAuthorization : OpenIddictEntityFrameworkCoreAuthorization<Guid, TokenApplication, TokenToken>
{
    public Guid TenantId { get; set; }
}

public sealed class TokenScope : OpenIddictEntityFrameworkCoreScope<Guid>
{
    public Guid TenantId { get; set; }
}

public sealed class TokenToken : OpenIddictEntityFrameworkCoreToken<Guid, TokenApplication, TokenAuthorization>
{
    public Guid TenantId { get; set; }
}

/// <summary>A tenant's signing or encryption key; the private material is protected with Data Protection.</summary>
public sealed class TenantKey
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    /// <summary>The JWK <c>kid</c>.</summary>
    public string KeyId { get; set; } = string.Empty;

    /// <summary><c>RS256</c>, <c>PS256</c>, <c>ES256</c> for signing keys; <c>A256KW</c> for the encryption key.</summary>
    public string Algorithm { get; set; } = string.Empty;

    /// <summary><c>sig</c> or <c>enc</c>.</summary>
    public string Use { get; set; } = string.Empty;

    /// <summary>PKCS#8 private key (or raw symmetric key) protected by Data Protection, base64.</summary>
    public string ProtectedMaterial { get; set; } = string.Empty;

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Set when rotated out; a retired key is no longer used to sign (it may still be published for a while).</summary>
    public DateTimeOffset? RetiredAt { get; set; }

    /// <summary>For a retired signing key: until when it stays in the JWKS and still verifies the tokens it signed (the grace period).</summary>
    public DateTimeOffset? PublishedUntil { get; set; }
}

/// <summary>
/// A tenant's custom scope (the OIDC and admin scopes are built in and never stored). The integer id is
/// the documented scope identifier; ids of built-in scopes are below <see cref="FirstCustomId"/>.
/// </summary>
public sealed class ScopeDefinition
{
    public const int FirstCustomId = 1000;

    public int Id { get; set; }

    public Guid TenantId { get; set; }

    public string Name { get; set; } = string.Empty;

    public string Description { get; set; } = string.Empty;

    public bool IsDefault { get; set; }

    /// <summary>The claims the scope puts in users' tokens (<see cref="Features.Scopes.ScopeClaim"/>s as a JSON array), or null.</summary>
    public string? Claims { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? UpdatedAt { get; set; }
}

/// <summary>
/// A user's SSO session with one tenant (the hosted login's cookie names it). Revoking it signs the browser
/// out at the next request and revokes the tokens issued under it.
/// </summary>
public sealed class BrowserSession
{
    /// <summary><c>sess_</c> + 32 random characters; also the OIDC <c>sid</c>.</summary>
    public string Id { get; set; } = string.Empty;

    public Guid TenantId { get; set; }

    /// <summary>The tenant's slug at sign-in: work done later from events (back-channel logout) needs the issuer.</summary>
    public string TenantSlug { get; set; } = string.Empty;

    /// <summary>
    /// The issuer the session signed in under (its host's: the deployment's or one of the tenant's domains), which its ID
    /// tokens name and so its logout tokens must; null for sessions from before it was kept (the path issuer).
    /// </summary>
    public string? Issuer { get; set; }

    public Guid UserId { get; set; }

    public string? IpAddress { get; set; }

    public string? UserAgent { get; set; }

    /// <summary><c>password</c>, <c>social</c> or <c>sso</c>.</summary>
    public string AuthMethod { get; set; } = "password";

    public bool MfaVerified { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset LastActiveAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }

    /// <summary>
    /// The outside SAML IdP's session this one came from (JSON of <see cref="LumoAuth.Contracts.Internal.SamlIdpSession"/>),
    /// so that logging out here ends it there too; null for every other sign-in.
    /// </summary>
    public string? SamlSession { get; set; }

    /// <summary>Client ids this session signed in to, for front- and back-channel logout (JSON array).</summary>
    public string? ClientIds { get; set; }

    /// <summary><see cref="ClientIds"/> read.</summary>
    public List<string> SignedInClientIds() =>
        string.IsNullOrEmpty(ClientIds) ? [] : System.Text.Json.JsonSerializer.Deserialize<List<string>>(ClientIds) ?? [];

    /// <summary>Records that the session signed in to <paramref name="clientId"/> (once).</summary>
    public void AddClient(string clientId)
    {
        var clients = SignedInClientIds();
        if (!clients.Contains(clientId))
        {
            clients.Add(clientId);
            ClientIds = System.Text.Json.JsonSerializer.Serialize(clients);
        }
    }
}

/// <summary>
/// A back-channel authentication request (OpenID CIBA Core 1.0): a client asked to authenticate a user, who approves
/// or denies it on the hosted approval page; the client then redeems its <c>auth_req_id</c> once at the token
/// endpoint. Only a hash of the <c>auth_req_id</c> is kept; ping-mode requests also keep it, with the client's
/// notification token, protected with Data Protection, to call the client back.
/// </summary>
public sealed class BackchannelAuthentication
{
    /// <summary>The request's own id, used in approval links and events (never the <c>auth_req_id</c>).</summary>
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    /// <summary>SHA-256 of the <c>auth_req_id</c>, base64url.</summary>
    public string AuthReqIdHash { get; set; } = string.Empty;

    public string ClientId { get; set; } = string.Empty;

    public Guid UserId { get; set; }

    /// <summary>Space-separated scopes granted on approval.</summary>
    public string Scopes { get; set; } = string.Empty;

    public string? BindingMessage { get; set; }

    /// <summary>SHA-256 of the <c>user_code</c> the user must type to approve, when the client sent one.</summary>
    public string? UserCodeHash { get; set; }

    public int FailedUserCodeAttempts { get; set; }

    /// <summary><c>poll</c> or <c>ping</c>.</summary>
    public string DeliveryMode { get; set; } = "poll";

    /// <summary>For ping mode: the <c>auth_req_id</c> and the client's notification token, protected.</summary>
    public string? ProtectedPing { get; set; }

    /// <summary><c>pending</c>, <c>approved</c>, <c>denied</c> or <c>redeemed</c> (see <c>BackchannelStatuses</c>).</summary>
    public string Status { get; set; } = "pending";

    /// <summary>The grant created on approval; its refresh tokens are revoked with it.</summary>
    public string? AuthorizationId { get; set; }

    /// <summary>The approving session's facts, for the tokens' <c>sid</c>, <c>auth_time</c> and <c>amr</c>.</summary>
    public string? SessionId { get; set; }

    public string? AuthTime { get; set; }

    public string? Methods { get; set; }

    /// <summary>The level of sign-in the request prefers (its <c>acr_values</c>, as <c>AuthenticationLevels</c> reads them); null for none.</summary>
    public string? PreferredAcr { get; set; }

    /// <summary>The request's RFC 9396 authorization details (a JSON array), shown on the approval page and carried by its tokens.</summary>
    public string? AuthorizationDetails { get; set; }

    /// <summary>Seconds the client must wait between polls; raised by five at each <c>slow_down</c>.</summary>
    public int IntervalSeconds { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? DecidedAt { get; set; }

    public DateTimeOffset? LastPolledAt { get; set; }
}

/// <summary>
/// A browser a user chose to trust after a second factor ("remember this device"): while it lasts, a password sign-in
/// from that browser skips the TOTP step. The browser holds a random token; only its SHA-256 is kept here.
/// </summary>
public sealed class TrustedDevice
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid UserId { get; set; }

    public string TokenHash { get; set; } = string.Empty;

    public string? UserAgent { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? LastUsedAt { get; set; }
}
