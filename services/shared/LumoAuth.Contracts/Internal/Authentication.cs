namespace LumoAuth.Contracts.Internal;

/// <summary>
/// <c>POST /internal/v1/users/authenticate</c> (admin): the token service's password login. Admin checks
/// the password (constant time, no user enumeration), lockout and blocked status, and the TOTP factor.
/// </summary>
/// <param name="TotpCode">The second step's code: from the TOTP app, from the mail (e-mail codes), or a backup code.</param>
public sealed record AuthenticateRequest(Guid TenantId, string Email, string Password, string? TotpCode, string? IpAddress)
{
    /// <summary>
    /// The user this browser is a trusted device of ("remember this device", checked by the token service): for that user
    /// the second step is skipped.
    /// </summary>
    public Guid? TrustedDeviceUserId { get; init; }

    /// <summary>
    /// The caller can show a new TOTP secret (the hosted password sign-in): a user who must enrol is offered one. Other
    /// callers (SCIM Basic, links) only learn that enrolment is required, and no pending factor is made for them.
    /// </summary>
    public bool OfferMfaEnrolment { get; init; }

    /// <summary>
    /// The second step the user chose when they have two (<c>totp</c> or <c>email</c>, from
    /// <see cref="AuthenticateResponse.MfaOtherMethod"/>); null takes the authenticator app first.
    /// </summary>
    public string? MfaMethod { get; init; }

    /// <summary>
    /// The browser's device id: a random value the hosted pages keep in a long-lived cookie. A device the user signed in
    /// from before lowers the sign-in's risk where the tenant uses adaptive authentication.
    /// </summary>
    public string? DeviceId { get; init; }

    /// <summary>
    /// The sign-in is on its way to a page that changes how the user signs in, which takes no session without the second
    /// step: a user who has a factor is asked for it whatever the risk score or a trusted browser would allow.
    /// </summary>
    public bool RequireSecondStep { get; init; }
}

/// <summary><see cref="Outcome"/> is one of <see cref="AuthenticationOutcomes"/>; user fields are set on success only.</summary>
public sealed record AuthenticateResponse(
    string Outcome,
    Guid? UserId,
    string? Email,
    string? Name,
    bool EmailVerified,
    DateTimeOffset? LockedUntil,
    IReadOnlyList<string> AuthenticationMethods)
{
    /// <summary>
    /// With <see cref="AuthenticationOutcomes.MfaEnrollmentRequired"/>: the TOTP secret the user must add to an app now
    /// (shown once on the sign-in page; the next authenticate with a code from it confirms the factor and signs in).
    /// </summary>
    public TotpEnrolmentOffer? TotpEnrolment { get; init; }

    /// <summary>On the success that completed an enrolment: the user's first backup codes, to show this once.</summary>
    public IReadOnlyList<string>? BackupCodes { get; init; }

    /// <summary>On a success: the user's language (a BCP 47 tag, their profile's <c>locale</c>), which the pages then use.</summary>
    public string? Locale { get; init; }

    /// <summary>
    /// On a success while the tenant requires two-step verification and the user has none yet: when their grace period
    /// ends (the sign-in page reminds them).
    /// </summary>
    public DateTimeOffset? MfaEnrolmentDueAt { get; init; }

    /// <summary>
    /// With <see cref="AuthenticationOutcomes.MfaRequired"/> or <see cref="AuthenticationOutcomes.MfaInvalid"/>: what the
    /// second step asks for, <c>totp</c> (the user's app), <c>email</c> (a code just mailed) or <c>sms</c> (a code just texted);
    /// each takes a backup code.
    /// </summary>
    public string? MfaMethod { get; init; }

    /// <summary>With <see cref="MfaMethod"/> <c>email</c> or <c>sms</c>: where the code went, partly hidden (<c>a•••@example.com</c>, <c>•••4567</c>).</summary>
    public string? MfaCodeHint { get; init; }

    /// <summary>
    /// Another second step of the user's, which they may switch to (<see cref="AuthenticateRequest.MfaMethod"/>), or null; with
    /// three, switching goes round them.
    /// </summary>
    public string? MfaOtherMethod { get; init; }

    /// <summary>
    /// On a link sign-in's success: the link proved the address for the first time, and what the account got before —
    /// which nobody had proven through that mailbox (perhaps someone else's, who registered the address first): its
    /// password, second factors, passkeys, backup codes — was removed. The account's other sessions may be that
    /// someone's: the token service ends them.
    /// </summary>
    public bool UnprovenCredentialsRemoved { get; init; }
}

public sealed record TotpEnrolmentOffer(string Secret, string OtpauthUri);

/// <summary>
/// The signed-in user's own two-step verification, for the token service's account page (admin keeps the factors):
/// <c>GET …/users/{id}/mfa</c> lists them, <c>POST …/mfa/totp</c> starts a TOTP enrolment, <c>POST …/mfa/totp/confirm</c>
/// (<c>{code}</c>) confirms it and answers the first backup codes, <c>POST …/mfa/backup-codes</c> replaces them.
/// </summary>
public static class MfaRoutes
{
    public static string Factors(Guid userId, Guid tenantId) => $"{InternalRoutes.Prefix}/users/{userId}/mfa?tenantId={tenantId}";

    public static string BeginTotp(Guid userId, Guid tenantId) => $"{InternalRoutes.Prefix}/users/{userId}/mfa/totp?tenantId={tenantId}";

    public static string ConfirmTotp(Guid userId, Guid tenantId) => $"{InternalRoutes.Prefix}/users/{userId}/mfa/totp/confirm?tenantId={tenantId}";

    public static string BackupCodes(Guid userId, Guid tenantId) => $"{InternalRoutes.Prefix}/users/{userId}/mfa/backup-codes?tenantId={tenantId}";

    /// <summary>POST turns sign-in codes by e-mail on (answering the first backup codes when they are the first factor), DELETE off.</summary>
    public static string EmailCodes(Guid userId, Guid tenantId) => $"{InternalRoutes.Prefix}/users/{userId}/mfa/email?tenantId={tenantId}";

    /// <summary>POST <see cref="BeginSmsRequest"/> texts a first code to the number (a pending factor), DELETE removes the SMS factor.</summary>
    public static string SmsCodes(Guid userId, Guid tenantId) => $"{InternalRoutes.Prefix}/users/{userId}/mfa/sms?tenantId={tenantId}";

    /// <summary>POST <see cref="ConfirmSmsRequest"/> confirms the pending number with the texted code (answering the first backup codes when it is the first factor).</summary>
    public static string ConfirmSms(Guid userId, Guid tenantId) => $"{InternalRoutes.Prefix}/users/{userId}/mfa/sms/confirm?tenantId={tenantId}";
}

public sealed record BeginSmsRequest(string? PhoneNumber);

/// <summary>Where the first code went, without the whole number: <c>•••4567</c>.</summary>
public sealed record SmsEnrolmentStarted(string PhoneHint);

public sealed record ConfirmSmsRequest(string? Code);

public sealed record MfaFactorInfo(Guid Id, string Type, bool Confirmed, DateTimeOffset CreatedAt, DateTimeOffset? ConfirmedAt);

/// <summary>Backup codes as admin answers them (shown to the user once).</summary>
public sealed record BackupCodeSet(IReadOnlyList<string> BackupCodes);

public static class AuthenticationOutcomes
{
    public const string Success = "success";
    public const string InvalidCredentials = "invalid_credentials";
    public const string Locked = "locked";
    public const string Blocked = "blocked";
    public const string MfaRequired = "mfa_required";
    public const string MfaInvalid = "mfa_invalid";

    /// <summary>The tenant requires a second factor, the user has none and their grace period is over: enrol first.</summary>
    public const string MfaEnrollmentRequired = "mfa_enrollment_required";
    public const string EmailNotVerified = "email_not_verified";

    /// <summary>Adaptive authentication judged the sign-in too risky and refused it (the user and the administrators are told).</summary>
    public const string RiskBlocked = "risk_blocked";
}

/// <summary><c>GET /internal/v1/users/{userId}</c> with <c>?tenantId=</c> (admin): claims for ID tokens and userinfo.</summary>
public sealed record UserProfile(
    Guid Id, Guid TenantId, string Email, bool EmailVerified, string? Name, string? GivenName, string? FamilyName,
    string? Username, string? PhoneNumber, bool Blocked, bool IsActive, DateTimeOffset UpdatedAt)
{
    /// <summary>Slugs of the groups the user is a direct member of (the access token's <c>groups</c>, RFC 9068 §2.2.3.1).</summary>
    public IReadOnlyList<string> Groups { get; init; } = [];

    /// <summary>The URL of the user's picture (OIDC Core §5.1 <c>picture</c>), or null.</summary>
    public string? Picture { get; init; }

    /// <summary>The user's language, a BCP 47 tag (OIDC Core §5.1 <c>locale</c>), or null.</summary>
    public string? Locale { get; init; }

    /// <summary>An administrator of the tenant (<c>isAdmin</c>): one of those who may hold admin scopes in a user's token.</summary>
    public bool IsAdmin { get; init; }

    /// <summary>The OIDC <c>address</c> claim's members (OIDC Core §5.1.1, snake_case names), or null when the user has none.</summary>
    public IReadOnlyDictionary<string, string>? Address { get; init; }

    /// <summary>Whether the user proved <see cref="PhoneNumber"/> is theirs (OIDC Core §5.1 <c>phone_number_verified</c>).</summary>
    public bool PhoneNumberVerified { get; init; }

    /// <summary>Whether the user has a confirmed second factor (ABAC's <c>user.mfaEnabled</c>).</summary>
    public bool MfaEnabled { get; init; }

    /// <summary>Whether the user can sign in with a password or a passkey of their own (not only through an outside provider).</summary>
    public bool HasOwnCredential { get; init; }

    /// <summary>The user's custom attributes set through admin (ADM-14), a JSON object; ABAC policies read them as <c>user.{key}</c>.</summary>
    public System.Text.Json.JsonElement? Attributes { get; init; }

    /// <summary>The user's SCIM enterprise extension attributes (<c>department</c>, <c>employeeNumber</c>…), a JSON object.</summary>
    public System.Text.Json.JsonElement? Enterprise { get; init; }

    /// <summary>The version of the tenant's terms of service the user last accepted, or null.</summary>
    public string? TermsAcceptedVersion { get; init; }
}

/// <summary>
/// <c>POST /internal/v1/roles-of</c> (authorization): a subject's effective roles and permissions,
/// direct and through groups, for the token service's <c>roles</c>/<c>permissions</c> claims.
/// </summary>
public sealed record RolesOfRequest(Guid TenantId, string Subject);

public sealed record RolesOfResponse(IReadOnlyList<string> Roles, IReadOnlyList<string> Permissions)
{
    /// <summary>
    /// Whether the subject holds an administering role (<c>admin</c>, <c>tenant_admin</c>). Unlike <see cref="Roles"/>, a
    /// listing that a limit may cut short, this is exact: read from the listing when it is whole, else from exact checks.
    /// Null when it could not be decided.
    /// </summary>
    public bool? Administers { get; init; }
}

/// <summary>
/// <c>POST /internal/v1/roles-of-many</c> (authorization): the roles of up to <see cref="MaxSubjects"/> users (effective: direct and
/// through groups) and groups (assigned to the group) at once.
/// </summary>
public sealed record RolesOfManyRequest(Guid TenantId, IReadOnlyList<Guid> UserIds)
{
    public const int MaxSubjects = 500;

    public IReadOnlyList<Guid> GroupIds { get; init; } = [];

    /// <summary>Read at the newest revision, not the replica's index: for roles written a moment ago, perhaps on another replica.</summary>
    public bool FullyConsistent { get; init; }
}

public sealed record NamedRole(string Slug, string Name);

/// <summary>Each asked user's or group's roles by slug, keyed by its id; one holding none maps to an empty list.</summary>
public sealed record RolesOfManyResponse(IReadOnlyDictionary<Guid, IReadOnlyList<NamedRole>> Roles);

/// <summary>
/// <c>POST /internal/v1/administering</c> (authorization): which of these users and groups hold a role that administers the
/// tenant (<c>admin</c>, <c>tenant_admin</c>), decided by exact checks at full consistency, for admin's guards against
/// resource-scoped keys. Up to <see cref="RolesOfManyRequest.MaxSubjects"/> ids in all.
/// </summary>
public sealed record AdministeringRequest(Guid TenantId, IReadOnlyList<Guid> UserIds, IReadOnlyList<Guid> GroupIds);

/// <summary>The asked ids that hold an administering role (users directly or through groups, groups by assignment).</summary>
public sealed record AdministeringResponse(IReadOnlyList<Guid> Administering);

/// <summary>
/// <c>POST /internal/v1/initial-roles</c> (authorization): the direct roles, named by slug or id, of the user or the group
/// (exactly one of <see cref="UserId"/> and <see cref="GroupId"/>) that admin is about to save, written before it saves so
/// that the new object holds them from its first read. Nothing is written when a name matches no role, nor for an id admin
/// already knows (409). An empty list takes them away again, for a save that failed. Admin decides who may name roles.
/// </summary>
public sealed record InitialRolesRequest(Guid TenantId, Guid? UserId, Guid? GroupId, IReadOnlyList<string> Roles)
{
    /// <summary>How many roles one request may name, here and in <c>PUT …/roles</c>: as many as a roles listing shows.</summary>
    public const int MaxRoles = 1000;
}

/// <summary>
/// The roles (slugs or ids) an agent holds from now on, replacing those it held; an empty list takes them all away. Nothing
/// is written when a name matches no role. The agents service decides who may name which roles.
/// </summary>
public sealed record AgentRolesRequest(Guid TenantId, IReadOnlyList<string> Roles)
{
    public static string Route(Guid agentId) => InternalRoutes.AgentRoles.Replace("{agentId:guid}", agentId.ToString(), StringComparison.Ordinal);
}

/// <summary>
/// The roles an outside directory (an LDAP provider's group mappings) gives a user now: of the roles in
/// <paramref name="Managed"/>, the user holds exactly <paramref name="Roles"/> afterwards; roles outside it are left as they
/// are (an administrator's own grants). Names matching no role are left out.
/// </summary>
public sealed record DirectoryRolesRequest(Guid TenantId, IReadOnlyList<string> Managed, IReadOnlyList<string> Roles)
{
    public static string Route(Guid userId) => InternalRoutes.DirectoryRoles.Replace("{userId:guid}", userId.ToString(), StringComparison.Ordinal);
}

/// <summary>The slugs now held, or (nothing written) the names that matched no role.</summary>
public sealed record InitialRolesResponse(IReadOnlyList<string> Roles, IReadOnlyList<string> Unknown);

/// <summary>
/// Passkeys (WebAuthn) for the token service's hosted pages; admin keeps the credentials and runs the checks. The
/// options admin answers are WebAuthn's JSON (<c>PublicKeyCredentialCreationOptions</c> / <c>…RequestOptions</c>); the
/// token service keeps them, unchanged, until the browser's answer comes back with them.
/// </summary>
public static class PasskeyRoutes
{
    public const string RegistrationOptions = InternalRoutes.Prefix + "/users/{userId:guid}/passkeys/options";
    public const string Register = InternalRoutes.Prefix + "/users/{userId:guid}/passkeys";
    public const string AssertionOptions = InternalRoutes.Prefix + "/passkeys/assertion-options";
    public const string Authenticate = InternalRoutes.Prefix + "/passkeys/authenticate";

    /// <param name="domain">The tenant's custom domain the ceremony runs on, or null for the deployment's host.</param>
    public static string For(string route, Guid userId, Guid tenantId, string? domain = null) =>
        route.Replace("{userId:guid}", userId.ToString(), StringComparison.Ordinal) + $"?tenantId={tenantId}"
        + (domain is null ? string.Empty : "&domain=" + Uri.EscapeDataString(domain));
}

/// <summary>The refusals of a tenant's passkey switches (<c>passkeyPolicy</c>), 403 from admin and the token service alike.</summary>
public static class PasskeyRefusals
{
    public const string RegistrationDisabled = "passkey_registration_disabled";
    public const string RegistrationDisabledMessage = "This organisation does not let users add passkeys.";
    public const string LoginDisabled = "passkey_login_disabled";
    public const string LoginDisabledMessage = "This organisation does not let users sign in with passkeys.";
}

/// <summary>The browser's <c>navigator.credentials.create()</c> answer, with the options it answered.</summary>
public sealed record RegisterPasskey(string? Options, System.Text.Json.JsonElement Response, string? Name);

public sealed record PasskeyAssertionOptionsRequest(Guid TenantId)
{
    /// <summary>The tenant's custom domain the ceremony runs on (the relying party), or null for the deployment's host.</summary>
    public string? Domain { get; init; }
}

/// <summary>The browser's <c>navigator.credentials.get()</c> answer, with the options it answered; the verdict is an <see cref="AuthenticateResponse"/>.</summary>
public sealed record AuthenticateWithPasskey(Guid TenantId, string? Options, System.Text.Json.JsonElement Response, string? IpAddress);

/// <summary>
/// A registered passkey, as shown to its user and to admins (never its key): the authenticator's model id (AAGUID; zeros
/// when it did not say), the attestation's format and the kind of authenticator the browser reported.
/// </summary>
public sealed record PasskeyInfo(
    Guid Id, string Name, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, bool BackedUp,
    Guid Aaguid = default, string? AttestationFormat = null, string? AuthenticatorAttachment = null);

/// <summary>
/// <c>POST /internal/v1/users/{userId}/password?tenantId=</c> (admin): the signed-in user changes their own password from
/// the token service's account page. A wrong current password is a 400 on <c>currentPassword</c> and counts towards the
/// account's lockout; the new one meets the tenant's policy (400 on <c>password</c>, as wherever a password is set).
/// </summary>
public sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword)
{
    public static string Route(Guid userId, Guid tenantId) => $"{InternalRoutes.Prefix}/users/{userId}/password?tenantId={tenantId}";
}

/// <summary>
/// <c>PATCH /internal/v1/users/{userId}/profile?tenantId=</c> (admin): the signed-in user edits their own names from the
/// token service's account page (null leaves a field, empty clears it; the rules are the Admin API's, 400 with details),
/// and their language (<see cref="Locale"/>, a BCP 47 tag).
/// </summary>
public sealed record SelfProfileUpdate(string? Name, string? GivenName, string? FamilyName, string? Locale = null)
{
    /// <summary>New values for the tenant's declared attributes the user may change, by name; an empty value removes one.</summary>
    public IReadOnlyDictionary<string, string>? Attributes { get; init; }

    public static string Route(Guid userId, Guid tenantId) => $"{InternalRoutes.Prefix}/users/{userId}/profile?tenantId={tenantId}";
}

/// <summary>
/// An access token for an approved JIT request, signed with the tenant's key: it names the agent's task as subject and
/// carries only <see cref="AuthorizationDetails"/> (RFC 9396), for <see cref="LifetimeSeconds"/> (at most 900). The agents
/// service chooses its <c>jti</c> (<see cref="TokenId"/>) and records it before asking, so revoking the task's tokens
/// covers a token still being signed.
/// </summary>
public sealed record JitTokenRequest(
    Guid TenantId, string TenantSlug, Guid AgentId, string TaskId, string RequestId,
    System.Text.Json.JsonElement AuthorizationDetails, string? OnBehalfOf, int LifetimeSeconds, string TokenId)
{
    /// <summary>The task the token's task is a subtask of (the docs' <c>parent_task_id</c> claim); null for a top-level task.</summary>
    public string? ParentTaskId { get; init; }

    /// <summary>The approved scopes, for a token of the scope-based design (token exchange with <c>jit_task_id</c>); null otherwise.</summary>
    public IReadOnlyList<string>? Scopes { get; init; }

    public const int MaxLifetimeSeconds = 900;
}

/// <summary>
/// A token exchange naming <c>jit_task_id</c>: the agent whose OAuth client asks, its task, the scopes asked (none: every
/// approved one). The agents service answers with the token to sign, its requests claimed, or an OAuth error.
/// </summary>
public sealed record JitExchangeRequest(Guid TenantId, string TenantSlug, string ClientId, string TaskId, IReadOnlyList<string> Scopes);

/// <summary>Either <see cref="Token"/> (claimed and recorded; sign it) or an OAuth <see cref="Error"/> with its description.</summary>
public sealed record JitExchangeAnswer(JitTokenRequest? Token, string? Error, string? ErrorDescription);

public sealed record JitTokenResponse(string AccessToken, string TokenId, DateTimeOffset ExpiresAt);

/// <summary>
/// An MCP server as the token service needs it: the Resource URI a token may be bound to, which clients may ask (none
/// listed: all), how long its tokens live.
/// </summary>
public sealed record McpResource(string ResourceUri, IReadOnlyList<string> AllowedClientIds, int TokenLifetime, IReadOnlyList<string> ScopesSupported)
{
    public static string Route(Guid tenantId) => InternalRoutes.McpResources + "?tenantId=" + tenantId;
}

/// <summary>
/// An OAuth client for an agent whose identity type is client credentials: confidential, machine-to-machine, with the
/// client-credentials and token-exchange grants; its id is <see cref="ClientIdFor"/>.
/// </summary>
public sealed record AgentClientRequest(Guid TenantId, string TenantSlug, Guid AgentId, string Name)
{
    /// <summary>The scopes the client may ask for (none when absent), as the agent registry was told.</summary>
    public IReadOnlyList<string>? AllowedScopes { get; init; }

    /// <summary>Its access tokens' lifetime in seconds (the client default when absent).</summary>
    public int? TokenLifetime { get; init; }

    /// <summary>Whether the administrator who asked may write everything (needed to give administering scopes).</summary>
    public bool FullWrite { get; init; }

    /// <summary>Agent clients' ids begin so: the token service knows from the id alone that it may ask about an agent.</summary>
    public const string ClientIdPrefix = "agt_";

    public static string ClientIdFor(Guid agentId) => ClientIdPrefix + agentId.ToString("N");

    public static string DeleteRoute(string clientId, Guid tenantId, string tenantSlug) =>
        $"{InternalRoutes.AgentClients}/{Uri.EscapeDataString(clientId)}?tenantId={tenantId}&tenantSlug={Uri.EscapeDataString(tenantSlug)}";
}

public sealed record AgentClientResponse(string ClientId, string ClientSecret)
{
    /// <summary>What the client was made with (its scopes and token lifetime, defaults filled in).</summary>
    public AgentClientSettings? Settings { get; init; }
}

/// <summary>
/// The agent registry's view of its agent's OAuth client: the scopes it may ask for and its tokens' lifetime
/// (<c>GET …/agent-clients/{clientId}?tenantId=&amp;tenantSlug=</c>; changed by <see cref="AgentClientSettingsRequest"/>).
/// </summary>
public sealed record AgentClientSettings(IReadOnlyList<string> AllowedScopes, int TokenLifetime)
{
    public static string Route(string clientId, Guid tenantId, string tenantSlug) => AgentClientRequest.DeleteRoute(clientId, tenantId, tenantSlug);
}

/// <summary>
/// Changes an agent client's scopes or token lifetime (<c>PUT …/agent-clients/{clientId}/settings</c>): a field left out
/// keeps its value. Refused as the Admin API refuses them: 400 naming <c>allowedScopes</c> or <c>tokenLifetime</c>, 403
/// when administering scopes are involved and <see cref="FullWrite"/> is false.
/// </summary>
public sealed record AgentClientSettingsRequest(Guid TenantId, string TenantSlug, IReadOnlyList<string>? AllowedScopes, int? TokenLifetime, bool FullWrite)
{
    public static string Route(string clientId) => $"{InternalRoutes.AgentClients}/{Uri.EscapeDataString(clientId)}/settings";
}

/// <summary>Turns an agent's OAuth client off (its tokens voided) or on again, with its agent (<c>PUT …/agent-clients/{clientId}/active</c>).</summary>
public sealed record AgentClientStateRequest(Guid TenantId, string TenantSlug, bool IsActive)
{
    public static string Route(string clientId) => $"{InternalRoutes.AgentClients}/{Uri.EscapeDataString(clientId)}/active";
}

/// <summary>A token request by an agent's OAuth client, from <paramref name="IpAddress"/> (the caller's, as the token service sees it).</summary>
public sealed record AgentTokenRequest(Guid TenantId, string ClientId, string? IpAddress);

/// <summary>
/// Whether the agent may have the token: <see cref="Allowed"/>, or the refusal (<c>access_denied</c> 403 for an address
/// outside its allow-list, <c>budget_exceeded</c> 429 with the seconds until its window turns).
/// </summary>
public sealed record AgentTokenVerdict(bool Allowed, string? Error = null, string? Description = null, int Status = 200, int? RetryAfter = null)
{
    /// <summary>The agent that owns the client, when one does: its tokens name it (<c>agent_id</c>, <c>agent_name</c>).</summary>
    public Guid? AgentId { get; init; }

    public string? AgentName { get; init; }
}

/// <param name="MayDelegate">Whether its capabilities let it act for others (<c>delegate:on_behalf</c>, or <c>delegate:user</c>).</param>
public sealed record AgentOfClient(Guid AgentId, bool IsActive, bool MayDelegate)
{
    public static string Route(string clientId, Guid tenantId) =>
        InternalRoutes.AgentByClient.Replace("{clientId}", Uri.EscapeDataString(clientId), StringComparison.Ordinal) + "?tenantId=" + tenantId;
}
