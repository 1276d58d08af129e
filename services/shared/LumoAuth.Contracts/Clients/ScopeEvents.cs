namespace LumoAuth.Contracts.Clients;

public sealed record ScopeCreated(int ScopeId, string Name, bool IsDefault) : IntegrationEvent;

public sealed record ScopeUpdated(int ScopeId, string Name, IReadOnlyList<string> ChangedFields) : IntegrationEvent;

/// <summary>A custom scope was deleted; it was also withdrawn from every client that was allowed it.</summary>
public sealed record ScopeDeleted(int ScopeId, string Name, IReadOnlyList<string> AffectedClientIds) : IntegrationEvent;
