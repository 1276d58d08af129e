namespace LumoAuth.Contracts.Sessions;

/// <summary>A user signed in through the hosted login and got an SSO session.</summary>
public sealed record SessionStarted(string SessionId, Guid UserId, string AuthMethod, bool MfaVerified) : IntegrationEvent;

/// <summary>
/// Sessions ended by an administrator or because the user was blocked or deleted; the grants issued under
/// them (refresh tokens, codes) were revoked with them. <see cref="Reason"/>: <c>admin</c>, <c>user_blocked</c>,
/// <c>user_deleted</c>, <c>logout</c>.
/// </summary>
public sealed record SessionsRevoked(Guid UserId, IReadOnlyList<string> SessionIds, string Reason) : IntegrationEvent;

/// <summary>
/// A grant (an authorization: one code and the refresh tokens rotated from it) was revoked with its stored tokens, for
/// a revoked refresh token (RFC 7009), a replayed code or refresh token (RFC 9700 §4.14), or the end of a user's
/// access. Committed with the revocation, so the grant's access tokens are certain to reach the deny-list even when
/// Redis was down at the time. <see cref="Subject"/> is the user's id, <see cref="ClientId"/> the client's, when known.
/// </summary>
public sealed record GrantRevoked(string AuthorizationId, string? Subject, string? ClientId) : IntegrationEvent;

/// <summary>
/// The tenant's SAML identity provider signed an assertion about the user for a SAML app (<see cref="AppId"/>, entity
/// ID <see cref="EntityId"/>): the user signed in to that application.
/// </summary>
public sealed record SamlAssertionIssued(Guid UserId, Guid AppId, string EntityId, string NameIdFormat) : IntegrationEvent
{
    /// <summary>An IdP-initiated sign-in: the response answered no request of the app's.</summary>
    public bool Unsolicited { get; init; }
}

/// <summary>
/// An outside account (a social, OpenID Connect or SAML provider's, <see cref="ProviderName"/>) now signs the user in:
/// <see cref="How"/> is <c>sign_in</c> (its first sign-in found or made the user), <c>token_exchange</c> (its first token
/// presented at the token endpoint did) or <c>account_page</c> (the signed-in user linked it).
/// </summary>
public sealed record ExternalAccountLinked(Guid UserId, Guid ProviderId, string ProviderType, string ProviderName, string How) : IntegrationEvent
{
    public const string BySignIn = "sign_in";
    public const string ByTokenExchange = "token_exchange";
    public const string ByAccountPage = "account_page";

    /// <summary>Linked by an import of an LDAP directory's people, before their first sign-in.</summary>
    public const string ByDirectorySync = "directory_sync";
}

/// <summary>The user unlinked an outside account from the account page: it no longer signs them in.</summary>
public sealed record ExternalAccountUnlinked(Guid UserId, Guid ProviderId, string ProviderType, string ProviderName) : IntegrationEvent;

/// <summary>
/// A user's access for one application was taken away: their consent (asked for again at the next sign-in) and every
/// grant and token the application holds for them. <see cref="Reason"/>: <c>admin</c> or <c>user</c> (the account page).
/// </summary>
public sealed record ApplicationAccessRevoked(Guid UserId, string ClientId, string Reason) : IntegrationEvent;
