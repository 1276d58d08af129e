using System.Runtime.CompilerServices;

namespace LumoAuth.Authorization.Engine.Storage;

/// <summary>
/// A thread-safe, indexed tuple store in memory: forward by <c>object#relation</c> (usersets kept apart for
/// checks) and reverse by <c>objectType#relation@subject</c> for list-objects. Reads copy their matches under
/// the store's lock (held only for the copy), so an enumeration never observes a half-applied write.
/// </summary>
public sealed class InMemoryTupleStore : ITupleReader, ITupleWriter
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(ObjectRef, string), Bucket> _forward = [];
    private readonly Dictionary<(string, string, SubjectRef), HashSet<ObjectRef>> _reverse = [];
    private long _revision;

    public InMemoryTupleStore()
    {
    }

    public InMemoryTupleStore(IEnumerable<RelationshipTuple> tuples)
    {
        foreach (var tuple in tuples)
        {
            Put(tuple);
        }

        _revision = 1;
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _forward.Values.Sum(bucket => bucket.Count);
            }
        }
    }

    public ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken) => ValueTask.FromResult(Interlocked.Read(ref _revision));

    public ValueTask<RelationshipTuple?> ReadTupleAsync(TupleKey key, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_forward.TryGetValue((key.Object, key.Relation), out var bucket) ? bucket.Find(key.Subject) : null);
        }
    }

    public IAsyncEnumerable<RelationshipTuple> ReadAsync(ObjectRef @object, string relation, CancellationToken cancellationToken) =>
        Snapshot(@object, relation, usersetsOnly: false).ToAsync(cancellationToken);

    public IAsyncEnumerable<RelationshipTuple> ReadUsersetsAsync(ObjectRef @object, string relation, CancellationToken cancellationToken) =>
        Snapshot(@object, relation, usersetsOnly: true).ToAsync(cancellationToken);

    public IAsyncEnumerable<RelationshipTuple> ReadBySubjectAsync(string objectType, string relation, SubjectRef subject, CancellationToken cancellationToken)
    {
        RelationshipTuple[] matches;
        lock (_gate)
        {
            matches = _reverse.TryGetValue((objectType, relation, subject), out var objects)
                ? objects.Select(o => _forward[(o, relation)].Find(subject)!).ToArray()
                : [];
        }

        return matches.ToAsync(cancellationToken);
    }

    public ValueTask<long> WriteAsync(IReadOnlyCollection<RelationshipTuple> writes, IReadOnlyCollection<TupleKey> deletes, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (var key in deletes)
            {
                Remove(key);
            }

            foreach (var tuple in writes)
            {
                Put(tuple);
            }

            return ValueTask.FromResult(Interlocked.Increment(ref _revision));
        }
    }

    private RelationshipTuple[] Snapshot(ObjectRef @object, string relation, bool usersetsOnly)
    {
        lock (_gate)
        {
            return _forward.TryGetValue((@object, relation), out var bucket) ? bucket.ToArray(usersetsOnly) : [];
        }
    }

    private void Put(RelationshipTuple tuple)
    {
        if (!_forward.TryGetValue((tuple.Object, tuple.Relation), out var bucket))
        {
            _forward[(tuple.Object, tuple.Relation)] = bucket = new Bucket();
        }

        bucket.Put(tuple);
        var reverseKey = (tuple.Object.Type, tuple.Relation, tuple.Subject);
        if (!_reverse.TryGetValue(reverseKey, out var objects))
        {
            _reverse[reverseKey] = objects = [];
        }

        objects.Add(tuple.Object);
    }

    private void Remove(TupleKey key)
    {
        if (!_forward.TryGetValue((key.Object, key.Relation), out var bucket) || !bucket.Remove(key.Subject))
        {
            return;
        }

        if (bucket.Count == 0)
        {
            _forward.Remove((key.Object, key.Relation));
        }

        var reverseKey = (key.Object.Type, key.Relation, key.Subject);
        if (_reverse.TryGetValue(reverseKey, out var objects) && objects.Remove(key.Object) && objects.Count == 0)
        {
            _reverse.Remove(reverseKey);
        }
    }

    private sealed class Bucket
    {
        private readonly Dictionary<SubjectRef, RelationshipTuple> _direct = [];
        private readonly Dictionary<SubjectRef, RelationshipTuple> _usersets = [];

        public int Count => _direct.Count + _usersets.Count;

        public RelationshipTuple? Find(SubjectRef subject) =>
            (subject.IsUserset ? _usersets : _direct).GetValueOrDefault(subject);

        public void Put(RelationshipTuple tuple) => (tuple.Subject.IsUserset ? _usersets : _direct)[tuple.Subject] = tuple;

        public bool Remove(SubjectRef subject) => (subject.IsUserset ? _usersets : _direct).Remove(subject);

        public RelationshipTuple[] ToArray(bool usersetsOnly) =>
            usersetsOnly ? [.. _usersets.Values] : [.. _direct.Values, .. _usersets.Values];
    }
}

internal static class AsyncEnumerableExtensions
{
    public static async IAsyncEnumerable<T> ToAsync<T>(this IReadOnlyList<T> items, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var item in items)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return item;
        }

        await Task.CompletedTask.ConfigureAwait(false);
    }
}
