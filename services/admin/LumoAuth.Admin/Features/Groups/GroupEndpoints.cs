using System.Security.Claims;
using System.Text;
using System.Text.Json.Serialization;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Contracts.Groups;
using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Groups;

/// <summary>Groups and their members (ADM-32…39). Group roles (ADM-40) are the authorization service's.</summary>
public static class GroupEndpoints
{
    public const int MaxMembersPerRequest = 1000;

    public static IEndpointRouteBuilder MapGroupEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/groups")
            .RequireAuthorization(Policies.TenantAdmin)
            .WithTags("Groups");
        group.MapGet("/", ListGroups).WithName("ListGroups");
        group.MapPost("/", CreateGroup).WithName("CreateGroup");
        group.MapGet("/{groupId}", GetGroup).WithName("GetGroup");
        group.MapPut("/{groupId}", UpdateGroup).WithName("UpdateGroup");
        group.MapPatch("/{groupId}", UpdateGroup).WithName("PatchGroup");
        group.MapDelete("/{groupId}", DeleteGroup).WithName("DeleteGroup");
        group.MapGet("/{groupId}/members", ListMembers).WithName("ListGroupMembers");
        group.MapPost("/{groupId}/members", AddMembers).WithName("AddGroupMembers");
        group.MapDelete("/{groupId}/members/{userId}", RemoveMember).WithName("RemoveGroupMember");

        // The user guide's forms without /admin (inventory C-21), answered by the same handlers.
        var guide = app.MapGroup("/t/{tenantSlug}/api/v1/groups").RequireAuthorization(Policies.TenantAdmin).WithTags("Groups");
        guide.MapPost("/", CreateGroup).WithName("CreateGroupGuideForm");
        guide.MapPost("/{groupId}/members", AddMembers).WithName("AddGroupMembersGuideForm");
        return app;
    }

    /// <summary>Finds a group of the tenant by UUID or slug (ADM-34). A group soft-deleted over SCIM is not found.</summary>
    public static Task<Group?> FindAsync(AdminDbContext db, string idOrSlug, CancellationToken cancellationToken, bool tracking = true)
    {
        var query = (tracking ? db.Groups : db.Groups.AsNoTracking()).Where(g => g.SoftDeletedAt == null);
        if (Guid.TryParse(idOrSlug, out var id))
        {
            return query.FirstOrDefaultAsync(g => g.Id == id, cancellationToken);
        }

        var slug = idOrSlug.ToLowerInvariant();
        return query.FirstOrDefaultAsync(g => g.Slug == slug, cancellationToken);
    }

    public static async Task<IResult> ListGroups(
        int? page, int? limit, string? search, string? sortBy, string? sortDir, AdminDbContext db, RoleHolderLookup roleHolders, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Optional("search", search);
        var order = ListOrder.Check(validation, sortBy, sortDir, ["name", "slug", "createdAt", "updatedAt"]);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var paging = PageRequest.From(page, limit);
        var groups = db.Groups.AsNoTracking().Where(g => g.SoftDeletedAt == null);
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = LikePatterns.Containing(search);
            groups = groups.Where(g => EF.Functions.ILike(g.Name, pattern, LikePatterns.Escape) || EF.Functions.ILike(g.Slug, pattern, LikePatterns.Escape));
        }

        var total = await groups.LongCountAsync(cancellationToken);
        var ordered = order.Key switch
        {
            "slug" => order.Apply(groups, g => g.Slug),
            "createdAt" => order.Apply(groups, g => g.CreatedAt),
            "updatedAt" => order.Apply(groups, g => g.UpdatedAt),
            _ => order.Apply(groups, g => g.Name),
        };
        var rows = await ordered.ThenBy(g => g.Id).Skip(paging.Skip).Take(paging.Limit)
            .Select(g => new { Group = g, Members = db.GroupMembers.Count(m => m.GroupId == g.Id) })
            .ToListAsync(cancellationToken);
        var roles = rows.Count == 0 ? null : await roleHolders.RolesOfManyAsync(rows[0].Group.TenantId, [], [.. rows.Select(r => r.Group.Id)], cancellationToken);
        return TypedResults.Ok(new PagedResponse<GroupResponse>(rows.Select(r => GroupResponse.From(r.Group, r.Members, roles)).ToList(), PageMeta.For(paging, total)));
    }

    public static async Task<IResult> CreateGroup(CreateGroupRequest request, AdminDbContext db, TenantContext tenant, InitialRoles initialRoles, RoleHolderLookup roleHolders, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        if (InitialRoles.Refuse(request.Roles, caller, "Creating a group with roles") is { } refusedRoles)
        {
            return refusedRoles;
        }

        var validation = new RequestValidator().Required("name", request.Name).Optional("description", request.Description, 1000);
        var slug = request.Slug ?? Slugify(request.Name ?? string.Empty);
        validation.Check(IsValidSlug(slug), "slug", request.Slug is null
            ? "could not be derived from the name; give a slug of lowercase letters, digits, '-' or '_'"
            : "must be 1-100 lowercase letters, digits, '-' or '_', starting with a letter or digit");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        if (await db.Groups.AnyAsync(g => g.Slug == slug, cancellationToken))
        {
            return ApiErrors.Duplicate("A group with this slug already exists");
        }

        var now = DateTimeOffset.UtcNow;
        var group = new Group
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.TenantId, Slug = slug, Name = request.Name!.Trim(),
            Description = request.Description, CreatedAt = now, UpdatedAt = now,
        };
        // Roles live in the authorization service: written there just before the group is saved, taken back if it is not.
        var withRoles = request.Roles is { Count: > 0 };
        var mayHaveWritten = withRoles;
        IResult? error = null;
        var saved = false;
        try
        {
            if (withRoles)
            {
                (error, mayHaveWritten) = await initialRoles.GiveAsync(tenant.TenantId, null, group.Id, request.Roles!, cancellationToken);
                if (error is not null)
                {
                    return error;
                }
            }

            db.Groups.Add(group);
            db.AddEvent(new GroupCreated(group.Id, group.Slug, group.Name) { TenantId = tenant.TenantId });
            error = await SaveAsync(db, cancellationToken);
            saved = error is null;
        }
        finally
        {
            // Not saved (refused, a conflict, a timeout, a database that went away): no roles stay behind.
            if (mayHaveWritten && !saved)
            {
                await initialRoles.TakeBackAsync(tenant.TenantId, null, group.Id);
            }
        }

        if (error is not null)
        {
            return error;
        }

        var roles = withRoles ? await roleHolders.RolesJustGivenAsync(tenant.TenantId, [], [group.Id], cancellationToken) : new Dictionary<Guid, IReadOnlyList<NamedRole>>();
        return TypedResults.Created($"/t/{tenant.Slug}/api/v1/admin/groups/{group.Id}", new DataResponse<GroupResponse>(GroupResponse.From(group, 0, roles), "Group created"));
    }

    public static async Task<IResult> GetGroup(string groupId, AdminDbContext db, RoleHolderLookup roleHolders, CancellationToken cancellationToken)
    {
        var group = await FindAsync(db, groupId, cancellationToken, tracking: false);
        if (group is null)
        {
            return ApiErrors.NotFound("Group");
        }

        return TypedResults.Ok(new DataResponse<GroupResponse>(await ViewAsync(db, roleHolders, group, cancellationToken)));
    }

    public static async Task<IResult> UpdateGroup(string groupId, UpdateGroupRequest request, AdminDbContext db, RoleHolderLookup roleHolders, CancellationToken cancellationToken)
    {
        var found = await FindAsync(db, groupId, cancellationToken, tracking: false);
        if (found is null)
        {
            return ApiErrors.NotFound("Group");
        }

        var validation = new RequestValidator().Optional("name", request.Name).Optional("description", request.Description, 1000);
        validation.Check(request.Name is null || request.Name.Trim().Length > 0, "name", "must not be empty");
        validation.Check(request.Slug is null || IsValidSlug(request.Slug), "slug", "must be 1-100 lowercase letters, digits, '-' or '_'");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        // The answer asks the authorization service for the group's roles: after the commit, so no call to another service
        // holds the group's lock (and a rename's locks on its members' rows).
        return await WithGroupLockedAsync(db, found.Id, group => ApplyUpdateAsync(group, request, db, cancellationToken), cancellationToken,
            answer: async group => TypedResults.Ok(new DataResponse<GroupResponse>(await ViewAsync(db, roleHolders, group, cancellationToken), "Group updated")));
    }

    /// <summary>Applies the update to the locked group; an error, or null once it is saved.</summary>
    private static async Task<IResult?> ApplyUpdateAsync(Group group, UpdateGroupRequest request, AdminDbContext db, CancellationToken cancellationToken)
    {
        var changed = false;
        if (request.Name is { } name && name.Trim() != group.Name)
        {
            group.Name = name.Trim();
            changed = true;
            // The name shows in each member's SCIM groups.
            await GroupMembership.TouchMembersAsync(db, group.Id, cancellationToken);
        }

        if (request.Description is { } description && (description.Length == 0 ? null : description) != group.Description)
        {
            group.Description = description.Length == 0 ? null : description;
            changed = true;
        }

        if (request.Slug is { } slug && slug != group.Slug)
        {
            if (await db.Groups.AnyAsync(g => g.Slug == slug && g.Id != group.Id, cancellationToken))
            {
                return ApiErrors.Duplicate("A group with this slug already exists");
            }

            group.Slug = slug;
            changed = true;
        }

        if (changed)
        {
            group.UpdatedAt = DateTimeOffset.UtcNow;
            db.AddEvent(new GroupUpdated(group.Id, group.Slug) { TenantId = group.TenantId });
            if (await SaveAsync(db, cancellationToken) is { } error)
            {
                return error;
            }
        }

        return null;
    }

    private static async Task<GroupResponse> ViewAsync(AdminDbContext db, RoleHolderLookup roleHolders, Group group, CancellationToken cancellationToken)
    {
        var members = await db.GroupMembers.CountAsync(m => m.GroupId == group.Id, cancellationToken);
        var roles = await roleHolders.RolesOfManyAsync(group.TenantId, [], [group.Id], cancellationToken);
        return GroupResponse.From(group, members, roles);
    }

    /// <summary>Deletes the group; its members stay and lose what the group gave them (ADM-36).</summary>
    public static async Task<IResult> DeleteGroup(string groupId, AdminDbContext db, AdministratorGuard guard, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        var found = await FindAsync(db, groupId, cancellationToken, tracking: false);
        if (found is null)
        {
            return ApiErrors.NotFound("Group");
        }

        if (await guard.RefuseGroupsAsync(caller, found.TenantId, [found.Id], cancellationToken) is { } refused)
        {
            return refused;
        }

        return await WithGroupLockedAsync(db, found.Id, async group =>
        {
            await GroupDeletion.RemoveAsync(db, group, cancellationToken);
            return TypedResults.NoContent();
        }, cancellationToken);
    }

    public static async Task<IResult> ListMembers(string groupId, int? page, int? limit, AdminDbContext db, RoleHolderLookup roleHolders, CancellationToken cancellationToken)
    {
        var group = await FindAsync(db, groupId, cancellationToken, tracking: false);
        if (group is null)
        {
            return ApiErrors.NotFound("Group");
        }

        var paging = PageRequest.From(page, limit);
        var members = db.Users.AsNoTracking().Where(u => db.GroupMembers.Any(m => m.GroupId == group.Id && m.UserId == u.Id));
        var total = await members.LongCountAsync(cancellationToken);
        var users = await members.OrderBy(u => u.NormalizedEmail).ThenBy(u => u.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<UserResponse>(await UserViews.ToResponsesAsync(db, roleHolders, users, cancellationToken), PageMeta.For(paging, total)));
    }

    /// <summary>Adds members by user UUID or email (ADM-38: <c>userIds</c>; the user guide's single <c>userId</c> too).</summary>
    public static async Task<IResult> AddMembers(string groupId, AddMembersRequest request, AdminDbContext db, AdministratorGuard guard, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        var found = await FindAsync(db, groupId, cancellationToken, tracking: false);
        if (found is null)
        {
            return ApiErrors.NotFound("Group");
        }

        if (await guard.RefuseGroupsAsync(caller, found.TenantId, [found.Id], cancellationToken) is { } refused)
        {
            return refused;
        }

        var references = (request.UserIds ?? []).Concat(request.UserId is null ? [] : [request.UserId]).Distinct().ToList();
        if (references.Count == 0 || references.Count > MaxMembersPerRequest || references.Any(r => string.IsNullOrWhiteSpace(r) || r.Length > 320))
        {
            return ApiErrors.Validation("userIds", $"must hold 1 to {MaxMembersPerRequest} user ids or emails");
        }

        var ids = references.Select(r => Guid.TryParse(r, out var id) ? id : (Guid?)null).OfType<Guid>().ToList();
        var emails = references.Where(r => !Guid.TryParse(r, out _)).Select(r => r.ToLowerInvariant()).ToList();
        var users = await db.Users.AsNoTracking().Where(u => ids.Contains(u.Id) || emails.Contains(u.NormalizedEmail))
            .Select(u => new { u.Id, u.NormalizedEmail }).ToListAsync(cancellationToken);
        var missing = references.Where(r => !users.Any(u => (Guid.TryParse(r, out var id) && u.Id == id) || string.Equals(u.NormalizedEmail, r, StringComparison.OrdinalIgnoreCase))).ToList();
        if (missing.Count > 0)
        {
            // Another tenant's user is "no such user" here, like any unknown id.
            return ApiErrors.Validation(new Dictionary<string, string[]> { ["userIds"] = missing.Select(m => $"no user '{m}'").ToArray() });
        }

        var userIds = users.Select(u => u.Id).Distinct().ToArray();
        return await WithGroupLockedAsync(db, found.Id, async group =>
        {
            // Other paths (a user's groups, SCIM users) add members without the group's lock: an insert that finds the
            // member already there is no change, and only the rows actually inserted are announced.
            var now = DateTimeOffset.UtcNow;
            var added = await db.Database.SqlQuery<Guid>($"""
                INSERT INTO group_members ("GroupId", "UserId", "TenantId", "AddedAt")
                SELECT {group.Id}, id, {group.TenantId}, {now} FROM unnest({userIds}) AS id
                ON CONFLICT ("GroupId", "UserId") DO NOTHING
                RETURNING "UserId" AS "Value"
                """).ToListAsync(cancellationToken);
            if (added.Count > 0)
            {
                db.AddEvent(new GroupMembershipChanged(group.Id, group.Slug, added, [])
                {
                    TenantId = group.TenantId, OccurredAt = await GroupMembership.ChangeTimeAsync(db, cancellationToken),
                });
                // Their groups are part of their SCIM representation: their versions move, as on every other membership path.
                await GroupMembership.TouchUsersAsync(db, added, cancellationToken);
                await db.SaveChangesAsync(cancellationToken);
            }

            var total = await db.GroupMembers.CountAsync(m => m.GroupId == group.Id, cancellationToken);
            return TypedResults.Ok(new DataResponse<object>(new { groupId = group.Id, added = added.Count, memberCount = total }, "Members added"));
        }, cancellationToken);
    }

    public static async Task<IResult> RemoveMember(string groupId, string userId, AdminDbContext db, AdministratorGuard guard, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        var found = await FindAsync(db, groupId, cancellationToken, tracking: false);
        if (found is null)
        {
            return ApiErrors.NotFound("Group");
        }

        if (await guard.RefuseGroupsAsync(caller, found.TenantId, [found.Id], cancellationToken) is { } refused)
        {
            return refused;
        }

        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        if (user is null)
        {
            return ApiErrors.NotFound("Group member");
        }

        return await WithGroupLockedAsync(db, found.Id, async group =>
        {
            if (!await db.GroupMembers.AnyAsync(m => m.GroupId == group.Id && m.UserId == user.Id, cancellationToken))
            {
                return ApiErrors.NotFound("Group member");
            }

            await GroupMembership.ChangeMembersAsync(db, group, [], [user.Id], cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
            return TypedResults.NoContent();
        }, cancellationToken);
    }

    /// <summary>
    /// Runs a change of the group in a transaction holding the group's row, as SCIM's group writes do: concurrent changes of
    /// one group (two adds of a member, an add and the deletion, two deletions) take turns, and each reads the group as the
    /// one before left it — gone or soft-deleted, then 404 rather than a foreign-key or row-version failure. NO KEY UPDATE,
    /// so member inserts elsewhere (which only share the key) are not blocked. A row-version conflict with a writer that
    /// takes no lock is 409, or 404 when the group went away.
    /// </summary>
    private static async Task<IResult> WithGroupLockedAsync(
        AdminDbContext db, Guid groupId, Func<Group, Task<IResult?>> change, CancellationToken cancellationToken, Func<Group, Task<IResult>>? answer = null)
    {
        var strategy = db.Database.CreateExecutionStrategy();
        try
        {
            Group? changed = null;
            var result = await strategy.ExecuteAsync(async () =>
            {
                db.ChangeTracker.Clear();
                await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
                await db.Database.ExecuteSqlAsync($"""SELECT 1 FROM groups WHERE "Id" = {groupId} FOR NO KEY UPDATE""", cancellationToken);
                var group = await db.Groups.FirstOrDefaultAsync(g => g.Id == groupId && g.SoftDeletedAt == null, cancellationToken);
                if (group is null)
                {
                    return ApiErrors.NotFound("Group");
                }

                var result = await change(group);
                await transaction.CommitAsync(cancellationToken);
                changed = group;
                return result;
            });

            // A change that answers null is answered once committed, outside the lock.
            return result ?? await answer!(changed!);
        }
        catch (DbUpdateConcurrencyException)
        {
            db.ChangeTracker.Clear();
            return await db.Groups.AnyAsync(g => g.Id == groupId && g.SoftDeletedAt == null, cancellationToken)
                ? ApiErrors.Create(StatusCodes.Status409Conflict, ErrorCodes.InvalidRequest, "The group changed concurrently; retry")
                : ApiErrors.NotFound("Group");
        }
    }

    public static bool IsValidSlug(string slug) =>
        slug.Length is > 0 and <= 100 && (char.IsAsciiLetterLower(slug[0]) || char.IsAsciiDigit(slug[0]))
        && slug.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_');

    /// <summary>"Design Team" → "design-team" (slugs auto-generate from the name when omitted).</summary>
    public static string Slugify(string name)
    {
        var builder = new StringBuilder();
        foreach (var c in name.Trim().ToLowerInvariant().Normalize(NormalizationForm.FormD))
        {
            if (char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c))
            {
                builder.Append(c);
            }
            else if ((char.IsWhiteSpace(c) || c is '-' or '_' or '.') && builder.Length > 0 && builder[^1] != '-')
            {
                builder.Append('-');
            }
        }

        var slug = builder.ToString().Trim('-');
        return slug.Length > 100 ? slug[..100].TrimEnd('-') : slug;
    }

    private static async Task<IResult?> SaveAsync(AdminDbContext db, CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return null;
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            return ApiErrors.Duplicate("A group with this slug already exists");
        }
    }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateGroupRequest(string? Name, string? Slug, string? Description, IReadOnlyList<string>? Roles);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record UpdateGroupRequest(string? Name, string? Slug, string? Description);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record AddMembersRequest(IReadOnlyList<string>? UserIds, string? UserId);

/// <summary><c>roles</c> are those assigned to the group, as the authorization service holds them; null when it could not be asked.</summary>
public sealed record GroupResponse(
    Guid Id, string Name, string Slug, string? Description, int MemberCount, IReadOnlyList<RoleRef>? Roles, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static GroupResponse From(Group g, int memberCount, IReadOnlyDictionary<Guid, IReadOnlyList<NamedRole>>? roles) =>
        new(g.Id, g.Name, g.Slug, g.Description, memberCount, UserViews.RolesOf(roles, g.Id), g.CreatedAt, g.UpdatedAt);
}
