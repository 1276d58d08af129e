namespace LumoAuth.Contracts.Internal;

/// <summary>
/// An outside account (Google, GitHub, an OpenID Connect provider…) signing in for the first time: admin links it to the
/// user whose address it is, when the provider verified the address and the tenant's provider links automatically, or
/// makes a user for it when the provider allows sign-up. <paramref name="Provider"/> names the provider for the audit log.
/// </summary>
public sealed record ExternalUserRequest(
    Guid TenantId, string Provider, string? Email, bool EmailVerified, string? Name, string? GivenName, string? FamilyName, string? Picture,
    bool AllowSignup, bool AutoLink)
{
    /// <summary>Roles (slugs or ids) a user made now gets (a SAML IdP's JIT default roles); roles that no longer exist are left out.</summary>
    public IReadOnlyList<string>? Roles { get; init; }

    /// <summary>The provider's phone number for the person; kept for a new user when it is in E.164 form, else left out.</summary>
    public string? PhoneNumber { get; init; }

    /// <summary>The provider's name for the person (an LDAP directory's login name): a new user's username when nobody here signs in by it.</summary>
    public string? Username { get; init; }

    /// <summary>The LDAP directory (provider id) asking: a user made now is the directory's, which keeps its password and its presence.</summary>
    public Guid? DirectoryId { get; init; }
}

/// <summary>
/// What a complete import of an LDAP directory found of the users it made: <paramref name="Present"/> are listed,
/// <paramref name="Absent"/> are not (left out when the listing was cut short). Admin blocks the absent and unblocks the
/// present it had blocked.
/// </summary>
public sealed record DirectoryPresenceRequest(Guid TenantId, IReadOnlyList<Guid> Present, IReadOnlyList<Guid>? Absent);

public sealed record DirectoryPresenceResponse(int Blocked, int Unblocked);

/// <summary>
/// Admin asks federation to write a new password to the LDAP directory that keeps the user's (with the directory's
/// <c>passwordWriteBack</c> on): as the person, proven by <paramref name="CurrentPassword"/>, or, without it, as the
/// service account (an administrator's reset).
/// </summary>
public sealed record DirectoryPasswordRequest(Guid TenantId, Guid DirectoryId, Guid UserId, string? CurrentPassword, string NewPassword)
{
    public override string ToString() => $"DirectoryPasswordRequest {{ TenantId = {TenantId}, DirectoryId = {DirectoryId}, UserId = {UserId} }}"; // never the passwords
}

/// <summary>Whether the directory takes new passwords from here (enabled, with <c>passwordWriteBack</c>): then its users may reset theirs by mail.</summary>
public sealed record DirectoryPasswordPolicy(bool Writable)
{
    public static string Route(Guid directoryId, Guid tenantId) => $"{InternalRoutes.DirectoryPasswords}/{directoryId}?tenantId={tenantId}";
}

/// <summary>Why federation did not write a password to the directory (the error code of its 4xx answer).</summary>
public static class DirectoryPasswordErrors
{
    /// <summary>409: the directory keeps the password and does not take new ones from here (write-back off, or disabled).</summary>
    public const string NotWritable = "directory_managed_password";

    /// <summary>400: the current password is not the directory's.</summary>
    public const string WrongPassword = "invalid_current_password";

    /// <summary>400: the directory's own policy refused the new password.</summary>
    public const string Refused = "password_refused";
}

public sealed record ExternalUserResponse(Guid UserId, bool Created);

/// <summary>The names an outside IdP gave for a linked user at this sign-in; absent ones are left as they are.</summary>
public sealed record ExternalProfileRequest(Guid TenantId, string? Name, string? GivenName, string? FamilyName);

/// <summary>Why admin found no user for an outside account (the error code of its 4xx answer).</summary>
public static class ExternalUserErrors
{
    /// <summary>403: nobody has the address, and the provider does not let new people sign up.</summary>
    public const string SignupDisabled = "signup_disabled";

    /// <summary>409: someone has the address, and the provider did not verify it or does not link automatically.</summary>
    public const string AccountExists = "account_exists";

    /// <summary>403: nobody has the address, and the provider did not verify it: no account is made with it.</summary>
    public const string EmailUnverified = "email_unverified";

    /// <summary>400: the provider gave no e-mail address, which every user needs.</summary>
    public const string EmailRequired = "email_required";
}

/// <summary>
/// A sign-in an outside provider vouched for (federation checked its answer): admin applies what applies to every sign-in —
/// blocked and locked accounts, required verification, the user's second step, adaptive risk.
/// </summary>
public sealed record FederatedSignInRequest(Guid TenantId, string Provider, string? TotpCode, string? IpAddress, string? DeviceId, string? MfaMethod = null);

/// <summary>The token service redeems the one-time ticket federation's callback sent the browser with.</summary>
public sealed record LoginTicketRequest(Guid TenantId, string Ticket);

/// <summary>
/// Who signed in, through which provider, where the sign-in goes on to (a page of the token service), and the hash of the
/// browser's binding cookie (<see cref="BrowserCookie"/>): the ticket opens a session only in the browser that began.
/// </summary>
public sealed record LoginTicket(Guid UserId, Guid ProviderId, string ProviderName, string? ReturnUrl, string BrowserHash)
{
    /// <summary>The outside SAML IdP's session behind the sign-in (SAML sign-ins only): kept with ours, to end it too at logout.</summary>
    public SamlIdpSession? SamlSession { get; init; }

    /// <summary>
    /// Set by federation when a sign-in with a provider begins (path <c>/t/{slug}/</c>), checked at its callback and by the
    /// token service when it redeems the ticket, which ends it.
    /// </summary>
    public const string BrowserCookie = "lumo_external_login";

    /// <summary>What is kept of the cookie's value: a copy of Redis gives no browser's binding away.</summary>
    public static string HashOf(string browserValue) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(browserValue)));

    /// <summary>Whether <paramref name="browserValue"/> is the cookie this ticket's hash was made of (in constant time).</summary>
    public bool IsFrom(string? browserValue) => Matches(BrowserHash, browserValue);

    /// <summary>Whether <paramref name="browserValue"/> is the cookie <paramref name="browserHash"/> was made of (in constant time).</summary>
    public static bool Matches(string browserHash, string? browserValue) =>
        browserValue is { Length: > 0 and <= 100 }
        && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.ASCII.GetBytes(HashOf(browserValue)), System.Text.Encoding.ASCII.GetBytes(browserHash));
}

/// <summary>
/// An outside SAML IdP's session behind one of ours: what a LogoutRequest to the IdP must name (SAML Core §3.7.1) —
/// the person's NameID as the IdP gave it and the session's index there.
/// </summary>
public sealed record SamlIdpSession(Guid ProviderId, string NameId, string? NameIdFormat, string? SessionIndex);

/// <summary>
/// An outside SAML IdP ended its session over the back channel: federation, having checked the IdP's LogoutRequest and
/// found the user its NameID is linked to, asks the token service to end that user's sessions the IdP opened with that
/// NameID — those of the given session indexes only, when the request names any.
/// </summary>
public sealed record IdpSessionLogoutRequest(Guid TenantId, Guid UserId, Guid ProviderId, string NameId, IReadOnlyList<string> SessionIndexes);

public sealed record IdpSessionLogoutResult(int Ended);

/// <summary>A SAML app of ours ended one of the user's sessions over the back channel (its LogoutRequest named the session's index).</summary>
public sealed record AppSessionLogoutRequest(Guid TenantId, Guid UserId, string SessionId);

/// <summary>
/// The token service, ending a session that an outside SAML IdP opened, asks federation for the way to end the IdP's
/// session too; <paramref name="ReturnUrl"/> (a post-logout URI the token service checked) is where the browser goes after.
/// </summary>
public sealed record SamlLogoutRequest(Guid TenantId, string TenantSlug, SamlIdpSession Session, string? ReturnUrl);

/// <summary>Where to send the browser (federation's page that sends the LogoutRequest); null when the IdP takes none (no logout URL, disabled, removed).</summary>
public sealed record SamlLogoutStart(string? LogoutUrl);

/// <summary>A browser session that ended: the SAML apps it signed in to are to be told (front-channel).</summary>
public sealed record SamlAppLogoutRequest(Guid TenantId, string TenantSlug, string SessionId);

/// <summary>Each app's logout URL with our signed LogoutRequest, for an iframe of the signed-out page.</summary>
public sealed record SamlAppLogoutFrames(IReadOnlyList<string> Urls);

/// <summary>A sign-in button of the hosted login page.</summary>
public sealed record LoginProvider(Guid Id, string Type, string Name)
{
    public static string Route(Guid tenantId) => InternalRoutes.LoginProviders + "?tenantId=" + tenantId;

    /// <summary>
    /// Where the button leads: a SAML IdP's sign-in starts at federation's SP login, an LDAP directory's at the token
    /// service's own form (the password is typed here), the others at federation's social sign-in.
    /// </summary>
    public string StartPath(string slug) => Type switch
    {
        "saml" => $"/t/{slug}/saml/sp/login/{Id}",
        "ldap" => $"/t/{slug}/login/ldap/{Id}",
        _ => $"/t/{slug}/auth/social/{Id}",
    };

    /// <summary>
    /// Whether a signed-in user may link an account of this provider from their account page: not a SAML IdP's or an
    /// LDAP directory's, whose people the directory itself links.
    /// </summary>
    public bool IsLinkable => Type is not ("saml" or "ldap");
}

/// <summary>A person signing in with their directory name and password at one of the tenant's LDAP providers.</summary>
public sealed record LdapSignInRequest(Guid TenantId, string TenantSlug, Guid ProviderId, string Username, string Password)
{
    public override string ToString() => $"LdapSignInRequest {{ TenantId = {TenantId}, ProviderId = {ProviderId} }}"; // never the password
}

/// <summary>The user the directory's person signs in as, and the provider's name for the session's record.</summary>
public sealed record LdapSignInResponse(Guid UserId, string ProviderName);

/// <summary>Why an LDAP sign-in was refused (besides admin's <see cref="ExternalUserErrors"/>).</summary>
public static class LdapSignInErrors
{
    /// <summary>Unknown name, wrong password, or a name that fits several entries: all read the same.</summary>
    public const string InvalidCredentials = "invalid_credentials";

    public const string ProviderDisabled = "provider_disabled";
}

/// <summary>One of a user's linked outside accounts, as their data export shows it.</summary>
/// <param name="ProviderEnabled">Whether the provider is on: a link through a disabled one signs nobody in now.</param>
public sealed record ExternalIdentityRecord(
    Guid Id, string Provider, string ProviderType, string Subject, string? Email, DateTimeOffset LinkedAt, DateTimeOffset LastSignInAt, bool ProviderEnabled)
{
    public static string Route(Guid userId, Guid tenantId) =>
        InternalRoutes.UserExternalIdentities.Replace("{userId:guid}", userId.ToString(), StringComparison.Ordinal) + "?tenantId=" + tenantId;

    /// <summary>Unlinks one of the user's accounts (<c>DELETE</c>; 404 when it is not theirs or gone).</summary>
    public static string DeleteRoute(Guid userId, Guid linkId, Guid tenantId) =>
        InternalRoutes.UserExternalIdentities.Replace("{userId:guid}", userId.ToString(), StringComparison.Ordinal) + $"/{linkId}?tenantId={tenantId}";
}

/// <summary>
/// A browser's session cookie for the token service (<c>Cookie</c> header value, only the session's cookies) at a tenant (by id and slug),
/// forwarded by federation, which cannot read it.
/// </summary>
public sealed record BrowserSessionRequest(Guid TenantId, string TenantSlug, string Cookie)
{
    /// <summary>The token service's session cookie (split by the cookie handler into <c>C1</c>, <c>C2</c>… when large).</summary>
    public const string CookieName = "lumo_session";
}

/// <summary>The sign-in behind a live session cookie: who, since when, how (the session's method: <c>password</c>, <c>federated</c>, <c>passkey</c>…).</summary>
public sealed record BrowserSessionInfo(Guid UserId, string SessionId, DateTimeOffset AuthTime, string AuthMethod, bool MfaVerified);

/// <summary>Federation's pages the hosted login page may send a browser back to once it signed in.</summary>
public static class FederationPages
{
    /// <summary>Where a SAML sign-in request that waited for the login goes on (<c>?request=</c>).</summary>
    public static string SamlContinuation(string slug) => $"/t/{slug}/saml/idp/continue";
}

/// <summary>
/// The token service asks federation who an outside token presented at its token endpoint names (RFC 8693 token exchange
/// with a SAML 2.0 assertion one of the tenant's IdPs signed, or an ID token of one of its OpenID providers): the user it
/// is linked to, or made for it as at a browser's first sign-in. <paramref name="TokenEndpoint"/> is where the token was presented: an assertion must be meant for it.
/// </summary>
public sealed record ExternalSubjectRequest(Guid TenantId, string TenantSlug, string TokenType, string Token, string? SubjectIssuer, string TokenEndpoint);

/// <summary>The user an outside token names, and the provider that vouched for them.</summary>
public sealed record ExternalSubjectResponse(Guid UserId, Guid ProviderId, string ProviderName);

/// <summary>The outside token types the token endpoint exchanges (subject_token_type).</summary>
public static class ExternalSubjectTypes
{
    /// <summary>RFC 8693 §3: a base64url-encoded SAML 2.0 assertion.</summary>
    public const string Saml2 = "urn:ietf:params:oauth:token-type:saml2";

    /// <summary>The same, as the docs' federation page spells it (inventory C-11): taken as an alias.</summary>
    public const string Saml2AsDocumented = "urn:ietf:params:saml:token-type:saml2";

    public static bool IsSaml(string? type) => type is Saml2 or Saml2AsDocumented;

    /// <summary>An OpenID provider's ID token, named by <c>subject_issuer</c> (the provider's id or issuer URL).</summary>
    public const string IdToken = "urn:ietf:params:oauth:token-type:id_token";

    /// <summary>The same, announced as a JWT (RFC 8693 §3); with a workload platform as <c>subject_issuer</c> it is a workload's token instead.</summary>
    public const string Jwt = "urn:ietf:params:oauth:token-type:jwt";

    public static bool IsJwt(string? type) => type is IdToken or Jwt;

    /// <summary>An outside provider's access token, named by <c>subject_issuer</c> (without it, an access token is one of ours: a delegation).</summary>
    public const string AccessToken = "urn:ietf:params:oauth:token-type:access_token";

    /// <summary>The error code of federation's 400 answer: the token names nobody who may be given a token.</summary>
    public const string Refused = "invalid_grant";
}

/// <summary>
/// The token service's account page asks federation to link one more outside account to the signed-in user: federation
/// keeps the intent (ten minutes, used once) and the browser goes to <c>/auth/social/{provider}?link={intent}</c>, where
/// the sign-in at the provider ends in a link rather than a session.
/// </summary>
public sealed record LinkIntentRequest(Guid TenantId, Guid UserId, Guid ProviderId);

public sealed record LinkIntentResponse(string Intent);

/// <summary>How linking ended, as the account page's <c>?linked=</c> or <c>?error=</c> says.</summary>
public static class LinkOutcomes
{
    /// <summary>The outside account is another user's here: it stays theirs.</summary>
    public const string LinkedElsewhere = "linked_elsewhere";

    /// <summary>The browser is not signed in as the user the link was asked for (or the intent expired).</summary>
    public const string Expired = "expired";

    public const string ProviderError = "provider_error";
}
