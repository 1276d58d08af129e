namespace LumoAuth.Contracts.Users;

public sealed record UserCreated(Guid UserId, string Email, bool IsAdmin) : IntegrationEvent;

public sealed record UserUpdated(Guid UserId, IReadOnlyList<string> ChangedFields) : IntegrationEvent;

/// <summary>The token service revokes the user's sessions and tokens on this event.</summary>
public sealed record UserBlocked(Guid UserId) : IntegrationEvent;

public sealed record UserUnblocked(Guid UserId) : IntegrationEvent;

/// <summary>
/// An active user was switched off (<c>isActive</c> false, or a SCIM soft delete), raised beside <see cref="UserUpdated"/>:
/// the token service ends the user's sessions, grants and trusted devices, as for <see cref="UserBlocked"/>.
/// </summary>
public sealed record UserDeactivated(Guid UserId) : IntegrationEvent;

/// <summary>The token service revokes sessions and tokens; authorization drops the user's assignments.</summary>
public sealed record UserDeleted(Guid UserId) : IntegrationEvent;

public sealed record UserPasswordChanged(Guid UserId) : IntegrationEvent
{
    /// <summary>
    /// The user asked for every session and grant from before the change to end (a reset link's "sign out everywhere"):
    /// the token service ends them on this event, so the request is kept even if the page's own attempt did not finish.
    /// </summary>
    public bool SignOutEverywhere { get; init; }
}

public sealed record UserMfaReset(Guid UserId) : IntegrationEvent;

/// <summary>
/// A link proved the address of an account someone registered themselves, for the first time, and what the account had
/// (password, second factors, passkeys) was removed: it may have been set up by someone else, who registered the address
/// first. The token service ends the user's sessions and grants from before <see cref="IntegrationEvent.OccurredAt"/>
/// (the sign-in that proved it, opened later, stays).
/// </summary>
public sealed record UserUnprovenCredentialsRemoved(Guid UserId) : IntegrationEvent;

public sealed record UserLoginSucceeded(Guid UserId, IReadOnlyList<string> Methods) : IntegrationEvent;

/// <summary>A failed password login; <see cref="UserId"/> is null when no such user exists (never says which).</summary>
public sealed record UserLoginFailed(Guid? UserId, string Reason) : IntegrationEvent;

public sealed record UserLockedOut(Guid UserId, DateTimeOffset LockedUntil) : IntegrationEvent;
