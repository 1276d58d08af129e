using System.Text.Json.Serialization;
using LumoAuth.Authorization.Data;
using LumoAuth.Contracts.Authorization;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Rbac;

/// <summary>ADM-15…21: roles, their permissions and their users.</summary>
public static class RoleEndpoints
{
    public static IEndpointRouteBuilder MapRoleEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/roles").RequireAuthorization(Policies.TenantAdmin).WithTags("Roles");
        group.MapGet(string.Empty, ListRoles).WithName("ListRoles");
        group.MapPost(string.Empty, CreateRole).WithName("CreateRole");
        group.MapGet("/{roleId}", GetRole).WithName("GetRole");
        group.MapPut("/{roleId}", UpdateRole).WithName("UpdateRole");
        group.MapDelete("/{roleId}", DeleteRole).WithName("DeleteRole");
        group.MapPut("/{roleId}/permissions", SetRolePermissions).WithName("SetRolePermissions");
        group.MapGet("/{roleId}/users", ListRoleUsers).WithName("ListRoleUsers");

        // The user guide's forms without /admin (inventory C-21), answered by the same handlers.
        var guide = app.MapGroup("/t/{tenantSlug}/api/v1/roles").RequireAuthorization(Policies.TenantAdmin).WithTags("Roles");
        guide.MapPost(string.Empty, CreateRole).WithName("CreateRoleGuideForm");
        guide.MapPost("/{roleId}/permissions", SetRolePermissions).WithName("SetRolePermissionsGuideForm");
        return app;
    }

    public static async Task<IResult> ListRoles(
        AuthorizationDbContext db, TenantContext tenant, string? search, bool? isSystem, int? page, int? limit, string? sortBy, string? sortDir, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Optional("search", search);
        var order = ListOrder.Check(validation, sortBy, sortDir, ["slug", "name", "createdAt", "updatedAt"]);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        await RbacCatalog.EnsureSystemRolesAsync(db, tenant.TenantId, cancellationToken);
        var query = db.Roles.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = LikePatterns.Containing(search);
            query = query.Where(r => EF.Functions.ILike(r.Name, pattern, LikePatterns.Escape) || EF.Functions.ILike(r.Slug, pattern, LikePatterns.Escape) || (r.Description != null && EF.Functions.ILike(r.Description, pattern, LikePatterns.Escape)));
        }

        if (isSystem is { } system)
        {
            query = query.Where(r => r.IsSystem == system);
        }

        var paging = PageRequest.From(page, limit);
        var total = await query.LongCountAsync(cancellationToken);
        var ordered = order.Key switch
        {
            "name" => order.Apply(query, r => r.Name),
            "createdAt" => order.Apply(query, r => r.CreatedAt),
            "updatedAt" => order.Apply(query, r => r.UpdatedAt),
            _ => order.Apply(query, r => r.Slug),
        };
        var roles = await ordered.ThenBy(r => r.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        var responses = await RoleResponses(db, tenant.TenantId, roles, withPermissions: false, cancellationToken);
        return TypedResults.Ok(new PagedResponse<RoleResponse>(responses, PageMeta.For(paging, total)));
    }

    public static async Task<IResult> CreateRole(RoleRequest request, AuthorizationDbContext db, TenantContext tenant, RbacStore rbac, CancellationToken cancellationToken)
    {
        await RbacCatalog.EnsureSystemRolesAsync(db, tenant.TenantId, cancellationToken);
        var slug = request.Slug ?? (request.Name is null ? null : RbacCatalog.SlugFrom(request.Name));
        var problems = new RequestValidator()
            .Required("name", request.Name)
            .Optional("description", request.Description, 1000)
            .Check(slug is null || RbacCatalog.IsSlug(slug), "slug", "must be 1-100 letters, digits, '.', ':', '-' or '_'");
        var permissions = request.Permissions ?? [];
        var unknown = await UnknownPermissionsAsync(db, permissions, cancellationToken);
        problems.Check(unknown.Count == 0, "permissions", $"unknown permissions: {string.Join(", ", unknown)}");
        if (!problems.IsValid)
        {
            return problems.ToResult();
        }

        if (await db.Roles.AnyAsync(r => r.Slug == slug, cancellationToken))
        {
            return ApiErrors.Duplicate($"A role with slug '{slug}' already exists");
        }

        // A new role starts with nobody and nothing, whatever an earlier role of the slug left behind.
        await rbac.RemoveTuplesOfMissingRoleAsync(db, tenant.TenantId, slug!, cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var role = new Role { Id = Guid.NewGuid(), TenantId = tenant.TenantId, Slug = slug!, Name = request.Name!.Trim(), Description = request.Description, CreatedAt = now, UpdatedAt = now };
        db.Roles.Add(role);
        db.AddEvent(new RoleCreated(role.Id, role.Slug, role.Name) { TenantId = tenant.TenantId });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException exception) when (LumoAuth.Messaging.Data.DbErrors.IsUniqueViolation(exception))
        {
            return ApiErrors.Duplicate($"A role with slug '{slug}' already exists");
        }

        if (permissions.Count > 0)
        {
            await rbac.ReplacePermissionsAsync(db, tenant.TenantId, role.Slug, [.. permissions.Distinct(StringComparer.Ordinal)], cancellationToken);
        }

        var response = (await RoleResponses(db, tenant.TenantId, [role], withPermissions: true, cancellationToken))[0];
        return TypedResults.Created($"/t/{tenant.Slug}/api/v1/admin/roles/{role.Id}", new DataResponse<RoleResponse>(response, "Role created"));
    }

    public static async Task<IResult> GetRole(string roleId, AuthorizationDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        await RbacCatalog.EnsureSystemRolesAsync(db, tenant.TenantId, cancellationToken);
        var role = await RbacCatalog.FindRoleAsync(db, roleId, cancellationToken);
        return role is null
            ? ApiErrors.NotFound("Role")
            : TypedResults.Ok(new DataResponse<RoleResponse>((await RoleResponses(db, tenant.TenantId, [role], withPermissions: true, cancellationToken))[0]));
    }

    public static async Task<IResult> UpdateRole(string roleId, RoleRequest request, AuthorizationDbContext db, TenantContext tenant, RbacStore rbac, CancellationToken cancellationToken)
    {
        await RbacCatalog.EnsureSystemRolesAsync(db, tenant.TenantId, cancellationToken);
        var role = await RbacCatalog.FindRoleAsync(db, roleId, cancellationToken);
        if (role is null)
        {
            return ApiErrors.NotFound("Role");
        }

        if (role.IsSystem)
        {
            return ApiErrors.Create(403, ErrorCodes.PermissionDenied, "System roles cannot be modified");
        }

        var problems = new RequestValidator()
            .Optional("name", request.Name)
            .Check(request.Name is null || request.Name.Trim().Length > 0, "name", "must not be empty")
            .Optional("description", request.Description, 1000)
            .Check(request.Slug is null || request.Slug == role.Slug, "slug", "cannot be changed");
        var unknown = await UnknownPermissionsAsync(db, request.Permissions ?? [], cancellationToken);
        problems.Check(unknown.Count == 0, "permissions", $"unknown permissions: {string.Join(", ", unknown)}");
        if (!problems.IsValid)
        {
            return problems.ToResult();
        }

        role.Name = request.Name?.Trim() ?? role.Name;
        role.Description = request.Description ?? role.Description;
        role.UpdatedAt = DateTimeOffset.UtcNow;
        db.AddEvent(new RoleUpdated(role.Id, role.Slug) { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        if (request.Permissions is { } permissions)
        {
            await rbac.ReplacePermissionsAsync(db, tenant.TenantId, role.Slug, [.. permissions.Distinct(StringComparer.Ordinal)], cancellationToken);
        }

        return TypedResults.Ok(new DataResponse<RoleResponse>((await RoleResponses(db, tenant.TenantId, [role], withPermissions: true, cancellationToken))[0], "Role updated"));
    }

    public static async Task<IResult> DeleteRole(string roleId, AuthorizationDbContext db, TenantContext tenant, RbacStore rbac, CancellationToken cancellationToken)
    {
        await RbacCatalog.EnsureSystemRolesAsync(db, tenant.TenantId, cancellationToken);
        var role = await RbacCatalog.FindRoleAsync(db, roleId, cancellationToken);
        if (role is null)
        {
            return ApiErrors.NotFound("Role");
        }

        if (role.IsSystem)
        {
            return ApiErrors.Create(403, ErrorCodes.PermissionDenied, "System roles cannot be deleted");
        }

        await rbac.DeleteRoleAsync(db, tenant.TenantId, role, cancellationToken);
        return TypedResults.Ok(new DataResponse<object>(new { id = role.Id, slug = role.Slug }, "Role deleted"));
    }

    public static async Task<IResult> SetRolePermissions(string roleId, RolePermissionsRequest request, AuthorizationDbContext db, TenantContext tenant, RbacStore rbac, CancellationToken cancellationToken)
    {
        await RbacCatalog.EnsureSystemRolesAsync(db, tenant.TenantId, cancellationToken);
        var role = await RbacCatalog.FindRoleAsync(db, roleId, cancellationToken);
        if (role is null)
        {
            return ApiErrors.NotFound("Role");
        }

        // The docs: system roles cannot be modified — their permissions neither (as through PUT /roles/{id}).
        if (role.IsSystem)
        {
            return ApiErrors.Create(403, ErrorCodes.PermissionDenied, "System roles cannot be modified");
        }

        if (request.Permissions is null)
        {
            return ApiErrors.Validation("permissions", "is required (an empty array removes all)");
        }

        var unknown = await UnknownPermissionsAsync(db, request.Permissions, cancellationToken);
        if (unknown.Count > 0)
        {
            return ApiErrors.Validation("permissions", $"unknown permissions: {string.Join(", ", unknown)}");
        }

        await rbac.ReplacePermissionsAsync(db, tenant.TenantId, role.Slug, [.. request.Permissions.Distinct(StringComparer.Ordinal)], cancellationToken);
        return TypedResults.Ok(new DataResponse<RoleResponse>((await RoleResponses(db, tenant.TenantId, [role], withPermissions: true, cancellationToken))[0], "Role permissions updated"));
    }

    public static async Task<IResult> ListRoleUsers(string roleId, AuthorizationDbContext db, TenantContext tenant, int? page, int? limit, CancellationToken cancellationToken)
    {
        await RbacCatalog.EnsureSystemRolesAsync(db, tenant.TenantId, cancellationToken);
        var role = await RbacCatalog.FindRoleAsync(db, roleId, cancellationToken);
        if (role is null)
        {
            return ApiErrors.NotFound("Role");
        }

        var query = RbacStore.Tuples(db, tenant.TenantId)
            .Where(t => t.ObjectType == RbacModel.Role && t.ObjectId == role.Slug && t.Relation == RbacModel.Assignee && t.SubjectRelation == string.Empty);
        var paging = PageRequest.From(page, limit);
        var total = await query.LongCountAsync(cancellationToken);
        var rows = await query.OrderBy(t => t.SubjectType).ThenBy(t => t.SubjectId).Skip(paging.Skip).Take(paging.Limit)
            .Select(t => new RoleAssigneeResponse(t.SubjectId, t.SubjectType))
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<RoleAssigneeResponse>(rows, PageMeta.For(paging, total)));
    }

    private static async Task<List<string>> UnknownPermissionsAsync(AuthorizationDbContext db, IReadOnlyList<string> slugs, CancellationToken cancellationToken)
    {
        if (slugs.Count == 0)
        {
            return [];
        }

        var known = await db.Permissions.Where(p => slugs.Contains(p.Slug)).Select(p => p.Slug).ToListAsync(cancellationToken);
        return [.. slugs.Except(known, StringComparer.Ordinal)];
    }

    private static async Task<List<RoleResponse>> RoleResponses(AuthorizationDbContext db, Guid tenantId, IReadOnlyList<Role> roles, bool withPermissions, CancellationToken cancellationToken)
    {
        var slugs = roles.Select(r => r.Slug).ToList();
        var tuples = RbacStore.Tuples(db, tenantId);
        var userCounts = await tuples
            .Where(t => t.ObjectType == RbacModel.Role && t.Relation == RbacModel.Assignee && t.SubjectType == RbacModel.User && slugs.Contains(t.ObjectId))
            .GroupBy(t => t.ObjectId).Select(g => new { Role = g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Role, g => g.Count, cancellationToken);
        var grants = new Dictionary<string, List<PermissionRef>>(StringComparer.Ordinal);
        if (withPermissions)
        {
            var rows = await tuples
                .Where(t => t.ObjectType == RbacModel.Permission && t.Relation == RbacModel.Granted && t.SubjectType == RbacModel.Role && slugs.Contains(t.SubjectId))
                // IgnoreQueryFilters (RBAC tuples live in their own store) reaches the joined table too: scope it by hand.
                .Join(db.Permissions.Where(p => p.TenantId == tenantId), t => t.ObjectId, p => p.Slug, (t, p) => new { Role = t.SubjectId, p.Slug, p.Name })
                .ToListAsync(cancellationToken);
            foreach (var row in rows.OrderBy(r => r.Slug, StringComparer.Ordinal))
            {
                (grants.TryGetValue(row.Role, out var list) ? list : grants[row.Role] = []).Add(new PermissionRef(row.Slug, row.Name));
            }
        }

        return [.. roles.Select(r => new RoleResponse(
            r.Id, r.Name, r.Slug, r.Description, r.IsSystem,
            withPermissions ? grants.GetValueOrDefault(r.Slug) ?? [] : null,
            userCounts.GetValueOrDefault(r.Slug), r.CreatedAt))];
    }
}

public sealed record RoleRequest(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("slug")] string? Slug,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("permissions")] IReadOnlyList<string>? Permissions);

public sealed record RolePermissionsRequest([property: JsonPropertyName("permissions")] IReadOnlyList<string>? Permissions);

public sealed record PermissionRef(
    [property: JsonPropertyName("slug")] string Slug,
    [property: JsonPropertyName("name")] string Name);

public sealed record RoleResponse(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("slug")] string Slug,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("isSystem")] bool IsSystem,
    [property: JsonPropertyName("permissions")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    IReadOnlyList<PermissionRef>? Permissions,
    [property: JsonPropertyName("userCount")] int UserCount,
    [property: JsonPropertyName("createdAt")] DateTimeOffset CreatedAt);

public sealed record RoleAssigneeResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("type")] string Type);
