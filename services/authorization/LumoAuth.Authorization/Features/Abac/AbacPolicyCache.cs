using System.Collections.Concurrent;
using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Engine.Abac;
using LumoAuth.Authorization.Features.Rbac;
using LumoAuth.Authorization.Storage;
using LumoAuth.Messaging.Outbox;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Authorization.Features.Abac;

/// <summary>
/// Each tenant's active ABAC policies, held in memory for the checks. Policy writes travel the way every other
/// change does between replicas: they move the revision of the tenant's RBAC store and leave a changelog row
/// (<see cref="ChangeOperations.Policy"/>), which each replica's index tails. An entry loaded at or after the
/// revision the index has reached is current; anything older is read again. The writer's own replica catches
/// up at once; the others within the index's staleness budget.
/// </summary>
public sealed class AbacPolicyCache(TenantIndexes indexes)
{
    private const int MaxTenants = 10_000;
    private readonly ConcurrentDictionary<Guid, CachedPolicies> _byTenant = new();

    public async ValueTask<AbacPolicySet> GetAsync(AuthorizationDbContext db, Guid tenantId, CancellationToken cancellationToken)
    {
        var view = await indexes.GetAsync(RbacModel.StoreOf(tenantId), ConsistencyRequirement.Default, cancellationToken);
        if (_byTenant.TryGetValue(tenantId, out var cached) && cached.Revision >= view.Revision)
        {
            return cached.Set;
        }

        // Read after the revision was seen, so the rows are at least that fresh.
        var rows = await db.AbacPolicies.IgnoreQueryFilters().AsNoTracking()
            .Where(p => p.TenantId == tenantId && p.IsActive)
            .ToListAsync(cancellationToken);
        var combining = await db.AbacSettings.IgnoreQueryFilters().AsNoTracking()
            .Where(x => x.TenantId == tenantId).Select(x => x.CombiningAlgorithm).FirstOrDefaultAsync(cancellationToken);
        var loaded = new CachedPolicies(new AbacPolicySet([.. rows.Select(PolicyRows.ToPolicy)], AbacSettingsEndpoints.AlgorithmOf(combining)), view.Revision);
        if (_byTenant.Count >= MaxTenants)
        {
            _byTenant.Clear();
        }

        _byTenant.AddOrUpdate(tenantId, loaded, (_, old) => old.Revision > loaded.Revision ? old : loaded);
        return loaded.Set;
    }

    /// <summary>
    /// Records a change to <paramref name="policyId"/> in the caller's open transaction: the tenant's RBAC revision
    /// moves and the changelog says why. Returns the new revision, for <see cref="AfterWriteAsync"/> once committed.
    /// </summary>
    public static async Task<long> RecordChangeAsync(AuthorizationDbContext db, Guid tenantId, Guid policyId, string change, CancellationToken cancellationToken)
    {
        var revision = await RecordAsync(db, tenantId, $"abac policy {policyId} {change}", cancellationToken);
        // Audited with the change it records (the caller's transaction holds both).
        db.AddEvent(new Contracts.Authorization.AbacPolicyChanged(policyId, change) { TenantId = tenantId });
        return revision;
    }

    /// <summary>Records a change of the tenant's ABAC settings, as <see cref="RecordChangeAsync"/> does a policy's.</summary>
    public static async Task<long> RecordSettingsChangeAsync(AuthorizationDbContext db, Guid tenantId, string combiningAlgorithm, CancellationToken cancellationToken)
    {
        var revision = await RecordAsync(db, tenantId, $"abac settings {combiningAlgorithm}", cancellationToken);
        db.AddEvent(new Contracts.Authorization.AbacSettingsChanged(combiningAlgorithm) { TenantId = tenantId });
        return revision;
    }

    private static async Task<long> RecordAsync(AuthorizationDbContext db, Guid tenantId, string what, CancellationToken cancellationToken)
    {
        var store = RbacModel.StoreOf(tenantId);
        await TupleStoreWriter.LockRevisionAsync(db, store, cancellationToken);
        var revision = await TupleStoreWriter.BumpRevisionAsync(db, store, cancellationToken);
        db.Changes.Add(new TupleChange
        {
            TenantId = store, Revision = revision, Operation = ChangeOperations.Policy, Tuple = what, Timestamp = DateTimeOffset.UtcNow,
        });
        return revision;
    }

    /// <summary>This replica's index moves past the committed change, so its very next check reads the new policies.</summary>
    public ValueTask AfterWriteAsync(Guid tenantId, long revision, CancellationToken cancellationToken) =>
        indexes.AfterWriteAsync(RbacModel.StoreOf(tenantId), revision, cancellationToken);

    private sealed record CachedPolicies(AbacPolicySet Set, long Revision);
}

/// <summary>
/// Policies to evaluate, and which subject attributes the ones targeting a (resource type, action) read — worked out once
/// per pair and load, not per check, so a check gathers no more about its subject than its policies need.
/// </summary>
public sealed class AbacPolicySet(IReadOnlyList<AbacPolicy> policies, CombiningAlgorithm combining = CombiningAlgorithm.DenyOverrides)
{
    /// <summary>How the tenant's matching policies make one decision (<see cref="AbacSettingsRow"/>).</summary>
    public CombiningAlgorithm Combining => combining;

    private const int MaxPairs = 1_000;
    private readonly ConcurrentDictionary<(string ResourceType, string Action), IReadOnlySet<string>> _subjectKeys = new();
    private int _pairs;

    public IReadOnlyList<AbacPolicy> Policies => policies;

    public IReadOnlySet<string> SubjectKeysFor(string resourceType, string action)
    {
        if (_subjectKeys.TryGetValue((resourceType, action), out var keys))
        {
            return keys;
        }

        keys = AbacEvaluator.SubjectKeysRead(policies.Where(p => AbacEvaluator.Applies(p, resourceType, action)));
        if (Volatile.Read(ref _pairs) < MaxPairs && _subjectKeys.TryAdd((resourceType, action), keys))
        {
            Interlocked.Increment(ref _pairs);
        }

        return keys;
    }
}
