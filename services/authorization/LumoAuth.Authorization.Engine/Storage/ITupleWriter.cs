namespace LumoAuth.Authorization.Engine.Storage;

/// <summary>Writes tuples atomically: all deletes and writes of one call become visible at one new revision.</summary>
public interface ITupleWriter
{
    /// <summary>
    /// Applies <paramref name="deletes"/> then <paramref name="writes"/> and returns the new revision.
    /// Writing an existing key replaces its condition; deleting a missing key does nothing.
    /// </summary>
    ValueTask<long> WriteAsync(IReadOnlyCollection<RelationshipTuple> writes, IReadOnlyCollection<TupleKey> deletes, CancellationToken cancellationToken);
}
