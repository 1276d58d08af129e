using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Features.Relationships;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Rbac;

/// <summary>
/// AZ-01…05: RBAC checks for the caller's subject, and the internal <c>roles-of</c> for the token service.
/// A bearer token checks for its own subject; an API key (or an admin-scoped token) names the subject to check.
/// </summary>
public static class AuthzEndpoints
{
    public const string MissingPermission = "MISSING_PERMISSION";
    public const string InvalidPermissions = "INVALID_PERMISSIONS";

    public static IEndpointRouteBuilder MapAuthzEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/authz").RequireAuthorization(Policies.TenantCaller).WithTags("RBAC checks");
        group.MapPost("/check", Check).WithName("AuthzCheck");
        group.MapPost("/check-bulk", CheckBulk).WithName("AuthzCheckBulk");
        group.MapPost("/check-any", CheckAny).WithName("AuthzCheckAny");
        group.MapPost("/check-all", CheckAll).WithName("AuthzCheckAll");
        group.MapGet("/permissions", ListPermissions).WithName("AuthzPermissions");
        app.MapPost(InternalRoutes.RolesOf, RolesOf).RequireAuthorization(Policies.Internal).WithName("InternalRolesOf").WithTags("Internal");
        app.MapPost(InternalRoutes.RolesOfMany, RolesOfMany).RequireAuthorization(Policies.Internal).WithName("InternalRolesOfMany").WithTags("Internal");
        app.MapPost(InternalRoutes.Administering, Administering).RequireAuthorization(Policies.Internal).WithName("InternalAdministering").WithTags("Internal");
        return app;
    }

    public static async Task<IResult> Check(AuthzCheckRequest request, ClaimsPrincipal caller, TenantContext tenant, RbacStore rbac, CancellationToken cancellationToken)
    {
        if (request.Permission is not { ValueKind: JsonValueKind.String } given || given.GetString() is not { } permission || string.IsNullOrWhiteSpace(permission))
        {
            return ApiErrors.BadRequest(MissingPermission, request.Permission is null or { ValueKind: JsonValueKind.Null or JsonValueKind.String }
                ? "Required field 'permission' is missing"
                : "Field 'permission' must be a string");
        }

        if (!TrySubject(caller, request.Subject, out var subject, out var error))
        {
            return error!;
        }

        if (!ZanzibarInput.TryConsistency(request.Consistency, request.ConsistencyToken, out var consistency, out var consistencyError))
        {
            return new ApiErrorResult(consistencyError!);
        }

        var (scope, openError) = await rbac.TryOpenAsync(tenant.TenantId, consistency, cancellationToken);
        if (scope is null)
        {
            return new ApiErrorResult(openError!);
        }

        var allowed = RbacCatalog.IsSlug(permission) && await RbacStore.HasPermissionAsync(scope, subject, permission, cancellationToken);
        return TypedResults.Ok(new AuthzCheckResponse(allowed, permission, subject.Id, scope.ConsistencyToken));
    }

    public static async Task<IResult> CheckBulk(AuthzPermissionsRequest request, ClaimsPrincipal caller, TenantContext tenant, RbacStore rbac, CancellationToken cancellationToken)
    {
        var (results, subject, token, error) = await EvaluateAsync(request, caller, tenant, rbac, cancellationToken);
        return error ?? TypedResults.Ok(new AuthzBulkResponse(results!, subject!, request.Context, token!));
    }

    public static async Task<IResult> CheckAny(AuthzPermissionsRequest request, ClaimsPrincipal caller, TenantContext tenant, RbacStore rbac, CancellationToken cancellationToken)
    {
        var (results, subject, token, error) = await EvaluateAsync(request, caller, tenant, rbac, cancellationToken);
        return error ?? TypedResults.Ok(new AuthzCombinedResponse(results!.Values.Any(v => v), [.. results.Keys], subject!, token!));
    }

    public static async Task<IResult> CheckAll(AuthzPermissionsRequest request, ClaimsPrincipal caller, TenantContext tenant, RbacStore rbac, CancellationToken cancellationToken)
    {
        var (results, subject, token, error) = await EvaluateAsync(request, caller, tenant, rbac, cancellationToken);
        return error ?? TypedResults.Ok(new AuthzCombinedResponse(results!.Values.All(v => v), [.. results.Keys], subject!, token!));
    }

    public static async Task<IResult> ListPermissions(string? subject, ClaimsPrincipal caller, TenantContext tenant, RbacStore rbac, AuthorizationDbContext db, CancellationToken cancellationToken)
    {
        if (!TrySubject(caller, subject, out var who, out var error))
        {
            return error!;
        }

        var scope = await rbac.OpenAsync(tenant.TenantId, ConsistencyRequirement.Default, cancellationToken);
        var granted = await RbacStore.PermissionsOfAsync(scope, who, cancellationToken);
        var slugs = granted.Select(g => g.Permission).ToList();
        var roleSlugs = granted.Select(g => g.Role).Distinct().ToList();
        var descriptions = await db.Permissions.AsNoTracking().Where(p => slugs.Contains(p.Slug)).ToDictionaryAsync(p => p.Slug, p => p.Description ?? p.Name, cancellationToken);
        var roleNames = await db.Roles.AsNoTracking().Where(r => roleSlugs.Contains(r.Slug)).ToDictionaryAsync(r => r.Slug, r => r.Name, cancellationToken);
        var items = granted
            .Where(g => descriptions.ContainsKey(g.Permission))
            .Select(g => new EffectivePermission(g.Permission, descriptions[g.Permission], $"role:{roleNames.GetValueOrDefault(g.Role) ?? g.Role}"))
            .ToList();
        return TypedResults.Ok(new AuthzPermissionsResponse(who.Id, items, items.Count, scope.ConsistencyToken));
    }

    /// <summary>The token service's view: every role and permission of the subject, direct and through groups, fully consistent.</summary>
    public static async Task<IResult> RolesOf(RolesOfRequest request, RbacStore rbac, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || !TryParseSubject(request.Subject, out var subject))
        {
            return ApiErrors.Validation("subject", "must be a user id or 'type:id'");
        }

        var scope = await rbac.OpenAsync(request.TenantId, new ConsistencyRequirement(ConsistencyMode.FullyConsistent), cancellationToken);
        var (roles, whole) = await RbacStore.ListRolesAsync(scope, subject, cancellationToken);
        var permissions = await RbacStore.PermissionsOfRolesAsync(scope, roles, cancellationToken);
        // A whole listing already answers; only one that a limit or an error cut short needs the exact checks.
        var administers = whole ? roles.Any(AdminScopeHandler.IsPrivilegedRole) : await RbacStore.AdministersAsync(scope, subject, cancellationToken);
        return TypedResults.Ok(new RolesOfResponse(roles, [.. permissions.Select(p => p.Permission)]) { Administers = administers });
    }

    /// <summary>Admin's view for its user and group objects: each one's roles with their names, a page at a time.</summary>
    public static async Task<IResult> RolesOfMany(RolesOfManyRequest request, RbacStore rbac, AuthorizationDbContext db, CancellationToken cancellationToken)
    {
        var groupIds = request.GroupIds ?? [];
        if (request.TenantId == Guid.Empty || request.UserIds is null || request.UserIds.Count + groupIds.Count > RolesOfManyRequest.MaxSubjects)
        {
            return ApiErrors.Validation("userIds", $"must hold at most {RolesOfManyRequest.MaxSubjects} user and group ids of a tenant");
        }

        var slugsById = new Dictionary<Guid, IReadOnlyList<string>>();
        if (request.UserIds.Count > 0)
        {
            var consistency = request.FullyConsistent ? new ConsistencyRequirement(ConsistencyMode.FullyConsistent) : ConsistencyRequirement.Default;
            var scope = await rbac.OpenAsync(request.TenantId, consistency, cancellationToken);
            foreach (var userId in request.UserIds.Distinct())
            {
                slugsById[userId] = await RbacStore.RolesOfAsync(scope, new SubjectRef(RbacModel.User, userId.ToString()), cancellationToken);
            }
        }

        if (groupIds.Count > 0)
        {
            var keys = groupIds.Select(g => g.ToString()).ToList();
            var assigned = await RbacStore.Tuples(db, request.TenantId)
                .Where(t => t.ObjectType == RbacModel.Role && t.Relation == RbacModel.Assignee && t.SubjectType == RbacModel.Group
                    && t.SubjectRelation == RbacModel.Member && keys.Contains(t.SubjectId))
                .Select(t => new { t.SubjectId, t.ObjectId }).ToListAsync(cancellationToken);
            foreach (var groupId in groupIds.Distinct())
            {
                var id = groupId.ToString();
                slugsById[groupId] = [.. assigned.Where(a => a.SubjectId == id).Select(a => a.ObjectId).Order(StringComparer.Ordinal)];
            }
        }

        var held = slugsById.Values.SelectMany(s => s).Distinct().ToList();
        var names = await db.Roles.IgnoreQueryFilters().AsNoTracking()
            .Where(r => r.TenantId == request.TenantId && held.Contains(r.Slug))
            .ToDictionaryAsync(r => r.Slug, r => r.Name, cancellationToken);
        return TypedResults.Ok(new RolesOfManyResponse(slugsById.ToDictionary(
            s => s.Key,
            s => (IReadOnlyList<NamedRole>)[.. s.Value.Select(slug => new NamedRole(slug, names.GetValueOrDefault(slug) ?? slug))])));
    }

    /// <summary>Admin's guards: which of these users and groups administer the tenant, decided exactly on the latest tuples.</summary>
    public static async Task<IResult> Administering(AdministeringRequest request, RbacStore rbac, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || request.UserIds is null || request.GroupIds is null
            || request.UserIds.Count + request.GroupIds.Count > RolesOfManyRequest.MaxSubjects)
        {
            return ApiErrors.Validation("userIds", $"must hold at most {RolesOfManyRequest.MaxSubjects} user and group ids of a tenant");
        }

        var scope = await rbac.OpenAsync(request.TenantId, new ConsistencyRequirement(ConsistencyMode.FullyConsistent), cancellationToken);
        var subjects = request.UserIds.Distinct().Select(id => (Id: id, Subject: new SubjectRef(RbacModel.User, id.ToString())))
            .Concat(request.GroupIds.Distinct().Select(id => (Id: id, Subject: RbacModel.GroupMembers(id))));
        var administering = new List<Guid>();
        foreach (var (id, subject) in subjects)
        {
            switch (await RbacStore.AdministersAsync(scope, subject, cancellationToken))
            {
                case null:
                    return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "Whether this subject administers the tenant cannot be decided right now");
                case true:
                    administering.Add(id);
                    break;
            }
        }

        return TypedResults.Ok(new AdministeringResponse(administering));
    }

    /// <summary>1–100 permission slugs, each a non-blank string.</summary>
    private static bool TryPermissions(JsonElement? value, out List<string> permissions)
    {
        permissions = [];
        if (value is not { ValueKind: JsonValueKind.Array } array)
        {
            return false;
        }

        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(item.GetString()))
            {
                return false;
            }

            permissions.Add(item.GetString()!);
        }

        return permissions.Count is > 0 and <= 100;
    }

    private static async Task<(OrderedDictionary<string, bool>? Results, string? Subject, string? Token, IResult? Error)> EvaluateAsync(
        AuthzPermissionsRequest request, ClaimsPrincipal caller, TenantContext tenant, RbacStore rbac, CancellationToken cancellationToken)
    {
        if (!TryPermissions(request.Permissions, out var permissions))
        {
            return (null, null, null, ApiErrors.BadRequest(InvalidPermissions, "'permissions' must be a non-empty array of at most 100 permission slugs"));
        }

        if (!TrySubject(caller, request.Subject, out var subject, out var error))
        {
            return (null, null, null, error);
        }

        if (!ZanzibarInput.TryConsistency(request.Consistency, request.ConsistencyToken, out var consistency, out var consistencyError))
        {
            return (null, null, null, new ApiErrorResult(consistencyError!));
        }

        var (scope, openError) = await rbac.TryOpenAsync(tenant.TenantId, consistency, cancellationToken);
        if (scope is null)
        {
            return (null, null, null, new ApiErrorResult(openError!));
        }

        // In the order asked (first occurrence kept), so a client can pair the answer with its own list.
        var results = new OrderedDictionary<string, bool>(StringComparer.Ordinal);
        foreach (var permission in permissions.Distinct(StringComparer.Ordinal))
        {
            results[permission!] = RbacCatalog.IsSlug(permission) && await RbacStore.HasPermissionAsync(scope, subject, permission!, cancellationToken);
        }

        return (results, subject.Id, scope.ConsistencyToken, null);
    }

    /// <summary>
    /// Whose permissions: a bearer token's own subject, unless an admin-scoped caller (or an API key, which
    /// has no subject of its own) names another with <c>subject</c>.
    /// </summary>
    internal static bool TrySubject(ClaimsPrincipal caller, string? requested, out SubjectRef subject, out IResult? error)
    {
        subject = default;
        error = null;
        var isApiKey = IsApiKey(caller);
        var isAdmin = IsAdminCredential(caller);
        var own = isApiKey ? null : caller.FindFirstValue(LumoClaims.Subject);
        if (requested is not null)
        {
            if (!TryParseSubject(requested, out subject))
            {
                error = ApiErrors.Validation("subject", "must be a user id or 'type:id'");
                return false;
            }

            if (!isAdmin && (own is null || !TryParseSubject(own, out var self) || self != subject))
            {
                error = ApiErrors.Create(403, ErrorCodes.PermissionDenied, "Only an admin credential may check another subject's permissions");
                return false;
            }

            return true;
        }

        if (own is null || !TryParseSubject(own, out subject))
        {
            error = ApiErrors.Validation("subject", "is required: this credential names no user");
            return false;
        }

        return true;
    }

    /// <summary>
    /// An admin credential: an API key (the tenant's own integration) or a token with an admin scope. Only such a caller
    /// may ask about another subject, here and in ABAC checks, or supply what a check would otherwise establish itself.
    /// </summary>
    internal static bool IsAdminCredential(ClaimsPrincipal caller) =>
        IsApiKey(caller) || caller.FindAll(LumoClaims.Scope).SelectMany(c => c.Value.Split(' ')).Any(s => s is "admin" or "admin:read" or "admin.read" or "admin:write" or "admin.write");

    private static bool IsApiKey(ClaimsPrincipal caller) => caller.FindFirstValue(LumoClaims.AuthMethod) == "api_key";

    /// <summary>A bare id is a user (a Guid) or an agent/client id; <c>type:id</c> names the type.</summary>
    internal static bool TryParseSubject(string? text, out SubjectRef subject)
    {
        subject = default;
        if (string.IsNullOrWhiteSpace(text) || text.Length > 300)
        {
            return false;
        }

        if (RelationshipNotation.TryParseSubject(text, out var entity) && entity.Relation.Length == 0 && entity.Id != "*")
        {
            subject = new SubjectRef(entity.Type, entity.Id);
            return true;
        }

        if (!RelationshipNotation.IsId(text) || text == "*" || text.Contains(':', StringComparison.Ordinal))
        {
            return false;
        }

        subject = new SubjectRef(Guid.TryParse(text, out _) ? RbacModel.User : RbacModel.Agent, text);
        return true;
    }
}

public sealed record AuthzCheckRequest(
    // Read as JSON so a value that is not a string earns the documented MISSING_PERMISSION, not a body error.
    [property: JsonPropertyName("permission")] JsonElement? Permission,
    [property: JsonPropertyName("subject")] string? Subject,
    [property: JsonPropertyName("context")] JsonElement? Context,
    [property: JsonPropertyName("consistency")] string? Consistency,
    [property: JsonPropertyName("consistency_token")] string? ConsistencyToken);

public sealed record AuthzPermissionsRequest(
    // Read as JSON so a value that is not an array of strings earns the documented INVALID_PERMISSIONS, not a body error.
    [property: JsonPropertyName("permissions")] JsonElement? Permissions,
    [property: JsonPropertyName("subject")] string? Subject,
    [property: JsonPropertyName("context")] JsonElement? Context,
    [property: JsonPropertyName("consistency")] string? Consistency,
    [property: JsonPropertyName("consistency_token")] string? ConsistencyToken);

public sealed record AuthzCheckResponse(
    [property: JsonPropertyName("allowed")] bool Allowed,
    [property: JsonPropertyName("permission")] string Permission,
    [property: JsonPropertyName("user_id")] string UserId,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);

public sealed record AuthzBulkResponse(
    [property: JsonPropertyName("results")] IReadOnlyDictionary<string, bool> Results,
    [property: JsonPropertyName("user_id")] string UserId,
    [property: JsonPropertyName("context")] JsonElement? Context,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);

public sealed record AuthzCombinedResponse(
    [property: JsonPropertyName("allowed")] bool Allowed,
    [property: JsonPropertyName("permissions")] IReadOnlyList<string> Permissions,
    [property: JsonPropertyName("user_id")] string UserId,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);

public sealed record EffectivePermission(
    [property: JsonPropertyName("slug")] string Slug,
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("source")] string Source);

public sealed record AuthzPermissionsResponse(
    [property: JsonPropertyName("user_id")] string UserId,
    [property: JsonPropertyName("permissions")] IReadOnlyList<EffectivePermission> Permissions,
    [property: JsonPropertyName("count")] int Count,
    [property: JsonPropertyName("consistency_token")] string ConsistencyToken);
