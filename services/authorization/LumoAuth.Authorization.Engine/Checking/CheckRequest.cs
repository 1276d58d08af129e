namespace LumoAuth.Authorization.Engine.Checking;

/// <summary>Does <see cref="Subject"/> have <see cref="Relation"/> on <see cref="Object"/>? Carries its root's scope and its own place in the recursion.</summary>
public sealed record CheckRequest(ObjectRef Object, string Relation, SubjectRef Subject, CheckScope Scope, ResolutionMetadata Metadata)
{
    public TupleKey Key => new(Object, Relation, Subject);
}

/// <summary>
/// Per-path recursion state: the depth left and the checks already on the path (a repeat is a cycle).
/// Immutable, so concurrent branches cannot disturb each other.
/// </summary>
public sealed class ResolutionMetadata
{
    private readonly VisitedNode? _visited;

    private ResolutionMetadata(int remainingDepth, VisitedNode? visited)
    {
        RemainingDepth = remainingDepth;
        _visited = visited;
    }

    public int RemainingDepth { get; }

    public static ResolutionMetadata Root(int maxDepth) => new(maxDepth, null);

    public bool HasVisited(TupleKey key)
    {
        for (var node = _visited; node is not null; node = node.Parent)
        {
            if (node.Key == key)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The metadata of a sub-check dispatched from the check <paramref name="from"/>.</summary>
    public ResolutionMetadata Descend(TupleKey from) => new(RemainingDepth - 1, new VisitedNode(from, _visited));

    // A linked list: paths are at most MaxDepth long, and siblings share their ancestors.
    private sealed record VisitedNode(TupleKey Key, VisitedNode? Parent);
}
