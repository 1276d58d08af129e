using LumoAuth.Contracts;

namespace LumoAuth.Token.Messaging;

/// <summary>
/// Up to when an admin event about a user (blocked, deactivated, deleted, MFA reset) reaches back here. It ends only what
/// existed when it happened, so a late or retried delivery never ends a sign-in made after an unblock or reactivation.
/// </summary>
/// <remarks>
/// Admin stamps <see cref="IntegrationEvent.OccurredAt"/> with its clock; sessions, grants, tokens and trusted browsers
/// here carry this service's. When this clock runs ahead, state made just before the event looks made after it, and the
/// event would spare it (a browser signed in the second before a block). So state up to <see cref="ClockSkew"/> after
/// <c>OccurredAt</c> counts as before. Erring this way costs at most a sign-in within seconds of the event, which a
/// block or deletion refuses anyway; the other way would let a blocked user keep a session.
/// </remarks>
public static class EventCutOff
{
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(5);

    /// <summary>State created before this instant is the event's to end.</summary>
    public static DateTimeOffset Of(IntegrationEvent @event) => @event.OccurredAt + ClockSkew;
}
