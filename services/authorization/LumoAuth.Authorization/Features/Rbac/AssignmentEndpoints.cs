using System.Security.Claims;
using System.Text.Json.Serialization;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Engine;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Rbac;

/// <summary>ADM-08 and ADM-40: the roles of a user and of a group, read and replaced as a whole.</summary>
public static class AssignmentEndpoints
{
    public static IEndpointRouteBuilder MapAssignmentEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin").RequireAuthorization(Policies.TenantAdmin).WithTags("Roles");
        group.MapGet("/users/{userId:guid}/roles", GetUserRoles).WithName("GetUserRoles");
        group.MapPut("/users/{userId:guid}/roles", SetUserRoles).WithName("SetUserRoles");
        group.MapGet("/groups/{groupId:guid}/roles", GetGroupRoles).WithName("GetGroupRoles");
        group.MapPut("/groups/{groupId:guid}/roles", SetGroupRoles).WithName("SetGroupRoles");

        // The user guide's forms without /admin (inventory C-21, ADM-09), answered by the same handlers.
        var guide = app.MapGroup("/t/{tenantSlug}/api/v1/users").RequireAuthorization(Policies.TenantAdmin).WithTags("Roles");
        guide.MapGet("/{userId:guid}/roles", GetUserRoles).WithName("GetUserRolesGuideForm");
        guide.MapPost("/{userId:guid}/roles", SetUserRoles).WithName("SetUserRolesGuideForm");
        app.MapPost("/t/{tenantSlug}/api/v1/groups/{groupId:guid}/roles", GrantGroupRole).RequireAuthorization(Policies.TenantAdmin)
            .WithTags("Roles").WithName("GrantGroupRoleGuideForm");
        app.MapPost(InternalRoutes.InitialRoles, GiveInitialRoles).RequireAuthorization(Policies.Internal).WithName("InternalInitialRoles").WithTags("Internal");
        app.MapPut(InternalRoutes.AgentRoles, SetAgentRoles).RequireAuthorization(Policies.Internal).WithName("InternalSetAgentRoles").WithTags("Internal");
        app.MapPut(InternalRoutes.DirectoryRoles, SetDirectoryRoles).RequireAuthorization(Policies.Internal).WithName("InternalSetDirectoryRoles").WithTags("Internal");
        return app;
    }

    /// <summary>
    /// The roles named when admin creates a user or group (ADM-02, ADM-33), written before admin saves the object: a read right
    /// after the creation shows them, and a token issued right after carries them. See <see cref="InitialRolesRequest"/>.
    /// </summary>
    public static async Task<IResult> GiveInitialRoles(InitialRolesRequest request, AuthorizationDbContext db, AdminDirectory directory, RbacStore rbac, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || (request.UserId is null) == (request.GroupId is null))
        {
            return ApiErrors.Validation("userId", "name exactly one user or group of a tenant");
        }

        if (request.Roles is null || request.Roles.Count > InitialRolesRequest.MaxRoles || request.Roles.Any(string.IsNullOrWhiteSpace))
        {
            return ApiErrors.Validation("roles", $"must be at most {InitialRolesRequest.MaxRoles} role slugs or ids");
        }

        // Only for an id admin does not know yet: an existing user's or group's roles change through PUT …/roles and its checks.
        var known = request.UserId is { } newUser
            ? await directory.UserExistsAsync(request.TenantId, newUser, cancellationToken)
            : await directory.GroupExistsAsync(request.TenantId, request.GroupId!.Value, cancellationToken);
        if (known != DirectoryAnswer.NotFound)
        {
            return known == DirectoryAnswer.Found ? ApiErrors.Duplicate("The user or group exists already; initial roles are for new ones") : AdminDirectory.Error(known, "User");
        }

        await RbacCatalog.EnsureSystemRolesAsync(db, request.TenantId, cancellationToken);
        var (slugs, unknown) = await RbacCatalog.ResolveAsync(db, request.TenantId, request.Roles, cancellationToken);
        if (unknown.Count > 0)
        {
            return TypedResults.Ok(new InitialRolesResponse([], unknown));
        }

        var subject = request.UserId is { } userId ? new SubjectRef(RbacModel.User, userId.ToString()) : RbacModel.GroupMembers(request.GroupId!.Value);
        await rbac.ReplaceRolesAsync(db, request.TenantId, subject, slugs, leaveAlone: null, cancellationToken);
        return TypedResults.Ok(new InitialRolesResponse(slugs, []));
    }

    /// <summary>
    /// The roles of an agent of the agents service's registry (it owns agents and checks who may name which roles): they
    /// replace the ones it held, as <c>PUT …/roles</c> does for users. Unknown names write nothing.
    /// </summary>
    public static async Task<IResult> SetAgentRoles(Guid agentId, AgentRolesRequest request, AuthorizationDbContext db, RbacStore rbac, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || request.Roles is null || request.Roles.Count > InitialRolesRequest.MaxRoles || request.Roles.Any(string.IsNullOrWhiteSpace))
        {
            return ApiErrors.Validation("roles", $"name a tenant and at most {InitialRolesRequest.MaxRoles} role slugs or ids");
        }

        await RbacCatalog.EnsureSystemRolesAsync(db, request.TenantId, cancellationToken);
        var (slugs, unknown) = await RbacCatalog.ResolveAsync(db, request.TenantId, request.Roles, cancellationToken);
        if (unknown.Count > 0)
        {
            return TypedResults.Ok(new InitialRolesResponse([], unknown));
        }

        await rbac.ReplaceRolesAsync(db, request.TenantId, new SubjectRef(RbacModel.Agent, agentId.ToString()), slugs, leaveAlone: null, cancellationToken);
        return TypedResults.Ok(new InitialRolesResponse(slugs, []));
    }

    /// <summary>
    /// The roles an outside directory's groups give a user at their sign-in (federation's LDAP group mappings): within the
    /// managed roles the user holds exactly the named ones; their other roles stay. Names of deleted roles are left out
    /// (logged by the caller from the answer) rather than refuse the sign-in.
    /// </summary>
    public static async Task<IResult> SetDirectoryRoles(
        Guid userId, DirectoryRolesRequest request, AuthorizationDbContext db, AdminDirectory directory, RbacStore rbac, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || request.Managed is null || request.Roles is null
            || request.Managed.Count > InitialRolesRequest.MaxRoles || request.Managed.Any(string.IsNullOrWhiteSpace)
            || request.Roles.Any(r => !request.Managed.Contains(r, StringComparer.Ordinal)))
        {
            return ApiErrors.Validation("roles", $"name a tenant, at most {InitialRolesRequest.MaxRoles} managed role slugs or ids, and roles among them");
        }

        if (await directory.UserExistsAsync(request.TenantId, userId, cancellationToken) is not DirectoryAnswer.Found and var answer)
        {
            return AdminDirectory.Error(answer, "User");
        }

        await RbacCatalog.EnsureSystemRolesAsync(db, request.TenantId, cancellationToken);
        var (managed, unknown) = await RbacCatalog.ResolveAsync(db, request.TenantId, request.Managed, cancellationToken);
        var (held, _) = await RbacCatalog.ResolveAsync(db, request.TenantId, request.Roles, cancellationToken);
        // The roles that administer the tenant are never a directory's to give or take (federation refuses them in mappings too).
        var managedSet = managed.Where(r => !AdminScopeHandler.IsPrivilegedRole(r)).ToHashSet(StringComparer.Ordinal);
        await rbac.ReplaceRolesAsync(db, request.TenantId, new SubjectRef(RbacModel.User, userId.ToString()), held, leaveAlone: r => !managedSet.Contains(r), cancellationToken);
        return TypedResults.Ok(new InitialRolesResponse(held, unknown));
    }

    public static async Task<IResult> GetUserRoles(Guid userId, AuthorizationDbContext db, TenantContext tenant, AdminDirectory directory, RbacStore rbac, CancellationToken cancellationToken)
    {
        if (await directory.UserExistsAsync(tenant.TenantId, userId, cancellationToken) is not DirectoryAnswer.Found and var answer)
        {
            return AdminDirectory.Error(answer, "User");
        }

        var subject = new SubjectRef(RbacModel.User, userId.ToString());
        var direct = await DirectRolesAsync(db, tenant.TenantId, subject, cancellationToken);
        var scope = await rbac.OpenAsync(tenant.TenantId, new ConsistencyRequirement(ConsistencyMode.FullyConsistent), cancellationToken);
        var effective = await RbacStore.RolesOfAsync(scope, subject, cancellationToken);
        var permissions = await RbacStore.PermissionsOfAsync(scope, subject, cancellationToken);
        return TypedResults.Ok(new DataResponse<SubjectRolesResponse>(new SubjectRolesResponse(
            userId.ToString(), direct, effective, [.. permissions.Select(p => p.Permission)])));
    }

    public static async Task<IResult> SetUserRoles(Guid userId, RolesRequest request, AuthorizationDbContext db, TenantContext tenant, AdminDirectory directory, RbacStore rbac, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        if (await directory.UserExistsAsync(tenant.TenantId, userId, cancellationToken) is not DirectoryAnswer.Found and var answer)
        {
            return AdminDirectory.Error(answer, "User");
        }

        return await SetRolesAsync(new SubjectRef(RbacModel.User, userId.ToString()), userId, request, db, tenant, rbac, caller, cancellationToken);
    }

    public static async Task<IResult> GetGroupRoles(Guid groupId, AuthorizationDbContext db, TenantContext tenant, AdminDirectory directory, CancellationToken cancellationToken)
    {
        if (await directory.GroupExistsAsync(tenant.TenantId, groupId, cancellationToken) is not DirectoryAnswer.Found and var answer)
        {
            return AdminDirectory.Error(answer, "Group");
        }

        var roles = await DirectRolesAsync(db, tenant.TenantId, RbacModel.GroupMembers(groupId), cancellationToken);
        return TypedResults.Ok(new DataResponse<SubjectRolesResponse>(new SubjectRolesResponse(groupId.ToString(), roles, null, null)));
    }

    public static async Task<IResult> SetGroupRoles(Guid groupId, RolesRequest request, AuthorizationDbContext db, TenantContext tenant, AdminDirectory directory, RbacStore rbac, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        if (await directory.GroupExistsAsync(tenant.TenantId, groupId, cancellationToken) is not DirectoryAnswer.Found and var answer)
        {
            return AdminDirectory.Error(answer, "Group");
        }

        return await SetRolesAsync(RbacModel.GroupMembers(groupId), groupId, request, db, tenant, rbac, caller, cancellationToken);
    }

    /// <summary>
    /// The user guide's <c>POST /groups/{id}/roles</c>: <c>{"roleId": …}</c> adds one role to those the group has;
    /// <c>{"roles": […]}</c> replaces them, like <c>PUT /admin/groups/{id}/roles</c>.
    /// </summary>
    public static async Task<IResult> GrantGroupRole(Guid groupId, GroupRoleGrant request, AuthorizationDbContext db, TenantContext tenant, AdminDirectory directory, RbacStore rbac, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        if ((request.RoleId is null) == (request.Roles is null))
        {
            return ApiErrors.Validation("roleId", "give either roleId (adds one role) or roles (replaces them all)");
        }

        if (await directory.GroupExistsAsync(tenant.TenantId, groupId, cancellationToken) is not DirectoryAnswer.Found and var answer)
        {
            return AdminDirectory.Error(answer, "Group");
        }

        var subject = RbacModel.GroupMembers(groupId);
        var roles = request.Roles ?? [.. await DirectRolesAsync(db, tenant.TenantId, subject, cancellationToken), request.RoleId!];
        return await SetRolesAsync(subject, groupId, new RolesRequest(roles), db, tenant, rbac, caller, cancellationToken);
    }

    private static async Task<IResult> SetRolesAsync(SubjectRef subject, Guid id, RolesRequest request, AuthorizationDbContext db, TenantContext tenant, RbacStore rbac, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        await RbacCatalog.EnsureSystemRolesAsync(db, tenant.TenantId, cancellationToken);
        if (request.Roles is null)
        {
            return ApiErrors.Validation("roles", "is required (an empty array removes all)");
        }

        if (request.Roles.Count > InitialRolesRequest.MaxRoles)
        {
            return ApiErrors.Validation("roles", $"must name at most {InitialRolesRequest.MaxRoles} roles");
        }

        // Roles may be named by slug or id; both resolve to the slug the tuples use.
        var (slugs, unknown) = await RbacCatalog.ResolveAsync(db, tenant.TenantId, request.Roles, cancellationToken);
        if (unknown.Count > 0)
        {
            return ApiErrors.Validation("roles", $"unknown roles: {string.Join(", ", unknown)}");
        }

        // Giving or taking the roles that administer the tenant is for full administrators, not for a resource-scoped key.
        var fullWrite = AdminScopeHandler.HasFullWrite(caller);
        var held = await DirectRolesAsync(db, tenant.TenantId, subject, cancellationToken);
        if (!fullWrite && slugs.Except(held).Concat(held.Except(slugs)).Any(AdminScopeHandler.IsPrivilegedRole))
        {
            return ApiErrors.NeedsFullWrite("Giving or taking the admin and tenant_admin roles");
        }

        // A resource-scoped caller never writes the administering roles, even if they changed since the check above.
        var revision = await rbac.ReplaceRolesAsync(db, tenant.TenantId, subject, slugs, fullWrite ? null : AdminScopeHandler.IsPrivilegedRole, cancellationToken);
        return TypedResults.Ok(new DataResponse<SubjectRolesResponse>(
            new SubjectRolesResponse(id.ToString(), slugs, null, null) { ConsistencyToken = ConsistencyToken.For(RbacModel.StoreOf(tenant.TenantId), revision) },
            "Roles updated"));
    }

    private static Task<List<string>> DirectRolesAsync(AuthorizationDbContext db, Guid tenantId, SubjectRef subject, CancellationToken cancellationToken)
    {
        var relation = subject.Relation ?? string.Empty;
        return RbacStore.Tuples(db, tenantId)
            .Where(t => t.ObjectType == RbacModel.Role && t.Relation == RbacModel.Assignee && t.SubjectType == subject.Type && t.SubjectId == subject.Id && t.SubjectRelation == relation)
            .OrderBy(t => t.ObjectId).Select(t => t.ObjectId)
            .ToListAsync(cancellationToken);
    }
}

public sealed record RolesRequest([property: JsonPropertyName("roles")] IReadOnlyList<string>? Roles);

public sealed record GroupRoleGrant(
    [property: JsonPropertyName("roleId")] string? RoleId,
    [property: JsonPropertyName("roles")] IReadOnlyList<string>? Roles);

public sealed record SubjectRolesResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("roles")] IReadOnlyList<string> Roles,
    [property: JsonPropertyName("effectiveRoles")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    IReadOnlyList<string>? EffectiveRoles,
    [property: JsonPropertyName("permissions")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    IReadOnlyList<string>? Permissions)
{
    [JsonPropertyName("consistency_token")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ConsistencyToken { get; init; }
}
