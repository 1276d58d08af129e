namespace LumoAuth.Authorization.Engine.Model;

/// <summary>
/// One entry of a direct type restriction: <c>user</c>, <c>user:*</c>, <c>group#member</c>,
/// each optionally <c>with condition</c>.
/// </summary>
public sealed record AllowedSubject(string Type, string? Relation = null, bool IsWildcard = false, string? Condition = null)
{
    /// <summary>Whether a tuple's subject has the shape this entry allows (condition aside).</summary>
    public bool MatchesShape(SubjectRef subject) =>
        subject.Type == Type
        && subject.Relation == Relation
        && subject.IsWildcard == IsWildcard;

    public override string ToString()
    {
        var text = IsWildcard ? $"{Type}:*" : Relation is null ? Type : $"{Type}#{Relation}";
        return Condition is null ? text : $"{text} with {Condition}";
    }
}
