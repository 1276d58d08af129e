namespace LumoAuth.Contracts.ApiKeys;

public sealed record ApiKeyCreated(Guid ApiKeyId, string Name, string Prefix, IReadOnlyList<string> Scopes) : IntegrationEvent;

/// <summary>Every service evicts the key from its verification cache on this event.</summary>
public sealed record ApiKeyRevoked(Guid ApiKeyId) : IntegrationEvent;
