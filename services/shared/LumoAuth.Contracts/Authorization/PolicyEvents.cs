namespace LumoAuth.Contracts.Authorization;

/// <summary>What became of a piece of access configuration: <c>created</c>, <c>updated</c> or <c>deleted</c>.</summary>
public static class ConfigurationChanges
{
    public const string Created = "created";
    public const string Updated = "updated";
    public const string Deleted = "deleted";
}

/// <summary>An ABAC policy was created, updated or deleted (<see cref="ConfigurationChanges"/>): the docs' <c>policy_updated</c>.</summary>
public sealed record AbacPolicyChanged(Guid PolicyId, string Change) : IntegrationEvent;

/// <summary>The tenant's ABAC combining algorithm changed (<c>deny_overrides</c> or <c>priority</c>).</summary>
public sealed record AbacSettingsChanged(string CombiningAlgorithm) : IntegrationEvent;

/// <summary>An ABAC attribute definition was created, updated or deleted.</summary>
public sealed record AbacAttributeChanged(Guid AttributeId, string Key, string Change) : IntegrationEvent;

/// <summary>The tenant's relationship (Zanzibar) schema got a new version.</summary>
public sealed record ZanzibarSchemaChanged(int Version, string ModelId) : IntegrationEvent;
