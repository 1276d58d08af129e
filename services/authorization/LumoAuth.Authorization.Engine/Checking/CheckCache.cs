using System.Collections.Concurrent;

namespace LumoAuth.Authorization.Engine.Checking;

/// <summary>
/// Check answers keyed by model id and store revision, so a write (new revision) or a new model never
/// sees an older answer. Bounded: when full it starts over, which is cheap and keeps memory flat.
/// </summary>
public sealed class CheckCache(int capacity = 100_000)
{
    private readonly ConcurrentDictionary<CacheKey, CheckResult> _entries = new();

    public int Count => _entries.Count;

    internal bool TryGet(CheckRequest request, out CheckResult result) =>
        _entries.TryGetValue(KeyOf(request), out result!);

    internal void Store(CheckRequest request, CheckResult result)
    {
        if (_entries.Count >= capacity)
        {
            _entries.Clear();
        }

        _entries[KeyOf(request)] = result;
    }

    public void Clear() => _entries.Clear();

    private static CacheKey KeyOf(CheckRequest request) =>
        new(request.Scope.Model.Id, request.Scope.Revision, request.Key);

    private readonly record struct CacheKey(string ModelId, long Revision, TupleKey Check);
}
