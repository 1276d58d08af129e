using System.Security.Cryptography;
using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Schema;
using LumoAuth.Authorization.Features.Relationships;
using LumoAuth.Authorization.Schemas;
using LumoAuth.Authorization.Storage;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Rbac;

/// <summary>
/// RBAC as tuples of a built-in model, so the same engine, index and consistency machinery answers it:
/// <c>role:{slug}#assignee@user:{id}</c> (or <c>@group:{id}#member</c>), <c>permission:{slug}#granted@role:{slug}#assignee</c>,
/// <c>group:{id}#member@user:{id}</c>. They live in a store of their own per tenant (a derived store id), so a
/// tenant's Zanzibar schema and tuples never collide with them.
/// </summary>
public static class RbacModel
{
    public const string User = "user";
    public const string Agent = "agent";
    public const string Group = "group";
    public const string Member = "member";
    public const string Role = "role";
    public const string Assignee = "assignee";
    public const string Permission = "permission";
    public const string Granted = "granted";

    public static AuthorizationModel Model { get; } = AuthorizationSchema.ParseDsl("""
        model
          schema 1.1
        type user
        type agent
        type group
          relations
            define member: [user, agent]
        type role
          relations
            define assignee: [user, agent, group#member]
        type permission
          relations
            define granted: [role#assignee]
        """);

    /// <summary>The store holding a tenant's RBAC tuples: a stable id derived from the tenant's, never another tenant's.</summary>
    public static Guid StoreOf(Guid tenantId)
    {
        Span<byte> input = stackalloc byte[20];
        tenantId.TryWriteBytes(input);
        "rbac"u8.CopyTo(input[16..]);
        var hash = SHA256.HashData(input);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16));
    }

    public static SubjectRef Assignees(string roleSlug) => new(Role, roleSlug, Assignee);

    public static SubjectRef GroupMembers(Guid groupId) => new(Group, groupId.ToString(), Member);
}

/// <summary>Reads and writes of a tenant's RBAC tuples.</summary>
public sealed class RbacStore(ZanzibarReads reads, TenantIndexes indexes)
{
    private static readonly TenantModel BuiltIn = new(RbacModel.Model, 0, IsPermissive: false, long.MaxValue);

    /// <summary>Opens the tenant's RBAC tuples; only a consistency token ahead of the RBAC revision fails (a 400 for the caller).</summary>
    public ValueTask<(ReadScope? Scope, ServiceDefaults.Errors.ApiError? Error)> TryOpenAsync(Guid tenantId, ConsistencyRequirement requirement, CancellationToken cancellationToken) =>
        reads.OpenAsync(RbacModel.StoreOf(tenantId), requirement, BuiltIn, cancellationToken);

    /// <summary>Opens the tenant's RBAC tuples without a token (minimize_latency or fully_consistent), which cannot fail.</summary>
    public async ValueTask<ReadScope> OpenAsync(Guid tenantId, ConsistencyRequirement requirement, CancellationToken cancellationToken)
    {
        if (requirement.Mode == ConsistencyMode.AtLeastAsFresh)
        {
            throw new ArgumentException("Use TryOpenAsync for token-based reads.", nameof(requirement));
        }

        var (scope, _) = await reads.OpenAsync(RbacModel.StoreOf(tenantId), requirement, BuiltIn, cancellationToken);
        return scope!;
    }

    public static async ValueTask<bool> HasPermissionAsync(ReadScope scope, SubjectRef subject, string permission, CancellationToken cancellationToken)
    {
        var result = await scope.View.Engine.CheckAsync(scope.Model.Model, scope.View.Reader, new CheckQuery(new ObjectRef(RbacModel.Permission, permission), RbacModel.Granted, subject), cancellationToken);
        return result.IsAllowed;
    }

    /// <summary>The subject's roles, direct and through groups.</summary>
    public static async ValueTask<IReadOnlyList<string>> RolesOfAsync(ReadScope scope, SubjectRef subject, CancellationToken cancellationToken) =>
        (await ListRolesAsync(scope, subject, cancellationToken)).Roles;

    /// <summary>The subject's roles, and whether that is all of them (no list limit cut the listing short, no error).</summary>
    public static async ValueTask<(IReadOnlyList<string> Roles, bool IsWhole)> ListRolesAsync(ReadScope scope, SubjectRef subject, CancellationToken cancellationToken)
    {
        var result = await scope.View.Engine.ListObjectsAsync(scope.Model.Model, scope.View.Reader, new ListObjectsQuery(RbacModel.Role, RbacModel.Assignee, subject), cancellationToken);
        return ([.. result.Objects.Select(o => o.Id).Order(StringComparer.Ordinal)], result.IsComplete && result.Error is null);
    }

    /// <summary>
    /// Whether the subject (a user, or a group's members) holds a role that administers the tenant: exact checks, so no
    /// number of other roles or groups can push the answer past a listing's limits. Null when a check could not answer.
    /// </summary>
    public static async ValueTask<bool?> AdministersAsync(ReadScope scope, SubjectRef subject, CancellationToken cancellationToken)
    {
        foreach (var role in AdminScopeHandler.PrivilegedRoles)
        {
            var result = await scope.View.Engine.CheckAsync(scope.Model.Model, scope.View.Reader, new CheckQuery(new ObjectRef(RbacModel.Role, role), RbacModel.Assignee, subject), cancellationToken);
            // An error or a cycle is not a "no": the guard then refuses rather than trusts.
            if (result.Outcome is CheckOutcome.Error or CheckOutcome.Cycle)
            {
                return null;
            }

            if (result.IsAllowed)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The users holding <paramref name="roleSlug"/>, directly or through a group: list-users over the same model
    /// <see cref="RolesOfAsync"/> reads, so both directions agree. Bounded by the engine's list limits; the
    /// result says when they cut it short.
    /// </summary>
    public static async ValueTask<ListUsersResult> UsersWithRoleAsync(ReadScope scope, string roleSlug, CancellationToken cancellationToken) =>
        await scope.View.Engine.ListUsersAsync(scope.Model.Model, scope.View.Reader, new ListUsersQuery(new ObjectRef(RbacModel.Role, roleSlug), RbacModel.Assignee, [new UserFilter(RbacModel.User)]), cancellationToken);

    /// <summary>The subject's effective permissions, each with the first role (by slug) that grants it.</summary>
    public static async ValueTask<IReadOnlyList<(string Permission, string Role)>> PermissionsOfAsync(ReadScope scope, SubjectRef subject, CancellationToken cancellationToken) =>
        await PermissionsOfRolesAsync(scope, await RolesOfAsync(scope, subject, cancellationToken), cancellationToken);

    /// <summary>The permissions the roles grant (sorted by slug, so the first granting role is the first by slug), each with that role.</summary>
    public static async ValueTask<IReadOnlyList<(string Permission, string Role)>> PermissionsOfRolesAsync(ReadScope scope, IReadOnlyList<string> roles, CancellationToken cancellationToken)
    {
        var granted = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var role in roles)
        {
            await foreach (var tuple in scope.View.Reader.ReadBySubjectAsync(RbacModel.Permission, RbacModel.Granted, RbacModel.Assignees(role), cancellationToken))
            {
                granted.TryAdd(tuple.Object.Id, role);
            }
        }

        return [.. granted.Select(p => (p.Key, p.Value))];
    }

    /// <summary>
    /// Applies RBAC tuple changes for the tenant. No relationship events: RBAC has its own vocabulary — each role that a
    /// user or group actually gained or lost raises <c>UserRoleAssigned</c>, <c>GroupRoleRemoved</c>… in the same transaction.
    /// </summary>
    /// <param name="stillWanted">Asked once the tenant's writers are held off: which of the changes still apply.</param>
    public async Task<long> ApplyAsync(AuthorizationDbContext db, Guid tenantId, IReadOnlyCollection<RelationshipTuple> writes, IReadOnlyCollection<TupleKey> deletes,
        CancellationToken cancellationToken, Func<CancellationToken, Task<Func<TupleKey, bool>>>? stillWanted = null)
    {
        var store = RbacModel.StoreOf(tenantId);
        var outcome = await TupleStoreWriter.ApplyAsync(db, store, writes, deletes, [], cancellationToken, publishEvents: false,
            stageOwnEvents: (written, deleted) => StageAssignmentEvents(db, tenantId, written, deleted),
            stillWanted: WritesOfExistingCatalogueOnly(db, tenantId, writes, stillWanted));
        // Inside a caller's transaction the index learns of the revision once the caller has committed it.
        if (outcome.Changed && db.Database.CurrentTransaction is null)
        {
            await indexes.AfterWriteAsync(store, outcome.Revision, cancellationToken);
        }

        return outcome.Revision;
    }

    /// <summary>
    /// Under the tenant's write lock, drops writes naming a role or a permission that no longer exists: an assignment or a
    /// grant checked against the catalogue before a concurrent delete of the role or permission must not leave a tuple behind
    /// it (a role or permission later created with the same slug would inherit it). Deletes always go through.
    /// </summary>
    private static Func<CancellationToken, Task<Func<TupleKey, bool>>>? WritesOfExistingCatalogueOnly(
        AuthorizationDbContext db, Guid tenantId, IReadOnlyCollection<RelationshipTuple> writes, Func<CancellationToken, Task<Func<TupleKey, bool>>>? stillWanted)
    {
        static IEnumerable<string> RolesOf(TupleKey key) =>
            (key.Object.Type == RbacModel.Role ? [key.Object.Id] : Array.Empty<string>())
            .Concat(key.Subject.Type == RbacModel.Role ? [key.Subject.Id] : Array.Empty<string>());
        // The model names a permission only as an object (permission:{slug}#granted@role:{slug}#assignee).
        static IEnumerable<string> PermissionsOf(TupleKey key) =>
            key.Object.Type == RbacModel.Permission ? [key.Object.Id] : Array.Empty<string>();
        var roles = writes.SelectMany(t => RolesOf(t.Key)).Distinct(StringComparer.Ordinal).ToList();
        var permissions = writes.SelectMany(t => PermissionsOf(t.Key)).Distinct(StringComparer.Ordinal).ToList();
        if (roles.Count == 0 && permissions.Count == 0)
        {
            return stillWanted;
        }

        var written = writes.Select(t => t.Key).ToHashSet();
        return async cancellationToken =>
        {
            var existingRoles = roles.Count == 0 ? [] : (await db.Roles.IgnoreQueryFilters().Where(r => r.TenantId == tenantId && roles.Contains(r.Slug))
                .Select(r => r.Slug).ToListAsync(cancellationToken)).ToHashSet(StringComparer.Ordinal);
            var existingPermissions = permissions.Count == 0 ? [] : (await db.Permissions.IgnoreQueryFilters().Where(p => p.TenantId == tenantId && permissions.Contains(p.Slug))
                .Select(p => p.Slug).ToListAsync(cancellationToken)).ToHashSet(StringComparer.Ordinal);
            var inner = stillWanted is null ? null : await stillWanted(cancellationToken);
            return key => (inner?.Invoke(key) ?? true)
                          && (!written.Contains(key) || (RolesOf(key).All(existingRoles.Contains) && PermissionsOf(key).All(existingPermissions.Contains)));
        };
    }

    /// <summary>
    /// Deletes the role, its assignments and its grants in one transaction under the tenant's write lock: no assignment can
    /// name the role from then on, and a role created later with the same slug starts with nobody and nothing.
    /// </summary>
    public Task DeleteRoleAsync(AuthorizationDbContext db, Guid tenantId, Role role, CancellationToken cancellationToken) =>
        DeleteUnderLockAsync(db, tenantId, () =>
        {
            db.Roles.Remove(role);
            db.AddEvent(new Contracts.Authorization.RoleDeleted(role.Id, role.Slug) { TenantId = tenantId });
        }, RoleTuples(db, tenantId, role.Slug), cancellationToken);

    /// <summary>
    /// Deletes the permission and its grants in one transaction under the tenant's write lock: a grant checked against the
    /// catalogue before the delete is then dropped under the lock (<see cref="WritesOfExistingCatalogueOnly"/>), so no role
    /// keeps granting the permission, and a permission created later with the same slug is granted by no role.
    /// </summary>
    public Task DeletePermissionAsync(AuthorizationDbContext db, Guid tenantId, Permission permission, CancellationToken cancellationToken) =>
        DeleteUnderLockAsync(db, tenantId, () =>
        {
            db.Permissions.Remove(permission);
            db.AddEvent(new Contracts.Authorization.PermissionDeleted(permission.Id, permission.Slug) { TenantId = tenantId });
        }, PermissionTuples(db, tenantId, permission.Slug), cancellationToken);

    /// <summary>Removes a catalogue row (with its event) and then the tuples naming it, in one transaction under the tenant's write lock.</summary>
    private async Task DeleteUnderLockAsync(
        AuthorizationDbContext db, Guid tenantId, Action removeRow, IQueryable<StoredTuple> tuples, CancellationToken cancellationToken)
    {
        long revision;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await TupleStoreWriter.LockRevisionAsync(db, RbacModel.StoreOf(tenantId), cancellationToken);
            removeRow();
            await db.SaveChangesAsync(cancellationToken);
            var rows = await tuples.ToListAsync(cancellationToken);
            revision = await ApplyAsync(db, tenantId, [], [.. rows.Select(KeyOf)], cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        await indexes.AfterWriteAsync(RbacModel.StoreOf(tenantId), revision, cancellationToken);
    }

    /// <summary>
    /// Lets this replica's index catch up with a revision an RBAC write reached inside a caller's transaction (where
    /// <see cref="ApplyAsync"/> leaves it alone): called once the caller has committed.
    /// </summary>
    public ValueTask AfterCommitAsync(Guid tenantId, long revision, CancellationToken cancellationToken) =>
        indexes.AfterWriteAsync(RbacModel.StoreOf(tenantId), revision, cancellationToken);

    /// <summary>
    /// Removes tuples still naming the role <paramref name="slug"/> when no role has it, checked under the write lock: what a
    /// deletion by an earlier version (row and tuples in two steps) left behind when cut short. Run before a role of that
    /// slug is created, and for each role's deletion event; a role of that slug existing by then keeps everything.
    /// </summary>
    public Task RemoveTuplesOfMissingRoleAsync(AuthorizationDbContext db, Guid tenantId, string slug, CancellationToken cancellationToken) =>
        RemoveTuplesOfMissingAsync(db, tenantId, RoleTuples(db, tenantId, slug),
            ct => db.Roles.IgnoreQueryFilters().AnyAsync(r => r.TenantId == tenantId && r.Slug == slug, ct), cancellationToken);

    /// <summary>
    /// Removes grants still naming the permission <paramref name="slug"/> when no permission has it (left by a grant that
    /// raced the permission's deletion before grants were checked under the write lock). Run before a permission of that slug
    /// is created, so it starts granted by no role.
    /// </summary>
    public Task RemoveTuplesOfMissingPermissionAsync(AuthorizationDbContext db, Guid tenantId, string slug, CancellationToken cancellationToken) =>
        RemoveTuplesOfMissingAsync(db, tenantId, PermissionTuples(db, tenantId, slug),
            ct => db.Permissions.IgnoreQueryFilters().AnyAsync(p => p.TenantId == tenantId && p.Slug == slug, ct), cancellationToken);

    private async Task RemoveTuplesOfMissingAsync(
        AuthorizationDbContext db, Guid tenantId, IQueryable<StoredTuple> tuples, Func<CancellationToken, Task<bool>> exists, CancellationToken cancellationToken)
    {
        var rows = await tuples.ToListAsync(cancellationToken);
        if (rows.Count > 0)
        {
            await ApplyAsync(db, tenantId, [], [.. rows.Select(KeyOf)], cancellationToken, async ct =>
            {
                var found = await exists(ct);
                return _ => !found;
            });
        }
    }

    /// <summary>The permission's grants (the model names a permission only as an object).</summary>
    private static IQueryable<StoredTuple> PermissionTuples(AuthorizationDbContext db, Guid tenantId, string slug) =>
        Tuples(db, tenantId).Where(t => t.ObjectType == RbacModel.Permission && t.ObjectId == slug);

    /// <summary>The role's assignments (the role as object) and grants (its assignees as subject).</summary>
    private static IQueryable<StoredTuple> RoleTuples(AuthorizationDbContext db, Guid tenantId, string slug) =>
        Tuples(db, tenantId).Where(t => (t.ObjectType == RbacModel.Role && t.ObjectId == slug)
                                        || (t.SubjectType == RbacModel.Role && t.SubjectId == slug && t.SubjectRelation == RbacModel.Assignee));

    private static void StageAssignmentEvents(AuthorizationDbContext db, Guid tenantId, IReadOnlyList<RelationshipTuple> written, IReadOnlyList<TupleKey> deleted)
    {
        foreach (var (key, assigned) in written.Select(t => (t.Key, true)).Concat(deleted.Select(k => (k, false))))
        {
            if (key.Object.Type != RbacModel.Role || key.Relation != RbacModel.Assignee || !Guid.TryParse(key.Subject.Id, out var subjectId))
            {
                continue;
            }

            var role = key.Object.Id;
            Contracts.IntegrationEvent? change = (key.Subject.Type, key.Subject.Relation, assigned) switch
            {
                (RbacModel.User, null or "", true) => new Contracts.Authorization.UserRoleAssigned(subjectId, role),
                (RbacModel.User, null or "", false) => new Contracts.Authorization.UserRoleRemoved(subjectId, role),
                (RbacModel.Group, RbacModel.Member, true) => new Contracts.Authorization.GroupRoleAssigned(subjectId, role),
                (RbacModel.Group, RbacModel.Member, false) => new Contracts.Authorization.GroupRoleRemoved(subjectId, role),
                _ => null,
            };
            if (change is not null)
            {
                db.AddEvent(change with { TenantId = tenantId });
            }
        }
    }

    /// <summary>Stored RBAC tuples of the tenant matching the filter (the admin views read the table, not the index).</summary>
    public static IQueryable<StoredTuple> Tuples(AuthorizationDbContext db, Guid tenantId)
    {
        var store = RbacModel.StoreOf(tenantId);
        return db.Tuples.IgnoreQueryFilters().AsNoTracking().Where(t => t.TenantId == store);
    }

    /// <summary>
    /// Replaces the subject's direct roles with <paramref name="roles"/>, leaving the roles <paramref name="leaveAlone"/>
    /// names as they stand when written (a caller checked against an earlier read must not give or take them).
    /// </summary>
    public async Task<long> ReplaceRolesAsync(AuthorizationDbContext db, Guid tenantId, SubjectRef subject, IReadOnlyCollection<string> roles, Func<string, bool>? leaveAlone, CancellationToken cancellationToken)
    {
        var subjectRelation = subject.Relation ?? string.Empty;
        var current = await Tuples(db, tenantId)
            .Where(t => t.ObjectType == RbacModel.Role && t.Relation == RbacModel.Assignee && t.SubjectType == subject.Type && t.SubjectId == subject.Id && t.SubjectRelation == subjectRelation)
            .Select(t => t.ObjectId)
            .ToListAsync(cancellationToken);
        var touched = leaveAlone is null ? (Func<string, bool>)(_ => true) : r => !leaveAlone(r);
        var writes = roles.Except(current, StringComparer.Ordinal).Where(touched).Select(r => new RelationshipTuple(new ObjectRef(RbacModel.Role, r), RbacModel.Assignee, subject)).ToList();
        var deletes = current.Except(roles, StringComparer.Ordinal).Where(touched).Select(r => new TupleKey(new ObjectRef(RbacModel.Role, r), RbacModel.Assignee, subject)).ToList();
        return await ApplyAsync(db, tenantId, writes, deletes, cancellationToken);
    }

    /// <summary>Replaces the permissions granted by <paramref name="role"/>.</summary>
    public async Task<long> ReplacePermissionsAsync(AuthorizationDbContext db, Guid tenantId, string role, IReadOnlyCollection<string> permissions, CancellationToken cancellationToken)
    {
        var current = await Tuples(db, tenantId)
            .Where(t => t.ObjectType == RbacModel.Permission && t.Relation == RbacModel.Granted && t.SubjectType == RbacModel.Role && t.SubjectId == role && t.SubjectRelation == RbacModel.Assignee)
            .Select(t => t.ObjectId)
            .ToListAsync(cancellationToken);
        var assignees = RbacModel.Assignees(role);
        var writes = permissions.Except(current, StringComparer.Ordinal).Select(p => new RelationshipTuple(new ObjectRef(RbacModel.Permission, p), RbacModel.Granted, assignees)).ToList();
        var deletes = current.Except(permissions, StringComparer.Ordinal).Select(p => new TupleKey(new ObjectRef(RbacModel.Permission, p), RbacModel.Granted, assignees)).ToList();
        return await ApplyAsync(db, tenantId, writes, deletes, cancellationToken);
    }

    /// <summary>Removes every tuple that names <paramref name="subject"/> as subject, or <paramref name="object"/> as object.</summary>
    public async Task<long> RemoveAllAsync(AuthorizationDbContext db, Guid tenantId, SubjectRef? subject, ObjectRef? @object, CancellationToken cancellationToken)
    {
        var query = Tuples(db, tenantId);
        if (subject is { } s)
        {
            var relation = s.Relation ?? string.Empty;
            query = query.Where(t => t.SubjectType == s.Type && t.SubjectId == s.Id && t.SubjectRelation == relation);
        }

        if (@object is { } o)
        {
            query = query.Where(t => t.ObjectType == o.Type && t.ObjectId == o.Id);
        }

        var rows = await query.ToListAsync(cancellationToken);
        return await ApplyAsync(db, tenantId, [], [.. rows.Select(KeyOf)], cancellationToken);
    }

    private static TupleKey KeyOf(StoredTuple t) => new(new ObjectRef(t.ObjectType, t.ObjectId), t.Relation, TupleRows.Subject(t.SubjectType, t.SubjectId, t.SubjectRelation));
}
