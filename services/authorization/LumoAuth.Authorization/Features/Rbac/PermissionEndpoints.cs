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

/// <summary>ADM-22…27: permissions (opaque slugs) and the roles that grant them.</summary>
public static class PermissionEndpoints
{
    public static IEndpointRouteBuilder MapPermissionEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/permissions").RequireAuthorization(Policies.TenantAdmin).WithTags("Permissions");
        group.MapGet(string.Empty, ListPermissions).WithName("ListPermissions");
        group.MapPost(string.Empty, CreatePermission).WithName("CreatePermission");
        group.MapGet("/{permissionId}", GetPermission).WithName("GetPermission");
        group.MapPut("/{permissionId}", UpdatePermission).WithName("UpdatePermission");
        group.MapDelete("/{permissionId}", DeletePermission).WithName("DeletePermission");
        group.MapGet("/{permissionId}/roles", ListPermissionRoles).WithName("ListPermissionRoles");

        // The user guide's form without /admin (inventory C-21), answered by the same handler.
        app.MapPost("/t/{tenantSlug}/api/v1/permissions", CreatePermission).RequireAuthorization(Policies.TenantAdmin)
            .WithTags("Permissions").WithName("CreatePermissionGuideForm");
        return app;
    }

    public static async Task<IResult> ListPermissions(
        AuthorizationDbContext db, TenantContext tenant, string? search, string? category, bool? isSystem, int? page, int? limit, string? sortBy, string? sortDir, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Optional("search", search);
        var order = ListOrder.Check(validation, sortBy, sortDir, ["slug", "name", "category", "createdAt"]);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var query = db.Permissions.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = LikePatterns.Containing(search);
            query = query.Where(p => EF.Functions.ILike(p.Name, pattern, LikePatterns.Escape) || EF.Functions.ILike(p.Slug, pattern, LikePatterns.Escape) || (p.Description != null && EF.Functions.ILike(p.Description, pattern, LikePatterns.Escape)));
        }

        if (category is not null)
        {
            query = query.Where(p => p.Category == category);
        }

        if (isSystem is { } system)
        {
            query = query.Where(p => p.IsSystem == system);
        }

        var paging = PageRequest.From(page, limit);
        var total = await query.LongCountAsync(cancellationToken);
        var ordered = order.Key switch
        {
            "name" => order.Apply(query, p => p.Name),
            "category" => order.Apply(query, p => p.Category),
            "createdAt" => order.Apply(query, p => p.CreatedAt),
            _ => order.Apply(query, p => p.Slug),
        };
        var permissions = await ordered.ThenBy(p => p.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<PermissionResponse>(await Responses(db, tenant.TenantId, permissions, cancellationToken), PageMeta.For(paging, total)));
    }

    public static async Task<IResult> CreatePermission(
        PermissionRequest request, AuthorizationDbContext db, TenantContext tenant, RbacStore rbac, CancellationToken cancellationToken)
    {
        var slug = request.Slug ?? (request.Name is null ? null : RbacCatalog.SlugFrom(request.Name));
        var problems = new RequestValidator()
            .Required("name", request.Name)
            .Optional("description", request.Description, 1000)
            .Optional("category", request.Category, 100)
            .Check(slug is null || RbacCatalog.IsSlug(slug), "slug", "must be 1-100 letters, digits, '.', ':', '-' or '_'");
        if (!problems.IsValid)
        {
            return problems.ToResult();
        }

        // A new permission is granted by no role, whatever grants of an earlier permission of the slug were left behind.
        await rbac.RemoveTuplesOfMissingPermissionAsync(db, tenant.TenantId, slug!, cancellationToken);
        var permission = new Permission
        {
            Id = Guid.NewGuid(), TenantId = tenant.TenantId, Slug = slug!, Name = request.Name!.Trim(),
            Description = request.Description, Category = request.Category, CreatedAt = DateTimeOffset.UtcNow,
        };
        db.Permissions.Add(permission);
        db.AddEvent(new PermissionCreated(permission.Id, permission.Slug, permission.Name) { TenantId = tenant.TenantId });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException exception) when (LumoAuth.Messaging.Data.DbErrors.IsUniqueViolation(exception))
        {
            return ApiErrors.Duplicate($"A permission with slug '{slug}' already exists");
        }

        return TypedResults.Created(
            $"/t/{tenant.Slug}/api/v1/admin/permissions/{permission.Id}",
            new DataResponse<PermissionResponse>((await Responses(db, tenant.TenantId, [permission], cancellationToken))[0], "Permission created"));
    }

    public static async Task<IResult> GetPermission(string permissionId, AuthorizationDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        var permission = await RbacCatalog.FindPermissionAsync(db, permissionId, cancellationToken);
        return permission is null
            ? ApiErrors.NotFound("Permission")
            : TypedResults.Ok(new DataResponse<PermissionResponse>((await Responses(db, tenant.TenantId, [permission], cancellationToken))[0]));
    }

    public static async Task<IResult> UpdatePermission(string permissionId, PermissionRequest request, AuthorizationDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        var permission = await RbacCatalog.FindPermissionAsync(db, permissionId, cancellationToken);
        if (permission is null)
        {
            return ApiErrors.NotFound("Permission");
        }

        if (permission.IsSystem)
        {
            return ApiErrors.Create(403, ErrorCodes.PermissionDenied, "System permissions cannot be modified");
        }

        var problems = new RequestValidator()
            .Optional("name", request.Name)
            .Check(request.Name is null || request.Name.Trim().Length > 0, "name", "must not be empty")
            .Optional("description", request.Description, 1000)
            .Optional("category", request.Category, 100)
            .Check(request.Slug is null || request.Slug == permission.Slug, "slug", "cannot be changed");
        if (!problems.IsValid)
        {
            return problems.ToResult();
        }

        permission.Name = request.Name?.Trim() ?? permission.Name;
        permission.Description = request.Description ?? permission.Description;
        permission.Category = request.Category ?? permission.Category;
        db.AddEvent(new PermissionUpdated(permission.Id, permission.Slug) { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<PermissionResponse>((await Responses(db, tenant.TenantId, [permission], cancellationToken))[0], "Permission updated"));
    }

    public static async Task<IResult> DeletePermission(string permissionId, AuthorizationDbContext db, TenantContext tenant, RbacStore rbac, CancellationToken cancellationToken)
    {
        var permission = await RbacCatalog.FindPermissionAsync(db, permissionId, cancellationToken);
        if (permission is null)
        {
            return ApiErrors.NotFound("Permission");
        }

        if (permission.IsSystem)
        {
            return ApiErrors.Create(403, ErrorCodes.PermissionDenied, "System permissions cannot be deleted");
        }

        await rbac.DeletePermissionAsync(db, tenant.TenantId, permission, cancellationToken);
        return TypedResults.Ok(new DataResponse<object>(new { id = permission.Id, slug = permission.Slug }, "Permission deleted"));
    }

    public static async Task<IResult> ListPermissionRoles(string permissionId, AuthorizationDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        var permission = await RbacCatalog.FindPermissionAsync(db, permissionId, cancellationToken);
        if (permission is null)
        {
            return ApiErrors.NotFound("Permission");
        }

        var roles = await RbacStore.Tuples(db, tenant.TenantId)
            .Where(t => t.ObjectType == RbacModel.Permission && t.ObjectId == permission.Slug && t.Relation == RbacModel.Granted && t.SubjectType == RbacModel.Role)
            // IgnoreQueryFilters (RBAC tuples live in their own store) reaches the joined table too: scope it by hand.
            .Join(db.Roles.Where(r => r.TenantId == tenant.TenantId), t => t.SubjectId, r => r.Slug, (t, r) => new { r.Id, r.Slug, r.Name, r.IsSystem })
            .OrderBy(r => r.Slug)
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<IReadOnlyList<RoleSummary>>([.. roles.Select(r => new RoleSummary(r.Id, r.Slug, r.Name, r.IsSystem))]));
    }

    private static async Task<List<PermissionResponse>> Responses(AuthorizationDbContext db, Guid tenantId, IReadOnlyList<Permission> permissions, CancellationToken cancellationToken)
    {
        var slugs = permissions.Select(p => p.Slug).ToList();
        var roleCounts = await RbacStore.Tuples(db, tenantId)
            .Where(t => t.ObjectType == RbacModel.Permission && t.Relation == RbacModel.Granted && slugs.Contains(t.ObjectId))
            .GroupBy(t => t.ObjectId).Select(g => new { Permission = g.Key, Count = g.Count() })
            .ToDictionaryAsync(g => g.Permission, g => g.Count, cancellationToken);
        return [.. permissions.Select(p => new PermissionResponse(p.Id, p.Name, p.Slug, p.Description, p.Category, p.IsSystem, roleCounts.GetValueOrDefault(p.Slug)))];
    }
}

public sealed record PermissionRequest(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("slug")] string? Slug,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("category")] string? Category);

public sealed record PermissionResponse(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("slug")] string Slug,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("category")] string? Category,
    [property: JsonPropertyName("isSystem")] bool IsSystem,
    [property: JsonPropertyName("roleCount")] int RoleCount);

public sealed record RoleSummary(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("slug")] string Slug,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("isSystem")] bool IsSystem);
