namespace LumoAuth.Authorization.Engine;

/// <summary>Does <paramref name="Subject"/> have <paramref name="Relation"/> on <paramref name="Object"/>?</summary>
public sealed record CheckQuery(ObjectRef Object, string Relation, SubjectRef Subject)
{
    /// <summary>Tuples that hold for this request only (validated against the model).</summary>
    public IReadOnlyList<RelationshipTuple> ContextualTuples { get; init; } = [];

    /// <summary>Values for condition parameters; a tuple's stored context wins over these.</summary>
    public IReadOnlyDictionary<string, object?>? Context { get; init; }
}

/// <summary>Which objects of <paramref name="ObjectType"/> does <paramref name="Subject"/> have <paramref name="Relation"/> on?</summary>
public sealed record ListObjectsQuery(string ObjectType, string Relation, SubjectRef Subject)
{
    public IReadOnlyList<RelationshipTuple> ContextualTuples { get; init; } = [];

    public IReadOnlyDictionary<string, object?>? Context { get; init; }
}

/// <summary>A kind of subject list-users should return: a type (<c>user</c>, including <c>user:*</c>) or a userset type (<c>group#member</c>).</summary>
public sealed record UserFilter(string Type, string? Relation = null)
{
    public static UserFilter Parse(string text)
    {
        var hash = text.IndexOf('#', StringComparison.Ordinal);
        return hash < 0 ? new UserFilter(text) : new UserFilter(text[..hash], text[(hash + 1)..]);
    }

    public override string ToString() => Relation is null ? Type : $"{Type}#{Relation}";
}

/// <summary>Which subjects, of the kinds in <paramref name="Filters"/>, have <paramref name="Relation"/> on <paramref name="Object"/>?</summary>
public sealed record ListUsersQuery(ObjectRef Object, string Relation, IReadOnlyList<UserFilter> Filters)
{
    public IReadOnlyList<RelationshipTuple> ContextualTuples { get; init; } = [];

    public IReadOnlyDictionary<string, object?>? Context { get; init; }
}

/// <summary>The userset tree of <paramref name="Object"/>#<paramref name="Relation"/>, one level deep.</summary>
public sealed record ExpandQuery(ObjectRef Object, string Relation)
{
    public IReadOnlyList<RelationshipTuple> ContextualTuples { get; init; } = [];
}
