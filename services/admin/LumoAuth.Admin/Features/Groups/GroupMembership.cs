using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Groups;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Groups;

/// <summary>
/// Every membership change goes through here, so each one publishes <see cref="GroupMembershipChanged"/>
/// (authorization derives group roles from it) in the same SaveChanges as the change itself.
/// </summary>
public static class GroupMembership
{
    /// <summary>
    /// Finds groups by id or slug; returns the found groups and the references that matched nothing (a null or blank one
    /// among them, or a group soft-deleted over SCIM, which nobody may join).
    /// </summary>
    public static async Task<(List<Group> Found, List<string> Missing)> ResolveAsync(AdminDbContext db, IReadOnlyCollection<string?> references, CancellationToken cancellationToken)
    {
        var given = references.Where(r => !string.IsNullOrWhiteSpace(r)).Select(r => r!).ToList();
        var ids = given.Select(r => Guid.TryParse(r, out var id) ? id : (Guid?)null).OfType<Guid>().ToList();
        var slugs = given.Where(r => !Guid.TryParse(r, out _)).Select(r => r.ToLowerInvariant()).ToList();
        var found = await db.Groups.Where(g => g.SoftDeletedAt == null && (ids.Contains(g.Id) || slugs.Contains(g.Slug))).ToListAsync(cancellationToken);
        var missing = references
            .Where(r => string.IsNullOrWhiteSpace(r) || !found.Any(g => Names(r, g)))
            .Select(r => r ?? "null")
            .ToList();
        return (found, missing);
    }

    /// <summary>Whether <paramref name="reference"/> (an id, or a slug in any letter case) names <paramref name="group"/>.</summary>
    public static bool Names(string? reference, Group group) =>
        reference is not null && ((Guid.TryParse(reference, out var id) && group.Id == id) || string.Equals(group.Slug, reference, StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Holds the groups a user is about to join until the caller's transaction ends; returns those still live. A member
    /// insert's own foreign-key check finds a soft-deleted group's row, so a group resolved live and soft-deleted since
    /// would take the member (and give them its roles). KEY SHARE lets member writers through each other, but a soft
    /// delete (FOR UPDATE) waits for this transaction, and one that got there first is seen: PostgreSQL reads a row again
    /// after waiting for its lock.
    /// </summary>
    public static async Task<IReadOnlySet<Guid>> LockLiveAsync(AdminDbContext db, Guid tenantId, IEnumerable<Guid> groupIds, CancellationToken cancellationToken)
    {
        var ids = groupIds.Distinct().ToArray();
        if (ids.Length == 0)
        {
            return new HashSet<Guid>();
        }

        // Outside a transaction the lock would end with the statement, and the member insert after it would not be covered.
        if (db.Database.CurrentTransaction is null)
        {
            throw new InvalidOperationException("Groups are locked for joining only inside the transaction that adds the members");
        }

        var live = await db.Database.SqlQuery<Guid>($"""
            SELECT "Id" AS "Value" FROM groups
            WHERE "Id" = ANY({ids}) AND "TenantId" = {tenantId} AND "SoftDeletedAt" IS NULL
            FOR KEY SHARE
            """).ToListAsync(cancellationToken);
        return live.ToHashSet();
    }

    /// <summary>
    /// The refusal for joining groups that <see cref="LockLiveAsync"/> no longer found (soft-deleted since they were
    /// resolved): the references naming them, each "no group", as an unknown group is refused. Null when all are live.
    /// </summary>
    public static IResult? RefuseGone(IEnumerable<string?> references, IEnumerable<Group> joining, IReadOnlySet<Guid> live)
    {
        var gone = joining.Where(g => !live.Contains(g.Id)).ToList();
        return gone.Count == 0 ? null : ApiErrors.Validation(new Dictionary<string, string[]>
        {
            ["groups"] = [.. references.Where(r => gone.Any(g => Names(r, g))).Distinct().Select(r => $"no group '{r}'")],
        });
    }

    /// <summary>
    /// Makes <paramref name="groups"/> exactly the user's groups. Groups the user joins must be held with
    /// <see cref="LockLiveAsync"/> in the caller's transaction first.
    /// </summary>
    public static async Task ReplaceGroupsOfUserAsync(AdminDbContext db, Guid tenantId, Guid userId, IReadOnlyCollection<Group> groups, CancellationToken cancellationToken)
    {
        var current = await db.GroupMembers.Where(m => m.UserId == userId).ToListAsync(cancellationToken);
        var wanted = groups.Select(g => g.Id).ToHashSet();
        foreach (var membership in current.Where(m => !wanted.Contains(m.GroupId)))
        {
            db.GroupMembers.Remove(membership);
        }

        var now = DateTimeOffset.UtcNow;
        var currentIds = current.Select(m => m.GroupId).ToHashSet();
        foreach (var group in groups.Where(g => !currentIds.Contains(g.Id)))
        {
            db.GroupMembers.Add(new GroupMember { GroupId = group.Id, UserId = userId, TenantId = tenantId, AddedAt = now });
        }

        var removedGroupIds = currentIds.Where(id => !wanted.Contains(id)).ToList();
        var joined = groups.Where(g => !currentIds.Contains(g.Id)).ToList();
        if (removedGroupIds.Count == 0 && joined.Count == 0)
        {
            return;
        }

        var slugs = await db.Groups.Where(g => removedGroupIds.Contains(g.Id)).ToDictionaryAsync(g => g.Id, g => g.Slug, cancellationToken);
        var at = await ChangeTimeAsync(db, cancellationToken);
        foreach (var groupId in removedGroupIds)
        {
            db.AddEvent(new GroupMembershipChanged(groupId, slugs.GetValueOrDefault(groupId, string.Empty), [], [userId]) { TenantId = tenantId, OccurredAt = at });
        }

        foreach (var group in joined)
        {
            db.AddEvent(new GroupMembershipChanged(group.Id, group.Slug, [userId], []) { TenantId = tenantId, OccurredAt = at });
        }

        await TouchUsersAsync(db, [userId], cancellationToken);
    }

    /// <summary>
    /// The time a membership event carries: the database's clock, read after the membership the change was decided on.
    /// Authorization keeps, per member, the event with the latest time, so that time must follow the order of the
    /// changes. Two changes of one membership that both take effect are ordered by PostgreSQL (the later one read, or
    /// waited for, the row the earlier one committed), and this clock is read after that; each admin replica's own
    /// clock (which may run ahead of another's) would not be.
    /// </summary>
    public static async Task<DateTimeOffset> ChangeTimeAsync(AdminDbContext db, CancellationToken cancellationToken) =>
        await db.Database.SqlQuery<DateTimeOffset>($"SELECT clock_timestamp() AS \"Value\"").SingleAsync(cancellationToken);

    /// <summary>Adds and removes members of one group; only actual changes are written and published.</summary>
    public static async Task<(int Added, int Removed)> ChangeMembersAsync(
        AdminDbContext db, Group group, IReadOnlyCollection<Guid> add, IReadOnlyCollection<Guid> remove, CancellationToken cancellationToken)
    {
        var touched = add.Concat(remove).Distinct().ToList();
        var existing = await db.GroupMembers.Where(m => m.GroupId == group.Id && touched.Contains(m.UserId)).ToListAsync(cancellationToken);
        var existingIds = existing.Select(m => m.UserId).ToHashSet();
        var removing = remove.ToHashSet();
        var now = DateTimeOffset.UtcNow;
        var added = add.Distinct().Where(id => !existingIds.Contains(id) && !removing.Contains(id)).ToList();
        foreach (var userId in added)
        {
            db.GroupMembers.Add(new GroupMember { GroupId = group.Id, UserId = userId, TenantId = group.TenantId, AddedAt = now });
        }

        var removed = existing.Where(m => removing.Contains(m.UserId)).ToList();
        db.GroupMembers.RemoveRange(removed);
        if (added.Count > 0 || removed.Count > 0)
        {
            db.AddEvent(new GroupMembershipChanged(group.Id, group.Slug, added, removed.Select(m => m.UserId).ToList())
            {
                TenantId = group.TenantId, OccurredAt = await ChangeTimeAsync(db, cancellationToken),
            });
            await TouchUsersAsync(db, [.. added, .. removed.Select(m => m.UserId)], cancellationToken);
        }

        return (added.Count, removed.Count);
    }

    /// <summary>Makes <paramref name="userIds"/> exactly the group's members (SCIM PUT and PATCH replace).</summary>
    public static async Task<(int Added, int Removed)> ReplaceMembersAsync(AdminDbContext db, Group group, IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken)
    {
        var current = await db.GroupMembers.Where(m => m.GroupId == group.Id).Select(m => m.UserId).ToListAsync(cancellationToken);
        return await ChangeMembersAsync(db, group, userIds.Except(current).ToList(), current.Except(userIds).ToList(), cancellationToken);
    }

    /// <summary>A rename changes how the group appears in each member's <c>groups</c>: their versions move (see <see cref="TouchUsersAsync"/>).</summary>
    public static async Task TouchMembersAsync(AdminDbContext db, Guid groupId, CancellationToken cancellationToken) =>
        await TouchUsersAsync(db, await db.GroupMembers.Where(m => m.GroupId == groupId).Select(m => m.UserId).ToListAsync(cancellationToken), cancellationToken);

    /// <summary>
    /// A user's groups are part of their SCIM representation, whose version (ETag, the row's xmin) and lastModified must
    /// move when it changes (RFC 7644 §3.14; RFC 7643 §3.1), or a conditional GET answers a stale 304. So the users whose
    /// groups changed are written too: in the change's own save where the context tracks them, in one statement otherwise.
    /// Group writers hold the group's row and then these; a user's writer takes only key shares of groups, which the group
    /// writers' lock lets through, so neither waits for the other in turn.
    /// </summary>
    public static async Task TouchUsersAsync(AdminDbContext db, IReadOnlyCollection<Guid> userIds, CancellationToken cancellationToken)
    {
        if (userIds.Count == 0)
        {
            return;
        }

        var now = DateTimeOffset.UtcNow;
        var tracked = db.ChangeTracker.Entries<User>().Where(e => userIds.Contains(e.Entity.Id)).ToList();
        foreach (var entry in tracked.Where(e => e.State is EntityState.Unchanged or EntityState.Modified))
        {
            entry.Entity.UpdatedAt = now;
        }

        var others = userIds.Except(tracked.Select(e => e.Entity.Id)).Distinct().ToList();
        if (others.Count > 0)
        {
            await db.Users.Where(u => others.Contains(u.Id)).ExecuteUpdateAsync(u => u.SetProperty(x => x.UpdatedAt, now), cancellationToken);
        }
    }
}
