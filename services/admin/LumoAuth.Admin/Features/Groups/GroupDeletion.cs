using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Groups;
using LumoAuth.Messaging.Outbox;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Groups;

/// <summary>
/// The two ways a group goes, shared by REST and SCIM. Both expect the caller's transaction to hold the group's row
/// (<c>FOR NO KEY UPDATE</c>), as every group write does.
/// </summary>
public static class GroupDeletion
{
    /// <summary>
    /// SCIM's default DELETE. The row stays, flagged, for the <c>isSoftDeleted</c> filter and a later hard delete; everywhere
    /// else the group is absent. Its members leave now (one <see cref="GroupMembershipChanged"/>), so they lose its roles at
    /// once and no reader of memberships (token <c>groups</c>, a user's groups, the administrator guard) needs to know about
    /// the flag. The group's own role assignments stay in the authorization service until <see cref="RemoveAsync"/>.
    /// </summary>
    public static async Task SoftDeleteAsync(AdminDbContext db, Group group, CancellationToken cancellationToken)
    {
        // A member insert elsewhere (a user's groups) holds only a key share of this row, which the writers' lock lets
        // through: waiting for those still in flight makes the sweep below see their members too.
        await db.Database.ExecuteSqlAsync($"""SELECT 1 FROM groups WHERE "Id" = {group.Id} FOR UPDATE""", cancellationToken);
        await GroupMembership.ReplaceMembersAsync(db, group, [], cancellationToken);

        var now = DateTimeOffset.UtcNow;
        group.SoftDeletedAt = now;
        group.UpdatedAt = now;
        // Nothing can bring the group back, so its slug is given up at once: a new group (REST or SCIM) may take it.
        group.Slug = ReleasedSlug(group.Id);
        db.AddEvent(new GroupUpdated(group.Id, group.Slug) { TenantId = group.TenantId });
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>Deletes the group for good; its members stay and lose what it gave them (ADM-36, ADM-86).</summary>
    public static async Task RemoveAsync(AdminDbContext db, Group group, CancellationToken cancellationToken)
    {
        await GroupMembership.ReplaceMembersAsync(db, group, [], cancellationToken);
        db.Groups.Remove(group);
        db.AddEvent(new GroupDeleted(group.Id, group.Slug) { TenantId = group.TenantId });
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>The slug a soft-deleted group keeps: unique, and never a valid slug (':'), so no live group can ask for it.</summary>
    public static string ReleasedSlug(Guid groupId) => $"deleted:{groupId:N}";
}
