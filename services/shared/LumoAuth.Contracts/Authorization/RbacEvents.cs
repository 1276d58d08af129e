namespace LumoAuth.Contracts.Authorization;

public sealed record RoleCreated(Guid RoleId, string Slug, string Name) : IntegrationEvent;

/// <summary>A role's name, description or permissions changed.</summary>
public sealed record RoleUpdated(Guid RoleId, string Slug) : IntegrationEvent;

public sealed record RoleDeleted(Guid RoleId, string Slug) : IntegrationEvent;

public sealed record PermissionCreated(Guid PermissionId, string Slug, string Name) : IntegrationEvent;

public sealed record PermissionUpdated(Guid PermissionId, string Slug) : IntegrationEvent;

public sealed record PermissionDeleted(Guid PermissionId, string Slug) : IntegrationEvent;

/// <summary>A user was given <see cref="Role"/> (its slug) directly; roles through groups are <see cref="GroupRoleAssigned"/>.</summary>
public sealed record UserRoleAssigned(Guid UserId, string Role) : IntegrationEvent;

public sealed record UserRoleRemoved(Guid UserId, string Role) : IntegrationEvent;

public sealed record GroupRoleAssigned(Guid GroupId, string Role) : IntegrationEvent;

public sealed record GroupRoleRemoved(Guid GroupId, string Role) : IntegrationEvent;
