namespace LumoAuth.Admin.Data;

public sealed class Tenant
{
    public Guid Id { get; set; }

    public string Slug { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public string Status { get; set; } = Contracts.Internal.TenantStatuses.Active;

    public string Region { get; set; } = "us";

    /// <summary>The tenant's settings document (password, MFA, session and login policies, branding) as JSON.</summary>
    public string Settings { get; set; } = "{}";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>PostgreSQL's <c>xmin</c>: the settings ETag and their optimistic concurrency token.</summary>
    public uint Version { get; set; }
}

/// <summary>A row listed in creation order (SCIM pages through users and groups by this key).</summary>
public interface ICreatedRow
{
    Guid Id { get; }

    DateTimeOffset CreatedAt { get; }
}

public sealed class User : ICreatedRow
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Email { get; set; } = string.Empty;

    /// <summary>Lower-cased email: uniqueness is per tenant and case-insensitive.</summary>
    public string NormalizedEmail { get; set; } = string.Empty;

    public string? Username { get; set; }

    public string? Name { get; set; }

    public string? GivenName { get; set; }

    public string? FamilyName { get; set; }

    public string? PhoneNumber { get; set; }

    /// <summary>
    /// Whether the user proved <see cref="PhoneNumber"/> is theirs, by confirming a texted code sent to it (an SMS factor of
    /// the same number); any change of the number makes it unproven again. OIDC's <c>phone_number_verified</c>.
    /// </summary>
    public bool PhoneNumberVerified { get; set; }

    public string? Picture { get; set; }

    /// <summary>
    /// The user's language (a BCP 47 tag, OIDC's <c>locale</c>): the mails we send them are in it when the tenant offers it,
    /// and the hosted pages follow it once they sign in. Null: the tenant's default, or the browser's wish.
    /// </summary>
    public string? Locale { get; set; }

    /// <summary>The provisioning client's id for the user (SCIM <c>externalId</c>).</summary>
    public string? ExternalId { get; set; }

    public string? Title { get; set; }

    /// <summary>SCIM enterprise extension attributes (employeeNumber, department, manager…) as a JSON object.</summary>
    public string EnterpriseData { get; set; } = "{}";

    /// <summary>Free-form custom (ABAC subject) attributes as a JSON object.</summary>
    public string Attributes { get; set; } = "{}";

    public string? PasswordHash { get; set; }

    public DateTimeOffset? PasswordChangedAt { get; set; }

    /// <summary>Created without a password (or by invitation): the user sets one through a reset first.</summary>
    public bool MustChangePassword { get; set; }

    public bool EmailVerified { get; set; }

    /// <summary>
    /// The user registered themselves (hosted sign-up) and no link or code has reached <see cref="Email"/> since: whatever
    /// credentials the account has were set up by someone who may not own the address (who registered it first). The first
    /// proof of the address by a link that needs none of them removes them (<c>UnprovenCredentials</c>) and clears this.
    /// Accounts made by an admin, SCIM or an invitation never have it: their credentials are vouched for by whoever made
    /// them, whatever <see cref="EmailVerified"/> says.
    /// </summary>
    public bool SelfRegisteredUnproven { get; set; }

    /// <summary>When a verification link was last asked for: the hosted page's requests are spaced per address.</summary>
    public DateTimeOffset? EmailVerificationRequestedAt { get; set; }

    public bool IsActive { get; set; } = true;

    public bool Blocked { get; set; }

    /// <summary>
    /// The LDAP directory (federation's provider id) that made this account: the directory holds its password (none is
    /// set here) and its presence (an import blocks the account when the directory no longer lists it).
    /// </summary>
    public Guid? DirectoryId { get; set; }

    /// <summary>Blocked by a directory import (not by an administrator): the import unblocks it when the directory lists it again.</summary>
    public bool BlockedByDirectory { get; set; }

    /// <summary>SCIM soft delete (DELETE without <c>isSoftDeleted=true</c>): inactive and flagged, data kept.</summary>
    public DateTimeOffset? SoftDeletedAt { get; set; }

    public bool IsAdmin { get; set; }

    /// <summary>The version of the tenant's terms of service the user last accepted, and when; null: never.</summary>
    public string? TermsAcceptedVersion { get; set; }

    public DateTimeOffset? TermsAcceptedAt { get; set; }

    public int LoginCount { get; set; }

    public DateTimeOffset? LastLoginAt { get; set; }

    /// <summary>Consecutive failed password logins since the last success or lockout.</summary>
    public int FailedLoginCount { get; set; }

    public DateTimeOffset? LockedUntil { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>PostgreSQL's <c>xmin</c>: the row version behind SCIM ETags and optimistic concurrency.</summary>
    public uint Version { get; set; }
}

/// <summary>A previous password hash, for the tenant's <c>preventReuse</c> policy.</summary>
public sealed class PasswordHistoryEntry
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid UserId { get; set; }

    public string PasswordHash { get; set; } = string.Empty;

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A mailed one-time link to a user's own account: the token's hash, its life, and whether it was used.</summary>
public interface IEmailedUserLink
{
    Guid Id { get; }

    Guid TenantId { get; }

    Guid UserId { get; }

    byte[] TokenHash { get; set; }

    DateTimeOffset ExpiresAt { get; }

    DateTimeOffset? UsedAt { get; }

    /// <summary>The tenant's custom domain the link should point at (the one the request came in on), if any.</summary>
    string? Domain => null;
}

/// <summary>
/// A one-time sign-in link (magic link). As for a reset, the row first holds an unguessable placeholder hash; the mail
/// sender issues the real token. <see cref="ReturnUrl"/> is where the sign-in continues (an authorization request).
/// </summary>
public sealed class MagicLinkToken : IEmailedUserLink
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid UserId { get; set; }

    public byte[] TokenHash { get; set; } = [];

    public string? ReturnUrl { get; set; }

    /// <summary>The tenant's custom domain the sign-in started on: the mailed link points there, where it continues.</summary>
    public string? Domain { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? UsedAt { get; set; }
}

/// <summary>A password-reset request: only the SHA-256 of the token is kept; the token itself leaves by e-mail only.</summary>
public sealed class PasswordResetToken : IEmailedUserLink
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid UserId { get; set; }

    public byte[] TokenHash { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? UsedAt { get; set; }
}

/// <summary>A second factor of a user. The TOTP secret is encrypted with Data Protection; it never leaves after enrolment.</summary>
public sealed class MfaFactor
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid UserId { get; set; }

    public string Type { get; set; } = MfaFactorTypes.Totp;

    public string ProtectedSecret { get; set; } = string.Empty;

    /// <summary>False until the user proves possession with a first code.</summary>
    public bool Confirmed { get; set; }

    /// <summary>The last accepted TOTP time step: a code of this step or an earlier one is a replay.</summary>
    public long? LastUsedStep { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? ConfirmedAt { get; set; }
}

public static class MfaFactorTypes
{
    public const string Totp = "totp";

    /// <summary>Codes mailed to the user's verified address at each sign-in (no secret: the row only says the user chose it).</summary>
    public const string Email = "email";

    /// <summary>Codes texted to a phone number the user proved with a first code; the number is kept encrypted.</summary>
    public const string Sms = "sms";

    /// <summary>A passkey (kept in <see cref="PasskeyCredential"/>, not as a factor row) taken as the second step after a password.</summary>
    public const string WebAuthn = "webauthn";
}

/// <summary>
/// A one-time code for the second step, mailed (<see cref="MfaFactorTypes.Email"/>) or texted to the phone of
/// <see cref="FactorId"/> (<see cref="MfaFactorTypes.Sms"/>). As for links, the row first holds an unguessable placeholder
/// hash and the sender issues the code; only the newest code of a user works, a few wrong guesses end it, and used or
/// expired rows stay a day to count how many were sent.
/// </summary>
public sealed class SignInCode : IEmailedUserLink
{
    /// <summary>The SMS factor whose phone the code goes to; null for a mailed code.</summary>
    public Guid? FactorId { get; set; }

    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid UserId { get; set; }

    public byte[] TokenHash { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? UsedAt { get; set; }

    public int FailedAttempts { get; set; }
}

/// <summary>
/// A passkey (WebAuthn discoverable credential) of a user: the authenticator keeps the private key, we keep the public
/// key (COSE), the credential id, the user handle it was made for and the signature counter.
/// </summary>
public sealed class PasskeyCredential
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid UserId { get; set; }

    public byte[] CredentialId { get; set; } = [];

    public byte[] PublicKey { get; set; } = [];

    public byte[] UserHandle { get; set; } = [];

    public long SignCount { get; set; }

    public Guid AaGuid { get; set; }

    /// <summary>The attestation statement's format (<c>none</c>, <c>packed</c>, <c>tpm</c>…); null for passkeys registered before it was kept.</summary>
    public string? AttestationFormat { get; set; }

    /// <summary>What the browser said the authenticator is (<c>platform</c> or <c>cross-platform</c>), when it said.</summary>
    public string? AuthenticatorAttachment { get; set; }

    public string Name { get; set; } = "Passkey";

    public bool BackedUp { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? LastUsedAt { get; set; }
}

/// <summary>A one-time recovery code that stands in for the TOTP factor once; only its SHA-256 is kept.</summary>
public sealed class BackupCode
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid UserId { get; set; }

    public byte[] CodeHash { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? UsedAt { get; set; }
}

public sealed class Group : ICreatedRow
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Slug { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public string? Description { get; set; }

    public string? ExternalId { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>SCIM soft delete: the group is kept (for the isSoftDeleted filter and a later hard delete) but is absent everywhere else.</summary>
    public DateTimeOffset? SoftDeletedAt { get; set; }

    public uint Version { get; set; }
}

public sealed class GroupMember
{
    public Guid GroupId { get; set; }

    public Guid UserId { get; set; }

    public Guid TenantId { get; set; }

    public DateTimeOffset AddedAt { get; set; }
}
public sealed class ApiKey
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Name { get; set; } = string.Empty;

    /// <summary>The visible start of the key (<c>lmk_ab12cd34</c>), so people can tell keys apart.</summary>
    public string Prefix { get; set; } = string.Empty;

    /// <summary>SHA-256 of the whole key; keys are high-entropy, so one hash suffices (DESIGN §8).</summary>
    public byte[] KeyHash { get; set; } = [];

    public List<string> Scopes { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>An append-only audit entry, one per integration event.</summary>
public sealed class AuditLogEntry
{
    /// <summary>Actor and target ids: a client's id may be the URL of its metadata document (up to 1,000 characters).</summary>
    public const int IdLength = 1000;
    public const int ActorTypeLength = 20;
    public const int EmailLength = 320;
    public const int IpAddressLength = 64;
    public const int UserAgentLength = 512;
    public const int CorrelationIdLength = 128;

    /// <summary>The id of the event it records, so a redelivered event finds its entry already there.</summary>
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Action { get; set; } = string.Empty;

    public string Category { get; set; } = string.Empty;

    public string ActorType { get; set; } = string.Empty;

    public string? ActorId { get; set; }

    public string? ActorEmail { get; set; }

    /// <summary>The actors of a delegated token the action was done with, earliest first (JSON array); null otherwise.</summary>
    public string? ActorChain { get; set; }

    public string? TargetType { get; set; }

    public string? TargetId { get; set; }

    public string Outcome { get; set; } = "success";

    public string? IpAddress { get; set; }

    public string? UserAgent { get; set; }

    public string? CorrelationId { get; set; }

    public string Metadata { get; set; } = "{}";

    public DateTimeOffset Timestamp { get; set; }
}

public sealed class Webhook
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Url { get; set; } = string.Empty;

    public string? Description { get; set; }

    /// <summary>Subscribed event types (<c>user.created</c>…); <c>*</c> subscribes to all.</summary>
    public List<string> Events { get; set; } = [];

    /// <summary>The signing secret, encrypted with Data Protection: it must be readable to sign, so it is not hashed.</summary>
    public string ProtectedSecret { get; set; } = string.Empty;

    /// <summary>
    /// The secret replaced by the last rotation, encrypted like <see cref="ProtectedSecret"/>: deliveries are signed with it
    /// too until <see cref="PreviousSecretExpiresAt"/>, so receivers can move to the new secret without failed deliveries.
    /// </summary>
    public string? PreviousProtectedSecret { get; set; }

    /// <summary>When <see cref="PreviousProtectedSecret"/> stops signing (the rotation plus <c>Webhooks:SecretRotationOverlap</c>).</summary>
    public DateTimeOffset? PreviousSecretExpiresAt { get; set; }

    public bool IsActive { get; set; } = true;

    /// <summary>Failed attempts in a row; a success resets it, reaching the threshold disables the webhook.</summary>
    public int FailureCount { get; set; }

    public DateTimeOffset? LastDeliveredAt { get; set; }

    public DateTimeOffset? DisabledAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>One event for one webhook: the exact signed body, its state and when it is next due.</summary>
public sealed class WebhookDelivery
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid WebhookId { get; set; }

    /// <summary>The bus message that caused it; unique per webhook so a redelivered event adds nothing. Null for tests and replays.</summary>
    public Guid? MessageId { get; set; }

    /// <summary>The payload's <c>id</c> (<c>evt_…</c>), kept by replays so receivers can de-duplicate.</summary>
    public string EventId { get; set; } = string.Empty;

    public string EventType { get; set; } = string.Empty;

    public string Payload { get; set; } = string.Empty;

    public string Status { get; set; } = WebhookDeliveryStatuses.Pending;

    public int Attempts { get; set; }

    public DateTimeOffset NextAttemptAt { get; set; }

    /// <summary>A dispatcher that claimed the row owns it until then (a crashed replica's claims expire).</summary>
    public DateTimeOffset? LockedUntil { get; set; }

    public int? LastStatusCode { get; set; }

    public string? LastError { get; set; }

    public Guid? ReplayOf { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? CompletedAt { get; set; }
}

public static class WebhookDeliveryStatuses
{
    public const string Pending = "pending";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}

/// <summary>The log of one HTTP attempt of a delivery.</summary>
public sealed class WebhookDeliveryAttempt
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid DeliveryId { get; set; }

    public int Number { get; set; }

    public DateTimeOffset AttemptedAt { get; set; }

    public int? StatusCode { get; set; }

    public string? Error { get; set; }

    public int DurationMs { get; set; }
}

/// <summary>An invitation to join the tenant (ADM-65). Only the SHA-256 of its token is kept.</summary>
public sealed class Invitation
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Email { get; set; } = string.Empty;

    public string NormalizedEmail { get; set; } = string.Empty;

    /// <summary>Role slugs, for the authorization service to assign when the invitation is accepted.</summary>
    public List<string> Roles { get; set; } = [];

    public List<Guid> GroupIds { get; set; } = [];

    /// <summary>
    /// Whether a full administrator sent it. Roles and groups are given at acceptance, when nobody asks who invited: one sent
    /// with a resource-scoped key gives no roles, and no group that holds an administering role by then.
    /// </summary>
    public bool ByFullAdministrator { get; set; }

    /// <summary>The language the invitation is written in (a BCP 47 tag); null: the tenant's default.</summary>
    public string? Locale { get; set; }

    public byte[] TokenHash { get; set; } = [];

    public string Status { get; set; } = InvitationStatuses.Pending;

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}

public static class InvitationStatuses
{
    public const string Pending = "pending";
    public const string Accepted = "accepted";
    public const string Revoked = "revoked";
}

/// <summary>
/// A user erased on request (GDPR Art. 17): the pseudonym that replaces their id in the audit log, and for a day the id
/// and address themselves, while the audit housekeeping pseudonymises the tenant's log — its history first, then the
/// entries of events still in flight at the erasure — after which both are cleared.
/// </summary>
public sealed class ErasedSubject
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid? UserId { get; set; }

    public string? Email { get; set; }

    public string ErasedAs { get; set; } = string.Empty;

    public DateTimeOffset ErasedAt { get; set; }

    /// <summary>Entries timed from here on have still to be pseudonymised (the housekeeping's progress).</summary>
    public DateTimeOffset PseudonymisedFrom { get; set; }

    /// <summary>The follow-up day is over and the last pass over it has begun.</summary>
    public bool LastPass { get; set; }
}

/// <summary>
/// Something a user signed in from (<see cref="Kind"/>: a browser's device id, or a network), kept as a hash, for adaptive
/// authentication to tell known from new. The newest few per kind are kept.
/// </summary>
public sealed class SignInTrait
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid UserId { get; set; }

    public string Kind { get; set; } = string.Empty;

    public byte[] ValueHash { get; set; } = [];

    public DateTimeOffset LastSeenAt { get; set; }
}

/// <summary>Where and when a user last signed in successfully (from the GeoIP table), for the impossible-travel signal.</summary>
public sealed class SignInPlace
{
    public Guid UserId { get; set; }

    public Guid TenantId { get; set; }

    public double Latitude { get; set; }

    public double Longitude { get; set; }

    public DateTimeOffset At { get; set; }
}

/// <summary>A domain a tenant serves its pages and APIs on instead of <c>/t/{slug}</c>, once DNS proves it is theirs.</summary>
public sealed class CustomDomain
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    /// <summary>Lower-case ASCII (an internationalised name in its punycode form), no trailing dot.</summary>
    public string Domain { get; set; } = string.Empty;

    /// <summary>What the TXT record proving ownership must hold; public by nature (it is published in DNS).</summary>
    public string VerificationToken { get; set; } = string.Empty;

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Set when DNS proved ownership and routing; only then is the domain served.</summary>
    public DateTimeOffset? VerifiedAt { get; set; }

    /// <summary>Where the tenant's links and notifications point: at most one per tenant, and only a verified domain.</summary>
    public bool IsPrimary { get; set; }

    public DateTimeOffset? LastCheckedAt { get; set; }

    /// <summary>Why the last verification failed, for the owner to fix their DNS.</summary>
    public string? LastCheckError { get; set; }

    /// <summary>Since when the rechecks of a verified domain have found its ownership record gone (null while it is there).</summary>
    public DateTimeOffset? CheckFailingSince { get; set; }
}
