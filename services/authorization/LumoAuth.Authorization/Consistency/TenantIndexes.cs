using System.ComponentModel.DataAnnotations;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Engine.Storage;
using LumoAuth.Authorization.Storage;
using Microsoft.Extensions.Options;
using Npgsql;

namespace LumoAuth.Authorization.Consistency;

public sealed class TupleIndexOptions
{
    public const string SectionName = "Authorization:Index";

    /// <summary>Tenants whose tuples are held in memory at once; the least recently used is dropped first.</summary>
    [Range(1, 1_000_000)]
    public int MaxTenants { get; set; } = 1_000;

    /// <summary>A tenant with more tuples than this is answered from PostgreSQL instead.</summary>
    [Range(1, 100_000_000)]
    public int MaxTuplesPerTenant { get; set; } = 2_000_000;

    /// <summary>Tuples held in memory across all tenants; least recently used tenants are dropped beyond it.</summary>
    [Range(1, 1_000_000_000)]
    public long MaxTotalTuples { get; set; } = 10_000_000;

    /// <summary>How old a <c>minimize_latency</c> answer's view of other replicas' writes may be.</summary>
    [Range(0, 60_000)]
    public int StalenessBudgetMilliseconds { get; set; } = 250;

    /// <summary>Cached check answers per tenant (keyed by model and revision).</summary>
    [Range(0, 10_000_000)]
    public int CheckCacheCapacityPerTenant { get; set; } = 20_000;

    /// <summary>Changelog rows one catch-up round aims to read; a single revision larger than this is still read whole.</summary>
    [Range(1, 1_000_000)]
    public int ChangelogBatchSize { get; set; } = 5_000;

    /// <summary>Results one list operation returns before it stops and reports itself incomplete.</summary>
    [Range(1, 100_000)]
    public int MaxListResults { get; set; } = CheckLimits.Default.MaxListResults;
}

/// <summary>Where a read is answered from: the tenant's in-memory index, or PostgreSQL when the tenant is too large to index.</summary>
public sealed record TupleView(ITupleReader Reader, long Revision, AuthorizationEngine Engine, bool FromIndex);

/// <summary>
/// The per-tenant in-memory tuple indexes of this replica. A tenant's index is loaded on first use from a
/// snapshot (its tuples and revision read in one repeatable-read transaction), then kept current by tailing
/// <c>tuple_changes</c> from its revision: every replica applies the same changes in revision order, so
/// two replicas at the same revision hold the same tuples. Bounded by an LRU over tenants.
/// </summary>
public sealed class TenantIndexes(NpgsqlDataSource dataSource, IOptions<TupleIndexOptions> options, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, LinkedListNode<TenantIndex>> _byTenant = [];
    private readonly LinkedList<TenantIndex> _recency = new();
    private readonly TupleIndexOptions _options = options.Value;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _byTenant.Count;
            }
        }
    }

    /// <summary>A view of the tenant's tuples that satisfies <paramref name="requirement"/>.</summary>
    public async ValueTask<TupleView> GetAsync(Guid tenantId, ConsistencyRequirement requirement, CancellationToken cancellationToken)
    {
        var index = Touch(tenantId);
        try
        {
            await index.Loaded.WaitAsync(cancellationToken);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // A failed load is not remembered: the next request tries again.
            Forget(index);
            throw;
        }

        if (index.TooLarge)
        {
            var reader = new PostgresTupleReader(dataSource, tenantId);
            var current = await reader.GetRevisionAsync(cancellationToken);
            return new TupleView(reader, current, index.Engine, FromIndex: false);
        }

        var wanted = requirement.Mode switch
        {
            ConsistencyMode.AtLeastAsFresh => requirement.MinRevision,
            ConsistencyMode.FullyConsistent => await new PostgresTupleReader(dataSource, tenantId).GetRevisionAsync(cancellationToken),
            _ => 0,
        };
        var freshness = requirement.Mode == ConsistencyMode.MinimizeLatency;
        if (!IsCurrent(index, wanted, freshness) && !await CatchUpAsync(index, wanted, freshness, cancellationToken))
        {
            // The changes it missed are no longer kept: it was forgotten, to be loaded afresh by the next request. This
            // one reads PostgreSQL, which is current.
            var reader = new PostgresTupleReader(dataSource, tenantId);
            return new TupleView(reader, await reader.GetRevisionAsync(cancellationToken), index.Engine, FromIndex: false);
        }

        return new TupleView(index.Reader, index.Revision, index.Engine, FromIndex: true);
    }

    /// <summary>After this replica commits a write, its index (if loaded) catches up so the writer reads its own write.</summary>
    public async ValueTask AfterWriteAsync(Guid tenantId, long revision, CancellationToken cancellationToken)
    {
        TenantIndex? index;
        lock (_gate)
        {
            index = _byTenant.TryGetValue(tenantId, out var node) ? node.Value : null;
        }

        if (index is { Loaded.IsCompletedSuccessfully: true, TooLarge: false })
        {
            await CatchUpAsync(index, revision, freshness: false, cancellationToken);
        }
    }

    private TenantIndex Touch(Guid tenantId)
    {
        lock (_gate)
        {
            if (_byTenant.TryGetValue(tenantId, out var node))
            {
                _recency.Remove(node);
                _recency.AddFirst(node);
                return node.Value;
            }

            while (_byTenant.Count >= _options.MaxTenants && _recency.Last is { } oldest)
            {
                _recency.RemoveLast();
                _byTenant.Remove(oldest.Value.TenantId);
            }

            var index = new TenantIndex(tenantId, new AuthorizationEngine(new AuthorizationEngineOptions
            {
                CacheCapacity = _options.CheckCacheCapacityPerTenant,
                Limits = CheckLimits.Default with { MaxListResults = _options.MaxListResults },
            }));
            _byTenant[tenantId] = _recency.AddFirst(index);
            index.Loaded = LoadAsync(index);
            return index;
        }
    }

    private void Forget(TenantIndex index)
    {
        lock (_gate)
        {
            if (_byTenant.TryGetValue(index.TenantId, out var node) && node.Value == index)
            {
                _recency.Remove(node);
                _byTenant.Remove(index.TenantId);
            }
        }
    }

    private async Task LoadAsync(TenantIndex index)
    {
        // Loading is shared by every request waiting for this tenant, so no single request's cancellation stops it.
        await Task.Yield();
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead);
        long revision;
        await using (var command = new NpgsqlCommand("SELECT \"Revision\" FROM tenant_revisions WHERE \"TenantId\" = $1", connection, transaction))
        {
            command.Parameters.AddWithValue(index.TenantId);
            revision = await command.ExecuteScalarAsync() is long r ? r : 0;
        }

        // A bounded count first, so a tenant too large to index is never materialised just to find that out.
        await using (var count = new NpgsqlCommand("""SELECT count(*) FROM (SELECT 1 FROM tuples WHERE "TenantId" = $1 LIMIT $2) AS bounded""", connection, transaction))
        {
            count.Parameters.AddWithValue(index.TenantId);
            count.Parameters.AddWithValue(_options.MaxTuplesPerTenant + 1);
            if ((long)(await count.ExecuteScalarAsync())! > _options.MaxTuplesPerTenant)
            {
                index.TooLarge = true;
                return;
            }
        }

        var tuples = new List<RelationshipTuple>();
        await using (var command = new NpgsqlCommand("""
            SELECT "ObjectType", "ObjectId", "Relation", "SubjectType", "SubjectId", "SubjectRelation", "ConditionName", "ConditionContext"::text
            FROM tuples WHERE "TenantId" = $1 LIMIT $2
            """, connection, transaction))
        {
            command.Parameters.AddWithValue(index.TenantId);
            command.Parameters.AddWithValue(_options.MaxTuplesPerTenant + 1);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                tuples.Add(new RelationshipTuple(
                    new ObjectRef(reader.GetString(0), reader.GetString(1)),
                    reader.GetString(2),
                    TupleRows.Subject(reader.GetString(3), reader.GetString(4), reader.GetString(5)),
                    TupleRows.Condition(reader.GetString(6), reader.IsDBNull(7) ? null : reader.GetString(7))));
            }
        }

        await transaction.CommitAsync();
        if (tuples.Count > _options.MaxTuplesPerTenant)
        {
            index.TooLarge = true;
            return;
        }

        await index.Store.WriteAsync(tuples, [], CancellationToken.None);
        index.TupleCount = tuples.Count;
        index.Revision = revision;
        index.LastSync = time.GetTimestamp();
        EnforceMemoryBudget(index);
    }

    /// <summary>Drops least recently used tenants (never <paramref name="keep"/>) while the indexes hold too many tuples in all.</summary>
    private void EnforceMemoryBudget(TenantIndex keep)
    {
        lock (_gate)
        {
            var total = _byTenant.Values.Sum(n => n.Value.TupleCount);
            for (var node = _recency.Last; node is not null && total > _options.MaxTotalTuples;)
            {
                var previous = node.Previous;
                if (node.Value != keep)
                {
                    total -= node.Value.TupleCount;
                    _recency.Remove(node);
                    _byTenant.Remove(node.Value.TenantId);
                }

                node = previous;
            }
        }
    }

    /// <summary>
    /// The bounds hold after loading too: a tenant that grew past <see cref="TupleIndexOptions.MaxTuplesPerTenant"/>
    /// is forgotten once caught up (this request still reads the index it has; the next one loads it again, finds it too
    /// large and reads PostgreSQL), and growth counts against the replica's total budget.
    /// </summary>
    private void CheckBudget(TenantIndex index)
    {
        if (index.TupleCount > _options.MaxTuplesPerTenant)
        {
            Forget(index);
        }
        else
        {
            EnforceMemoryBudget(index);
        }
    }

    /// <summary>Whether the index already includes <paramref name="wanted"/> (and, for <paramref name="freshness"/>, synced within the budget).</summary>
    private bool IsCurrent(TenantIndex index, long wanted, bool freshness) =>
        index.Revision >= wanted
        && (!freshness || time.GetElapsedTime(index.LastSync) <= TimeSpan.FromMilliseconds(_options.StalenessBudgetMilliseconds));

    /// <summary>
    /// Tails the changelog into the index. Concurrent requests queue on one gate, and each re-checks once it has
    /// it, so a burst of requests that all found the index stale costs one changelog query, not one each. False when
    /// the index fell behind the changelog's horizon (<see cref="ChangelogRetention"/>): it is forgotten instead.
    /// </summary>
    private async Task<bool> CatchUpAsync(TenantIndex index, long wanted, bool freshness, CancellationToken cancellationToken)
    {
        await index.CatchUpGate.WaitAsync(cancellationToken);
        try
        {
            if (IsCurrent(index, wanted, freshness))
            {
                return true;
            }

            var batch = _options.ChangelogBatchSize;
            while (true)
            {
                var syncStarted = time.GetTimestamp();
                var changes = new List<(long Revision, string Operation, string Tuple, string Condition, string? Context)>();

                // Up to the revision of the batch's last row, whole: a revision is applied all at once or not at
                // all, and one larger than the batch must not stall catching up.
                await using (var command = dataSource.CreateCommand("""
                    WITH cut AS (
                        SELECT "Revision" FROM tuple_changes WHERE "TenantId" = $1 AND "Revision" > $2
                        ORDER BY "Revision", "Id" OFFSET $3 - 1 LIMIT 1)
                    SELECT "Revision", "Operation", "Tuple", "ConditionName", "ConditionContext"::text FROM tuple_changes
                    WHERE "TenantId" = $1 AND "Revision" > $2
                      AND (NOT EXISTS (SELECT 1 FROM cut) OR "Revision" <= (SELECT "Revision" FROM cut))
                    ORDER BY "Revision", "Id"
                    """))
                {
                    command.Parameters.AddWithValue(index.TenantId);
                    command.Parameters.AddWithValue(index.Revision);
                    command.Parameters.AddWithValue(batch);
                    await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                    while (await reader.ReadAsync(cancellationToken))
                    {
                        changes.Add((reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4)));
                    }
                }

                // Read after the changes: a horizon raised before they were read means some may be gone.
                if (index.Revision < await ChangelogRetention.HorizonAsync(dataSource, index.TenantId, cancellationToken))
                {
                    Forget(index);
                    return false;
                }

                foreach (var revision in changes.GroupBy(c => c.Revision))
                {
                    var deletes = revision.Where(c => c.Operation == ChangeOperations.Delete).Select(c => TupleRows.ParseKey(c.Tuple)).ToList();
                    var writes = revision.Where(c => c.Operation == ChangeOperations.Write)
                        .Select(c =>
                        {
                            var key = TupleRows.ParseKey(c.Tuple);
                            return new RelationshipTuple(key.Object, key.Relation, key.Subject, TupleRows.Condition(c.Condition, c.Context));
                        })
                        .ToList();
                    if (deletes.Count + writes.Count > 0)
                    {
                        await index.Store.WriteAsync(writes, deletes, CancellationToken.None);
                        index.TupleCount += writes.Count - deletes.Count;
                    }

                    index.Revision = revision.Key;
                }

                if (changes.Count < batch)
                {
                    index.LastSync = syncStarted;
                    CheckBudget(index);
                    return true;
                }
            }
        }
        finally
        {
            index.CatchUpGate.Release();
        }
    }

    private sealed class TenantIndex(Guid tenantId, AuthorizationEngine engine)
    {
        private long _revision;

        public Guid TenantId { get; } = tenantId;

        public AuthorizationEngine Engine { get; } = engine;

        public InMemoryTupleStore Store { get; } = new();

        public Task Loaded { get; set; } = Task.CompletedTask;

        public SemaphoreSlim CatchUpGate { get; } = new(1, 1);

        public bool TooLarge { get; set; }

        /// <summary>About how many tuples the index holds (writes that replace a tuple count twice; close enough for a memory budget).</summary>
        public long TupleCount { get; set; }

        public long LastSync { get; set; }

        /// <summary>Set only after a revision's changes are all applied, so a reader at this revision sees all of them.</summary>
        public long Revision
        {
            get => Interlocked.Read(ref _revision);
            set => Interlocked.Exchange(ref _revision, value);
        }

        public ITupleReader Reader => new IndexReader(this);
    }

    /// <summary>The index's store, reporting the database revision it has caught up to.</summary>
    private sealed class IndexReader(TenantIndex index) : ITupleReader
    {
        public ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken) => ValueTask.FromResult(index.Revision);

        public ValueTask<RelationshipTuple?> ReadTupleAsync(TupleKey key, CancellationToken cancellationToken) => index.Store.ReadTupleAsync(key, cancellationToken);

        public IAsyncEnumerable<RelationshipTuple> ReadAsync(ObjectRef @object, string relation, CancellationToken cancellationToken) =>
            index.Store.ReadAsync(@object, relation, cancellationToken);

        public IAsyncEnumerable<RelationshipTuple> ReadUsersetsAsync(ObjectRef @object, string relation, CancellationToken cancellationToken) =>
            index.Store.ReadUsersetsAsync(@object, relation, cancellationToken);

        public IAsyncEnumerable<RelationshipTuple> ReadBySubjectAsync(string objectType, string relation, SubjectRef subject, CancellationToken cancellationToken) =>
            index.Store.ReadBySubjectAsync(objectType, relation, subject, cancellationToken);
    }
}
