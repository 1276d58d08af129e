using System.Runtime.CompilerServices;

namespace LumoAuth.Authorization.Engine.Storage;

/// <summary>
/// Overlays a request's contextual tuples on a store: they are read as if written, and win over a stored
/// tuple with the same key. They live for one request only.
/// </summary>
internal sealed class ContextualTupleReader : ITupleReader
{
    private readonly ITupleReader _inner;
    private readonly InMemoryTupleStore _overlay;

    public ContextualTupleReader(ITupleReader inner, IEnumerable<RelationshipTuple> contextualTuples)
    {
        _inner = inner;
        _overlay = new InMemoryTupleStore(contextualTuples);
    }

    public ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken) => _inner.GetRevisionAsync(cancellationToken);

    public async ValueTask<RelationshipTuple?> ReadTupleAsync(TupleKey key, CancellationToken cancellationToken) =>
        await _overlay.ReadTupleAsync(key, cancellationToken).ConfigureAwait(false)
        ?? await _inner.ReadTupleAsync(key, cancellationToken).ConfigureAwait(false);

    public IAsyncEnumerable<RelationshipTuple> ReadAsync(ObjectRef @object, string relation, CancellationToken cancellationToken) =>
        Merge(_overlay.ReadAsync(@object, relation, cancellationToken), _inner.ReadAsync(@object, relation, cancellationToken), cancellationToken);

    public IAsyncEnumerable<RelationshipTuple> ReadUsersetsAsync(ObjectRef @object, string relation, CancellationToken cancellationToken) =>
        Merge(_overlay.ReadUsersetsAsync(@object, relation, cancellationToken), _inner.ReadUsersetsAsync(@object, relation, cancellationToken), cancellationToken);

    public IAsyncEnumerable<RelationshipTuple> ReadBySubjectAsync(string objectType, string relation, SubjectRef subject, CancellationToken cancellationToken) =>
        Merge(_overlay.ReadBySubjectAsync(objectType, relation, subject, cancellationToken), _inner.ReadBySubjectAsync(objectType, relation, subject, cancellationToken), cancellationToken);

    private static async IAsyncEnumerable<RelationshipTuple> Merge(
        IAsyncEnumerable<RelationshipTuple> contextual,
        IAsyncEnumerable<RelationshipTuple> stored,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var seen = new HashSet<TupleKey>();
        await foreach (var tuple in contextual.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            seen.Add(tuple.Key);
            yield return tuple;
        }

        await foreach (var tuple in stored.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (!seen.Contains(tuple.Key))
            {
                yield return tuple;
            }
        }
    }
}
