namespace LumoAuth.Contracts.Groups;

public sealed record GroupCreated(Guid GroupId, string Slug, string Name) : IntegrationEvent;

public sealed record GroupUpdated(Guid GroupId, string Slug) : IntegrationEvent;

public sealed record GroupDeleted(Guid GroupId, string Slug) : IntegrationEvent;

/// <summary>Authorization honours group roles from these (set semantics: safe to apply twice, in any order per user).</summary>
public sealed record GroupMembershipChanged(Guid GroupId, string Slug, IReadOnlyList<Guid> AddedUserIds, IReadOnlyList<Guid> RemovedUserIds) : IntegrationEvent;
