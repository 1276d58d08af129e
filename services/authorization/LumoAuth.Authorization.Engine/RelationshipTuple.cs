namespace LumoAuth.Authorization.Engine;

/// <summary>The identity of a tuple: at most one tuple exists per key.</summary>
public readonly record struct TupleKey(ObjectRef Object, string Relation, SubjectRef Subject)
{
    public override string ToString() => $"{Object}#{Relation}@{Subject}";
}

/// <summary>A condition attached to a tuple: the condition's name and the context stored with the tuple.</summary>
public sealed record TupleCondition(string Name, IReadOnlyDictionary<string, object?>? Context = null);

/// <summary>
/// <c>object#relation@subject</c>, optionally conditional. Context values are JSON-like:
/// null, bool, long, double, string, lists and string-keyed dictionaries of those.
/// </summary>
public sealed record RelationshipTuple(ObjectRef Object, string Relation, SubjectRef Subject, TupleCondition? Condition = null)
{
    public TupleKey Key => new(Object, Relation, Subject);

    public static RelationshipTuple Parse(string objectText, string relation, string subjectText, TupleCondition? condition = null) =>
        new(ObjectRef.Parse(objectText), relation, SubjectRef.Parse(subjectText), condition);

    public override string ToString() => Condition is null ? Key.ToString() : $"{Key} with {Condition.Name}";
}
