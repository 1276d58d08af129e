namespace LumoAuth.Authorization.Engine.Storage;

/// <summary>
/// The reads the engine needs, and no more. Implementations return tuples as stored: the engine itself
/// ignores tuples that no longer fit the current model's type restrictions.
/// </summary>
public interface ITupleReader
{
    /// <summary>The store's revision; it grows with every write, so caches key results by it.</summary>
    ValueTask<long> GetRevisionAsync(CancellationToken cancellationToken);

    /// <summary>The tuple with exactly this key, if any.</summary>
    ValueTask<RelationshipTuple?> ReadTupleAsync(TupleKey key, CancellationToken cancellationToken);

    /// <summary>Every tuple of <c>object#relation</c>, whatever its subject.</summary>
    IAsyncEnumerable<RelationshipTuple> ReadAsync(ObjectRef @object, string relation, CancellationToken cancellationToken);

    /// <summary>The tuples of <c>object#relation</c> whose subject is a userset (<c>group:eng#member</c>).</summary>
    IAsyncEnumerable<RelationshipTuple> ReadUsersetsAsync(ObjectRef @object, string relation, CancellationToken cancellationToken);

    /// <summary>Reverse lookup for list-objects: tuples <c>objectType:*#relation@subject</c> for exactly this subject.</summary>
    IAsyncEnumerable<RelationshipTuple> ReadBySubjectAsync(string objectType, string relation, SubjectRef subject, CancellationToken cancellationToken);
}
