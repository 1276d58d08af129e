using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Engine;
using LumoAuth.Messaging.Outbox;
using Microsoft.EntityFrameworkCore;
using EngineTuple = LumoAuth.Authorization.Engine.RelationshipTuple;
using EventTuple = LumoAuth.Contracts.Authorization.RelationshipTuple;
using LumoAuth.Contracts.Authorization;

namespace LumoAuth.Authorization.Storage;

/// <summary>A condition on a batch: the tuple must (or must not) exist before anything is applied.</summary>
public sealed record TuplePrecondition(TupleKey Key, bool MustExist);

/// <summary>
/// What a batch did: how many tuples really changed, the revision it left, or what stopped it (a precondition, or a
/// write of a tuple that exists with another condition).
/// </summary>
public sealed record TupleWriteOutcome(int Written, int Deleted, long Revision, TuplePrecondition? FailedPrecondition = null, TupleKey? ConditionConflict = null)
{
    public bool Changed => Written + Deleted > 0;
}

/// <summary>
/// Applies deletes, then writes, as one transaction at one new revision, with the changelog rows and the
/// events committed alongside. Writers of one tenant are serialised on its revision row, so preconditions
/// are checked against exactly the state the batch applies to. Writing a present tuple with the same
/// condition, or deleting an absent one, changes nothing (safe retries); a batch that changes nothing
/// leaves the revision where it was. Writing a present tuple with another condition (or none instead of one)
/// would change who is granted access: it stops the batch, unless the same batch deletes that key too (an explicit
/// condition change, applied as a delete and a write). Inside a caller's transaction the batch joins it, and the caller commits.
/// </summary>
public static class TupleStoreWriter
{
    public static async Task<TupleWriteOutcome> ApplyAsync(
        AuthorizationDbContext db,
        Guid tenantId,
        IReadOnlyCollection<EngineTuple> writes,
        IReadOnlyCollection<TupleKey> deletes,
        IReadOnlyCollection<TuplePrecondition> preconditions,
        CancellationToken cancellationToken,
        bool publishEvents = true,
        Action<IReadOnlyList<EngineTuple>, IReadOnlyList<TupleKey>>? stageOwnEvents = null,
        Func<CancellationToken, Task<Func<TupleKey, bool>>>? stillWanted = null)
    {
        // A caller's transaction (one that must change its own rows and the tuples together) is joined, not nested.
        await using var transaction = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(cancellationToken) : null;
        var current = await LockRevisionAsync(db, tenantId, cancellationToken);
        if (stillWanted is not null)
        {
            // Asked under the lock, so no writer of this tenant can change the answer before this write commits.
            var wanted = await stillWanted(cancellationToken);
            writes = [.. writes.Where(t => wanted(t.Key))];
            deletes = [.. deletes.Where(wanted)];
        }

        foreach (var precondition in preconditions)
        {
            var exists = await Existing(db, tenantId, precondition.Key).AnyAsync(cancellationToken);
            if (exists != precondition.MustExist)
            {
                await RollbackOwnAsync(transaction, cancellationToken);
                return new TupleWriteOutcome(0, 0, current, precondition);
            }
        }

        // Conflicts are found before anything changes, so a caller's transaction is left as it was given.
        var replaced = new Dictionary<TupleKey, EngineTuple>();
        foreach (var tuple in writes.Where(t => deletes.Contains(t.Key)))
        {
            replaced[tuple.Key] = tuple;
        }

        foreach (var tuple in writes)
        {
            if (!replaced.ContainsKey(tuple.Key) && await SameConditionAsync(db, tenantId, tuple, cancellationToken) == false)
            {
                await RollbackOwnAsync(transaction, cancellationToken);
                return new TupleWriteOutcome(0, 0, current, ConditionConflict: tuple.Key);
            }
        }

        var deleted = new List<TupleKey>();
        foreach (var key in deletes)
        {
            // A condition change that is already in place (a retried batch) is left alone rather than deleted and re-written.
            if (replaced.TryGetValue(key, out var replacement) && await SameConditionAsync(db, tenantId, replacement, cancellationToken) == true)
            {
                continue;
            }

            if (await Existing(db, tenantId, key).ExecuteDeleteAsync(cancellationToken) > 0)
            {
                deleted.Add(key);
            }
        }

        var written = new List<EngineTuple>();
        var now = DateTimeOffset.UtcNow;
        foreach (var tuple in writes)
        {
            var (o, s) = (tuple.Object, tuple.Subject);
            var conditionName = tuple.Condition?.Name ?? string.Empty;
            var context = TupleRows.ContextJson(tuple.Condition);
            // A row still present here has this very condition (any other was refused or deleted above): no change.
            var rows = await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO tuples ("TenantId", "ObjectType", "ObjectId", "Relation", "SubjectType", "SubjectId", "SubjectRelation", "ConditionName", "ConditionContext", "CreatedRevision", "CreatedAt")
                VALUES ({tenantId}, {o.Type}, {o.Id}, {tuple.Relation}, {s.Type}, {s.Id}, {s.Relation ?? string.Empty}, {conditionName}, {context}::jsonb, {current + 1}, {now})
                ON CONFLICT ("TenantId", "ObjectType", "ObjectId", "Relation", "SubjectType", "SubjectId", "SubjectRelation") DO NOTHING
                """, cancellationToken);
            if (rows > 0)
            {
                written.Add(tuple);
            }
        }

        if (deleted.Count + written.Count == 0)
        {
            await RollbackOwnAsync(transaction, cancellationToken);
            return new TupleWriteOutcome(0, 0, current);
        }

        var revision = await BumpRevisionAsync(db, tenantId, cancellationToken);
        foreach (var key in deleted)
        {
            db.Changes.Add(new TupleChange { TenantId = tenantId, Revision = revision, Operation = ChangeOperations.Delete, Tuple = key.ToString(), Timestamp = now });
        }

        foreach (var tuple in written)
        {
            db.Changes.Add(new TupleChange
            {
                TenantId = tenantId, Revision = revision, Operation = ChangeOperations.Write, Tuple = tuple.Key.ToString(),
                ConditionName = tuple.Condition?.Name ?? string.Empty, ConditionContext = TupleRows.ContextJson(tuple.Condition), Timestamp = now,
            });
        }

        if (publishEvents && deleted.Count > 0)
        {
            db.AddEvent(new RelationshipsDeleted([.. deleted.Select(k => new EventTuple(k.Object.ToString(), k.Relation, k.Subject.ToString()))], revision) { TenantId = tenantId });
        }

        if (publishEvents && written.Count > 0)
        {
            db.AddEvent(new RelationshipsWritten([.. written.Select(t => new EventTuple(t.Object.ToString(), t.Relation, t.Subject.ToString()))], revision) { TenantId = tenantId });
        }

        // A caller with its own vocabulary (RBAC) describes what actually changed, in the same transaction.
        stageOwnEvents?.Invoke(written, deleted);
        await db.SaveChangesAsync(cancellationToken);
        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        return new TupleWriteOutcome(written.Count, deleted.Count, revision);
    }

    /// <summary>Rolls back a transaction this writer began; a caller's is the caller's to end (nothing was changed in it yet).</summary>
    private static Task RollbackOwnAsync(Microsoft.EntityFrameworkCore.Storage.IDbContextTransaction? transaction, CancellationToken cancellationToken) =>
        transaction?.RollbackAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>Takes the tenant's revision row lock (creating the row at 0 the first time) and returns the revision.</summary>
    public static async Task<long> LockRevisionAsync(AuthorizationDbContext db, Guid tenantId, CancellationToken cancellationToken)
    {
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO tenant_revisions ("TenantId", "Revision") VALUES ({tenantId}, 0) ON CONFLICT ("TenantId") DO NOTHING
            """, cancellationToken);
        // A locking SELECT cannot be composed over either, hence ToList rather than Single.
        return (await db.Database.SqlQuery<long>($"""
            SELECT "Revision" AS "Value" FROM tenant_revisions WHERE "TenantId" = {tenantId} FOR UPDATE
            """).ToListAsync(cancellationToken)).Single();
    }

    /// <summary>Bumps the revision; the caller holds the row lock from <see cref="LockRevisionAsync"/>.</summary>
    public static async Task<long> BumpRevisionAsync(AuthorizationDbContext db, Guid tenantId, CancellationToken cancellationToken) =>
        // INSERT/UPDATE … RETURNING cannot be composed over, hence ToList rather than Single.
        (await db.Database.SqlQuery<long>($"""
            UPDATE tenant_revisions SET "Revision" = "Revision" + 1 WHERE "TenantId" = {tenantId} RETURNING "Revision" AS "Value"
            """).ToListAsync(cancellationToken)).Single();

    /// <summary>
    /// Whether the stored tuple of this key carries exactly this condition (name and context, compared as jsonb);
    /// null when no tuple of the key is stored.
    /// </summary>
    private static async Task<bool?> SameConditionAsync(AuthorizationDbContext db, Guid tenantId, EngineTuple tuple, CancellationToken cancellationToken)
    {
        var (o, s) = (tuple.Object, tuple.Subject);
        var conditionName = tuple.Condition?.Name ?? string.Empty;
        var context = TupleRows.ContextJson(tuple.Condition);
        var same = await db.Database.SqlQuery<bool>($"""
            SELECT ("ConditionName" = {conditionName} AND "ConditionContext" IS NOT DISTINCT FROM {context}::jsonb) AS "Value"
            FROM tuples
            WHERE "TenantId" = {tenantId} AND "ObjectType" = {o.Type} AND "ObjectId" = {o.Id} AND "Relation" = {tuple.Relation}
              AND "SubjectType" = {s.Type} AND "SubjectId" = {s.Id} AND "SubjectRelation" = {s.Relation ?? string.Empty}
            """).ToListAsync(cancellationToken);
        return same.Count == 0 ? null : same[0];
    }

    private static IQueryable<StoredTuple> Existing(AuthorizationDbContext db, Guid tenantId, TupleKey key)
    {
        var (o, s) = (key.Object, key.Subject);
        var subjectRelation = s.Relation ?? string.Empty;
        return db.Tuples.IgnoreQueryFilters().Where(t => t.TenantId == tenantId && t.ObjectType == o.Type && t.ObjectId == o.Id && t.Relation == key.Relation
                                                         && t.SubjectType == s.Type && t.SubjectId == s.Id && t.SubjectRelation == subjectRelation);
    }
}

/// <summary>The operations of the changelog.</summary>
public static class ChangeOperations
{
    public const string Write = "write";
    public const string Delete = "delete";

    /// <summary>A new schema version; it moves the revision so consistency tokens cover schemas too.</summary>
    public const string Schema = "schema";

    /// <summary>An ABAC policy change, in the tenant's RBAC store: replicas tail it to refresh their policy caches.</summary>
    public const string Policy = "policy";
}
