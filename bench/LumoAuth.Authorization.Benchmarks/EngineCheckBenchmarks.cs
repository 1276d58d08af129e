using BenchmarkDotNet.Attributes;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Schema;
using LumoAuth.Authorization.Engine.Storage;

namespace LumoAuth.Authorization.Benchmarks;

/// <summary>
/// The engine against one tenant's in-memory index of about 1M tuples (the service's check path answers
/// from exactly this store). The check cache is off, so every operation walks the graph; see
/// <see cref="TenantGraph"/> for the data's shape.
/// </summary>
[MemoryDiagnoser]
public class EngineCheckBenchmarks
{
    private AuthorizationEngine _engine = null!;
    private AuthorizationModel _model = null!;
    private InMemoryTupleStore _store = null!;
    private CheckQuery _direct = null!;
    private CheckQuery _threeLevelTupleToUserset = null!;
    private CheckQuery _nestedGroup = null!;
    private ListObjectsQuery _listObjects = null!;

    [GlobalSetup]
    public void Setup()
    {
        (_model, _store) = TenantGraph.Build();
        _engine = new AuthorizationEngine(new AuthorizationEngineOptions
        {
            CacheCapacity = 0,
            Limits = CheckLimits.Default with { MaxListResults = 20_000, MaxListCandidates = 100_000, MaxDispatches = 200_000 },
        });
        _direct = new CheckQuery(new ObjectRef("document", "d12345"), "viewer", new SubjectRef("user", TenantGraph.DirectViewerOf(12345)));
        _threeLevelTupleToUserset = new CheckQuery(new ObjectRef("document", TenantGraph.PowerDocument), "viewer", new SubjectRef("user", TenantGraph.PowerUser));
        _nestedGroup = new CheckQuery(new ObjectRef("document", TenantGraph.NestedGroupDocument), "viewer", new SubjectRef("user", TenantGraph.NestedGroupUser));
        _listObjects = new ListObjectsQuery("document", "viewer", new SubjectRef("user", TenantGraph.PowerUser));

        // Fail fast if the data does not say what the benchmarks claim to measure.
        Require(Check(_direct), "direct");
        Require(Check(_threeLevelTupleToUserset), "three-level tuple-to-userset");
        Require(Check(_nestedGroup), "nested group");
        var listed = _engine.ListObjectsAsync(_model, _store, _listObjects).AsTask().GetAwaiter().GetResult();
        if (listed.Objects.Count != TenantGraph.PowerDocuments || !listed.IsComplete)
        {
            throw new InvalidOperationException($"list-objects found {listed.Objects.Count} objects (complete: {listed.IsComplete}), expected {TenantGraph.PowerDocuments}");
        }
    }

    [Benchmark(Description = "check: direct tuple")]
    public ValueTask<CheckResult> DirectCheck() => _engine.CheckAsync(_model, _store, _direct);

    [Benchmark(Description = "check: 3-level tuple-to-userset")]
    public ValueTask<CheckResult> ThreeLevelTupleToUserset() => _engine.CheckAsync(_model, _store, _threeLevelTupleToUserset);

    [Benchmark(Description = "check: group nested 3 deep")]
    public ValueTask<CheckResult> NestedGroupCheck() => _engine.CheckAsync(_model, _store, _nestedGroup);

    [Benchmark(Description = "list-objects: 10k documents")]
    public ValueTask<ListObjectsResult> ListObjects10k() => _engine.ListObjectsAsync(_model, _store, _listObjects);

    private bool Check(CheckQuery query) => _engine.CheckAsync(_model, _store, query).AsTask().GetAwaiter().GetResult().IsAllowed;

    private static void Require(bool allowed, string what)
    {
        if (!allowed)
        {
            throw new InvalidOperationException($"The {what} benchmark check is not allowed by the generated data.");
        }
    }
}
