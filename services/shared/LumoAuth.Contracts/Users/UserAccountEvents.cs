namespace LumoAuth.Contracts.Users;

/// <summary>
/// A password reset was requested for the user. The reset token itself never travels in an event: the
/// mail sender issues it for the reset <see cref="ResetId"/> when it sends the link.
/// </summary>
public sealed record UserPasswordResetRequested(Guid UserId, DateTimeOffset ExpiresAt) : IntegrationEvent
{
    public Guid? ResetId { get; init; }

    /// <summary>The language of the page the person asked from (a BCP 47 tag), for a user who has no <c>locale</c> of their own.</summary>
    public string? Language { get; init; }
}

/// <summary>
/// The user asked for a one-time sign-in link. As for a reset, the link's token never travels in an event: the mail
/// sender issues it for <see cref="LinkId"/> when it sends the mail.
/// </summary>
public sealed record UserMagicLinkRequested(Guid UserId, DateTimeOffset ExpiresAt) : IntegrationEvent
{
    public Guid? LinkId { get; init; }

    /// <inheritdoc cref="UserPasswordResetRequested.Language"/>
    public string? Language { get; init; }
}

/// <summary>
/// A sign-in's second step needs a code by e-mail. The code never travels in an event either: the mail sender issues it
/// for <see cref="CodeId"/> when it sends the mail.
/// </summary>
public sealed record UserMfaEmailCodeRequested(Guid UserId, DateTimeOffset ExpiresAt) : IntegrationEvent
{
    public Guid? CodeId { get; init; }
}

/// <summary>A second step (or an SMS enrolment) needs a code by text message; as by e-mail, the sender issues it for <see cref="CodeId"/>.</summary>
public sealed record UserMfaSmsCodeRequested(Guid UserId, DateTimeOffset ExpiresAt) : IntegrationEvent
{
    public Guid? CodeId { get; init; }
}

/// <summary>The user (or the hosted page on their behalf) asked for a new email verification link.</summary>
public sealed record UserEmailVerificationRequested(Guid UserId) : IntegrationEvent
{
    /// <inheritdoc cref="UserPasswordResetRequested.Language"/>
    public string? Language { get; init; }
}

/// <summary>The user proved possession of a new second factor (<see cref="Method"/>: <c>totp</c>).</summary>
public sealed record UserMfaEnrolled(Guid UserId, string Method) : IntegrationEvent;

/// <summary>An invitation to join the tenant; <see cref="Roles"/> are role slugs for authorization to assign on acceptance.</summary>
public sealed record UserInvited(Guid InvitationId, string Email, IReadOnlyList<string> Roles, IReadOnlyList<string> Groups, DateTimeOffset ExpiresAt) : IntegrationEvent;

/// <summary>The invitee created their account; authorization may assign <see cref="Roles"/> to <see cref="UserId"/>.</summary>
public sealed record UserInvitationAccepted(Guid InvitationId, Guid UserId, IReadOnlyList<string> Roles) : IntegrationEvent;

public sealed record UserInvitationRevoked(Guid InvitationId) : IntegrationEvent;

/// <summary>An admin asked to mail a pending invitation again; the new link replaces the old one.</summary>
public sealed record UserInvitationResent(Guid InvitationId) : IntegrationEvent;

/// <summary>A GDPR data export of the user's data was produced (who asked is the event's actor).</summary>
public sealed record UserDataExported(Guid UserId) : IntegrationEvent;

/// <summary>
/// A user's data was erased (GDPR Art. 17). Carries only the pseudonym that replaced the user's id in the audit log, so its
/// own audit entry names nobody; the user's deletion travels as <see cref="UserDeleted"/> beside it.
/// </summary>
public sealed record UserDataErased(string ErasedAs) : IntegrationEvent;
