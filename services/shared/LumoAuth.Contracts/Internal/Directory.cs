namespace LumoAuth.Contracts.Internal;

/// <summary>
/// <c>GET /internal/v1/groups/{groupId}</c> with <c>?tenantId=</c> (admin): whether the tenant has the group.
/// Another tenant's group is a 404, exactly like a missing one.
/// </summary>
public sealed record GroupSummary(Guid Id, Guid TenantId, string Slug, string Name);

/// <summary>
/// <c>GET /internal/v1/roles/{role}/users</c> with <c>?tenantId=</c> (authorization): the users holding the role
/// (by slug), directly or through a group. The list is bounded; <see cref="IsComplete"/> is false when the bound
/// cut it short, so a caller never mistakes a partial list for the whole.
/// </summary>
public sealed record RoleHolders(IReadOnlyList<Guid> UserIds, bool IsComplete);
