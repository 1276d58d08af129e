namespace LumoAuth.Contracts.Clients;

public sealed record ClientCreated(string ClientId, string Name, bool IsConfidential, IReadOnlyList<string> GrantTypes) : IntegrationEvent;

public sealed record ClientUpdated(string ClientId) : IntegrationEvent;

public sealed record ClientDeleted(string ClientId) : IntegrationEvent;

/// <summary>An access token was issued. Collected in batches so the token hot path never writes per token.</summary>
public sealed record AccessTokenIssued(string ClientId, string GrantType, string? Subject, string TokenId, IReadOnlyList<string> Scopes) : IntegrationEvent;
