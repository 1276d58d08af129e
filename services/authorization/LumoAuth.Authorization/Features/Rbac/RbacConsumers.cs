using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Features.Abac;
using LumoAuth.Contracts.Groups;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Consumers;
using LumoAuth.Messaging.Inbox;
using LumoAuth.ServiceDefaults.Errors;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Rbac;

/// <summary>
/// Keeps group membership tuples in step with admin, so group roles reach their members. Idempotent by set
/// semantics: adding a present member or removing an absent one changes nothing.
/// </summary>
public sealed class GroupMembershipConsumer(AuthorizationDbContext db, RbacStore rbac) : IConsumer<GroupMembershipChanged>
{
    public Task Consume(ConsumeContext<GroupMembershipChanged> context) =>
        GroupMemberships.ApplyAsync(db, rbac, context.Message, context.CancellationToken);
}

/// <summary>
/// Applies a membership change per user, unless a later change for the same (group, user) was recorded: delivery is
/// at least once and unordered, so "added" then "removed" may arrive reversed, or be handled at once by two consumers.
/// An equal timestamp is applied again (a redelivery), which set semantics make harmless.
/// </summary>
public static class GroupMemberships
{
    public static async Task ApplyAsync(AuthorizationDbContext db, RbacStore rbac, GroupMembershipChanged message, CancellationToken cancellationToken)
    {
        var recorded = await RecordAsync(db, message, cancellationToken);
        await ApplyRecordedAsync(db, rbac, message, recorded, cancellationToken);
    }

    /// <summary>
    /// Records the event's time for each of its users unless a later one is recorded; the users for whom this event
    /// is (so far) the latest.
    /// </summary>
    public static async Task<IReadOnlyList<(Guid UserId, bool Added)>> RecordAsync(AuthorizationDbContext db, GroupMembershipChanged message, CancellationToken cancellationToken)
    {
        if (message.TenantId is not { } tenantId)
        {
            return [];
        }

        // One statement for all the event's users (a deleted group names every member); a user named twice counts once.
        var changes = message.AddedUserIds.Select(u => (UserId: u, Added: true)).Concat(message.RemovedUserIds.Select(u => (UserId: u, Added: false)))
            .DistinctBy(c => c.UserId).ToList();
        // In one order, so two events for the group at once take the users' rows in the same order and never deadlock.
        var users = changes.Select(c => c.UserId).Order().ToArray();
        // A user's row comes back only when this event is current for them.
        var current = (await db.Database.SqlQuery<Guid>($"""
            INSERT INTO group_membership_versions ("TenantId", "GroupId", "UserId", "OccurredAt")
            SELECT {tenantId}, {message.GroupId}, u, {message.OccurredAt} FROM unnest({users}) AS u ORDER BY u
            ON CONFLICT ("TenantId", "GroupId", "UserId") DO UPDATE SET "OccurredAt" = excluded."OccurredAt"
            WHERE group_membership_versions."OccurredAt" <= excluded."OccurredAt"
            RETURNING "UserId" AS "Value"
            """).ToListAsync(cancellationToken)).ToHashSet();
        return [.. changes.Where(c => current.Contains(c.UserId))];
    }

    /// <summary>
    /// Writes or deletes the recorded users' membership tuples. A later event for a user may have been recorded since
    /// (and applied first): the versions are read again under the tenant's write lock, and only users for whom this
    /// event is still the latest are changed — so an older "added" never lands after a newer "removed".
    /// </summary>
    public static async Task ApplyRecordedAsync(
        AuthorizationDbContext db, RbacStore rbac, GroupMembershipChanged message, IReadOnlyList<(Guid UserId, bool Added)> recorded, CancellationToken cancellationToken)
    {
        if (message.TenantId is not { } tenantId || recorded.Count == 0)
        {
            return;
        }

        var group = new ObjectRef(RbacModel.Group, message.GroupId.ToString());
        var writes = recorded.Where(r => r.Added).Select(r => new RelationshipTuple(group, RbacModel.Member, new SubjectRef(RbacModel.User, r.UserId.ToString()))).ToList();
        var deletes = recorded.Where(r => !r.Added).Select(r => new TupleKey(group, RbacModel.Member, new SubjectRef(RbacModel.User, r.UserId.ToString()))).ToList();
        var users = recorded.Select(r => r.UserId).ToArray();
        await rbac.ApplyAsync(db, tenantId, writes, deletes, cancellationToken, async ct =>
        {
            var latest = (await db.Database.SqlQuery<Guid>($"""
                SELECT "UserId" AS "Value" FROM group_membership_versions
                WHERE "TenantId" = {tenantId} AND "GroupId" = {message.GroupId} AND "OccurredAt" = {message.OccurredAt} AND "UserId" = ANY({users})
                """).ToListAsync(ct)).Select(u => u.ToString()).ToHashSet(StringComparer.Ordinal);
            return key => latest.Contains(key.Subject.Id);
        });
    }
}

/// <summary>A deleted group's roles and memberships go with it.</summary>
public sealed class GroupDeletedConsumer(AuthorizationDbContext db, RbacStore rbac) : IConsumer<GroupDeleted>
{
    public async Task Consume(ConsumeContext<GroupDeleted> context)
    {
        if (context.Message.TenantId is { } tenantId)
        {
            await rbac.RemoveAllAsync(db, tenantId, RbacModel.GroupMembers(context.Message.GroupId), null, context.CancellationToken);
            await rbac.RemoveAllAsync(db, tenantId, null, new ObjectRef(RbacModel.Group, context.Message.GroupId.ToString()), context.CancellationToken);
        }
    }
}

/// <summary>
/// An accepted invitation gives the new user the roles it named (by slug or id). Roles deleted since the invitation
/// was sent are skipped; a user deleted meanwhile gets none. Once only, through the inbox: a redelivery must not give
/// back a role an administrator took away after the first delivery.
/// </summary>
public sealed class InvitationAcceptedConsumer(AuthorizationDbContext db, RbacStore rbac, AdminDirectory directory, ILogger<InvitationAcceptedConsumer> logger)
    : IConsumer<UserInvitationAccepted>
{
    public const string InboxConsumer = "authz-invitation-roles";

    public async Task Consume(ConsumeContext<UserInvitationAccepted> context)
    {
        var message = context.Message;
        if (message.TenantId is not { } tenantId || message.Roles.Count == 0)
        {
            return;
        }

        // Asked before the inbox transaction opens, so no transaction waits on the admin service.
        switch (await directory.UserExistsAsync(tenantId, message.UserId, context.CancellationToken))
        {
            case DirectoryAnswer.NotFound:
                return;
            case DirectoryAnswer.Unavailable:
                // An outage: the message waits (for days if need be) rather than leaving the roles in an error queue.
                throw new DependencyUnavailableException("The admin service did not answer; the invitation's roles wait for a retry.");
        }

        // Seeded in its own statement: this replica remembers a tenant as seeded, which a rolled-back transaction would belie.
        await RbacCatalog.EnsureSystemRolesAsync(db, tenantId, context.CancellationToken);
        // The relay publishes each outbox row under its id, so a redelivery carries the same message id; one acceptance
        // raises one event, so the invitation id stands in should a message come without one.
        var inboxKey = context.MessageId ?? message.InvitationId;
        var revision = 0L;
        var handled = await db.HandleOnceAsync(InboxConsumer, inboxKey, async ct =>
        {
            var (slugs, unknown) = await RbacCatalog.ResolveAsync(db, tenantId, message.Roles, ct);
            if (unknown.Count > 0)
            {
                logger.LogWarning("Invitation {InvitationId}: {Missing} of its roles do not exist and were not assigned", message.InvitationId, unknown.Count);
            }

            var user = new SubjectRef(RbacModel.User, message.UserId.ToString());
            var writes = slugs.Select(slug => new RelationshipTuple(new ObjectRef(RbacModel.Role, slug), RbacModel.Assignee, user)).ToList();
            // Joins the inbox transaction: the role tuples, their events and the inbox row commit together.
            revision = await rbac.ApplyAsync(db, tenantId, writes, [], ct);
        }, context.CancellationToken);
        if (handled)
        {
            await rbac.AfterCommitAsync(tenantId, revision, context.CancellationToken);
        }
    }
}

/// <summary>
/// A deleted (or erased) user keeps no role assignments, group memberships or stored ABAC subject attributes. The
/// membership versions stay: they hold only ids, and a late membership event must still be recognised as stale.
/// </summary>
public sealed class UserDeletedConsumer(AuthorizationDbContext db, RbacStore rbac) : IConsumer<UserDeleted>
{
    public async Task Consume(ConsumeContext<UserDeleted> context)
    {
        if (context.Message.TenantId is { } tenantId)
        {
            var userId = context.Message.UserId.ToString();
            await rbac.RemoveAllAsync(db, tenantId, new SubjectRef(RbacModel.User, userId), null, context.CancellationToken);
            const string subjectUser = AbacRequests.SubjectEntityPrefix + RbacModel.User;
            await db.AbacEntityAttributes.IgnoreQueryFilters()
                .Where(a => a.TenantId == tenantId && a.EntityType == subjectUser && a.EntityId == userId)
                .ExecuteDeleteAsync(context.CancellationToken);
        }
    }
}

/// <summary>An agent's deletion takes away its roles and every other relationship naming it as a subject.</summary>
public sealed class AgentDeletedConsumer(AuthorizationDbContext db, RbacStore rbac) : IConsumer<Contracts.Agents.AgentDeleted>
{
    public async Task Consume(ConsumeContext<Contracts.Agents.AgentDeleted> context)
    {
        if (context.Message.TenantId is { } tenantId)
        {
            var agentId = context.Message.AgentId.ToString();
            await rbac.RemoveAllAsync(db, tenantId, new SubjectRef(RbacModel.Agent, agentId), null, context.CancellationToken);
            const string subjectAgent = AbacRequests.SubjectEntityPrefix + RbacModel.Agent;
            await db.AbacEntityAttributes.IgnoreQueryFilters()
                .Where(a => a.TenantId == tenantId && a.EntityType == subjectAgent && a.EntityId == agentId)
                .ExecuteDeleteAsync(context.CancellationToken);
        }
    }
}

/// <summary>
/// A role's deletion removes its tuples in the same transaction; this clears any an earlier version left behind (it
/// removed them in a second step), and keeps the role's queue consumed.
/// </summary>
public sealed class RoleDeletedConsumer(AuthorizationDbContext db, RbacStore rbac) : IConsumer<Contracts.Authorization.RoleDeleted>
{
    public async Task Consume(ConsumeContext<Contracts.Authorization.RoleDeleted> context)
    {
        if (context.Message.TenantId is { } tenantId)
        {
            await rbac.RemoveTuplesOfMissingRoleAsync(db, tenantId, context.Message.Slug, context.CancellationToken);
        }
    }
}
