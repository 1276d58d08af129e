namespace LumoAuth.Contracts.Clients;

public sealed record ClientCreated(string ClientId, string Name, bool IsConfidential, IReadOnlyList<string> GrantTypes) : IntegrationEvent;

public sealed record ClientUpdated(string ClientId) : IntegrationEvent;

public sealed record ClientDeleted(string ClientId) : IntegrationEvent;

/// <summary>
/// An access token was issued. Never published alone: it travels in an <see cref="AccessTokensIssued"/> batch,
/// and consumers handle each one as its own event (one audit entry, one <c>token.issued</c> webhook each).
/// </summary>
public sealed record AccessTokenIssued(string ClientId, string GrantType, string? Subject, string TokenId, IReadOnlyList<string> Scopes) : IntegrationEvent;

/// <summary>
/// The access tokens one token-service replica issued for one tenant in a short window: one message for up to
/// a few hundred tokens, so issuing thousands a second costs the bus and its consumers a few messages, not thousands.
/// </summary>
public sealed record AccessTokensIssued(IReadOnlyList<AccessTokenIssued> Tokens) : IntegrationEvent, IBatchedEvent
{
    IEnumerable<IntegrationEvent> IBatchedEvent.Items => Tokens;
}
