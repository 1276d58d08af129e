namespace LumoAuth.Contracts.Sessions;

/// <summary>A user signed in through the hosted login and got an SSO session.</summary>
public sealed record SessionStarted(string SessionId, Guid UserId, string AuthMethod, bool MfaVerified) : IntegrationEvent;

/// <summary>
/// Sessions ended by an administrator or because the user was blocked or deleted; the grants issued under
/// them (refresh tokens, codes) were revoked with them. <see cref="Reason"/>: <c>admin</c>, <c>user_blocked</c>,
/// <c>user_deleted</c>, <c>logout</c>.
/// </summary>
public sealed record SessionsRevoked(Guid UserId, IReadOnlyList<string> SessionIds, string Reason) : IntegrationEvent;
