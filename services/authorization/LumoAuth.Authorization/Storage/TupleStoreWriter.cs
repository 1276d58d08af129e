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

        // Each step is one statement over arrays, so a 100k-member group costs a handful of round trips under the
        // tenant's lock rather than hundreds of thousands. A key repeated in a batch counts once (its first write wins).
        if (await FirstFailedPreconditionAsync(db, tenantId, [.. preconditions], cancellationToken) is { } failed)
        {
            await RollbackOwnAsync(transaction, cancellationToken);
            return new TupleWriteOutcome(0, 0, current, failed);
        }

        var uniqueWrites = writes.DistinctBy(t => t.Key).ToList();
        var uniqueDeletes = deletes.Distinct().ToList();
        var deleteSet = uniqueDeletes.ToHashSet();
        var replacements = uniqueWrites.Where(t => deleteSet.Contains(t.Key)).ToList();

        // Conflicts are found before anything changes, so a caller's transaction is left as it was given.
        var plainWrites = uniqueWrites.Where(t => !deleteSet.Contains(t.Key)).ToList();
        if ((await StoredWithConditionAsync(db, tenantId, plainWrites, same: false, cancellationToken)).FirstOrDefault() is { } conflict)
        {
            await RollbackOwnAsync(transaction, cancellationToken);
            return new TupleWriteOutcome(0, 0, current, ConditionConflict: conflict.Key);
        }

        // A condition change that is already in place (a retried batch) is left alone rather than deleted and re-written.
        var inPlace = (await StoredWithConditionAsync(db, tenantId, replacements, same: true, cancellationToken)).Select(t => t.Key).ToHashSet();
        var deleted = await DeleteAsync(db, tenantId, [.. uniqueDeletes.Where(k => !inPlace.Contains(k))], cancellationToken);
        var now = DateTimeOffset.UtcNow;
        // A row still present here has this very condition (any other was refused or deleted above): no change.
        var written = await InsertAsync(db, tenantId, uniqueWrites, current + 1, now, cancellationToken);
        if (deleted.Count + written.Count == 0)
        {
            await RollbackOwnAsync(transaction, cancellationToken);
            return new TupleWriteOutcome(0, 0, current);
        }

        var revision = await BumpRevisionAsync(db, tenantId, cancellationToken);
        await RecordChangesAsync(db, tenantId, revision, deleted, written, now, cancellationToken);
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

    // The statements below take a list of keys as six arrays (parameters {1}…{6}, the tenant being {0}) and number
    // them from 1 in the list's order, so each answers with the positions of the keys it matched.
    private const string KeyMatch = """
        t."TenantId" = {0} AND t."ObjectType" = k.ot AND t."ObjectId" = k.oi AND t."Relation" = k.r
          AND t."SubjectType" = k.st AND t."SubjectId" = k.si AND t."SubjectRelation" = k.sr
        """;

    private static string Keys(params string[] more) =>
        $"unnest({{1}}, {{2}}, {{3}}, {{4}}, {{5}}, {{6}}{string.Concat(more.Select((_, i) => $", {{{i + 7}}}"))}) WITH ORDINALITY "
        + $"AS k(ot, oi, r, st, si, sr{string.Concat(more.Select(m => ", " + m))}, ord)";

    private static object[] Parameters(Guid tenantId, IReadOnlyList<TupleKey> keys, params object[] more) =>
    [
        tenantId,
        keys.Select(k => k.Object.Type).ToArray(), keys.Select(k => k.Object.Id).ToArray(), keys.Select(k => k.Relation).ToArray(),
        keys.Select(k => k.Subject.Type).ToArray(), keys.Select(k => k.Subject.Id).ToArray(), keys.Select(k => k.Subject.Relation ?? string.Empty).ToArray(),
        .. more,
    ];

    private static object[] Parameters(Guid tenantId, IReadOnlyList<EngineTuple> tuples, params object[] more) =>
        Parameters(tenantId, [.. tuples.Select(t => t.Key)],
            [tuples.Select(t => t.Condition?.Name ?? string.Empty).ToArray(), tuples.Select(t => TupleRows.ContextJson(t.Condition)).ToArray(), .. more]);

    /// <summary>Positions (from 1) answered by a statement over <see cref="Keys"/>, ascending.</summary>
    private static async Task<List<int>> PositionsAsync(AuthorizationDbContext db, string sql, object[] parameters, CancellationToken cancellationToken) =>
        [.. (await db.Database.SqlQueryRaw<long>(sql, parameters).ToListAsync(cancellationToken)).Select(p => (int)p).Order()];

    /// <summary>The first precondition, in the batch's order, that the stored tuples do not meet.</summary>
    private static async Task<TuplePrecondition?> FirstFailedPreconditionAsync(
        AuthorizationDbContext db, Guid tenantId, IReadOnlyList<TuplePrecondition> preconditions, CancellationToken cancellationToken)
    {
        if (preconditions.Count == 0)
        {
            return null;
        }

        var failed = await PositionsAsync(db, $"""
            SELECT k.ord AS "Value" FROM {Keys("must")}
            WHERE EXISTS (SELECT 1 FROM tuples t WHERE {KeyMatch}) <> k.must
            ORDER BY k.ord LIMIT 1
            """, Parameters(tenantId, [.. preconditions.Select(p => p.Key)], preconditions.Select(p => p.MustExist).ToArray()), cancellationToken);
        return failed.Count == 0 ? null : preconditions[failed[0] - 1];
    }

    /// <summary>
    /// The tuples, in the batch's order, whose key is stored with exactly their condition (<paramref name="same"/>) or
    /// with another one (name and context, the context compared as jsonb); keys not stored are in neither.
    /// </summary>
    private static async Task<List<EngineTuple>> StoredWithConditionAsync(
        AuthorizationDbContext db, Guid tenantId, List<EngineTuple> tuples, bool same, CancellationToken cancellationToken)
    {
        if (tuples.Count == 0)
        {
            return [];
        }

        var matched = await PositionsAsync(db, $"""
            SELECT k.ord AS "Value" FROM {Keys("cn", "cc")} JOIN tuples t ON {KeyMatch}
            WHERE (t."ConditionName" = k.cn AND t."ConditionContext" IS NOT DISTINCT FROM k.cc::jsonb) = {"{9}"}
            """, Parameters(tenantId, tuples, same), cancellationToken);
        return [.. matched.Select(p => tuples[p - 1])];
    }

    /// <summary>Deletes the stored tuples of these keys; the keys that were stored, in the batch's order.</summary>
    private static async Task<List<TupleKey>> DeleteAsync(AuthorizationDbContext db, Guid tenantId, IReadOnlyList<TupleKey> keys, CancellationToken cancellationToken)
    {
        if (keys.Count == 0)
        {
            return [];
        }

        var gone = await PositionsAsync(db, $"""
            DELETE FROM tuples t USING {Keys()} WHERE {KeyMatch} RETURNING k.ord AS "Value"
            """, Parameters(tenantId, keys), cancellationToken);
        return [.. gone.Select(p => keys[p - 1])];
    }

    /// <summary>Inserts the tuples whose keys are not stored; those it inserted, in the batch's order.</summary>
    private static async Task<List<EngineTuple>> InsertAsync(
        AuthorizationDbContext db, Guid tenantId, List<EngineTuple> tuples, long revision, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (tuples.Count == 0)
        {
            return [];
        }

        // RETURNING sees only the inserted row, so the rows are matched back to their positions.
        var added = await PositionsAsync(db, $"""
            WITH added AS (
                INSERT INTO tuples ("TenantId", "ObjectType", "ObjectId", "Relation", "SubjectType", "SubjectId", "SubjectRelation", "ConditionName", "ConditionContext", "CreatedRevision", "CreatedAt")
                SELECT {"{0}"}, k.ot, k.oi, k.r, k.st, k.si, k.sr, k.cn, k.cc::jsonb, {"{9}"}, {"{10}"} FROM {Keys("cn", "cc")}
                ON CONFLICT ("TenantId", "ObjectType", "ObjectId", "Relation", "SubjectType", "SubjectId", "SubjectRelation") DO NOTHING
                RETURNING *)
            SELECT k.ord AS "Value" FROM added t JOIN {Keys("cn", "cc")} ON {KeyMatch}
            """, Parameters(tenantId, tuples, revision, now), cancellationToken);
        return [.. added.Select(p => tuples[p - 1])];
    }

    /// <summary>The changelog rows of a batch, in one statement: its deletes, then its writes.</summary>
    private static Task<int> RecordChangesAsync(
        AuthorizationDbContext db, Guid tenantId, long revision, List<TupleKey> deleted, List<EngineTuple> written, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        string[] operations = [.. deleted.Select(_ => ChangeOperations.Delete), .. written.Select(_ => ChangeOperations.Write)];
        string[] keys = [.. deleted.Select(k => k.ToString()), .. written.Select(t => t.Key.ToString())];
        string[] conditionNames = [.. deleted.Select(_ => string.Empty), .. written.Select(t => t.Condition?.Name ?? string.Empty)];
        string?[] contexts = [.. deleted.Select(_ => (string?)null), .. written.Select(t => TupleRows.ContextJson(t.Condition))];
        return db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO tuple_changes ("TenantId", "Revision", "Operation", "Tuple", "ConditionName", "ConditionContext", "Timestamp")
            SELECT {tenantId}, {revision}, c.operation, c.tuple, c.condition_name, CAST(c.context AS jsonb), {now}
            FROM unnest({operations}, {keys}, {conditionNames}, {contexts}) WITH ORDINALITY AS c(operation, tuple, condition_name, context, ord)
            ORDER BY c.ord
            """, cancellationToken);
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
