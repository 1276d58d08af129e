using System.Diagnostics.CodeAnalysis;
using System.Text.RegularExpressions;

namespace LumoAuth.Authorization.Features.Relationships;

/// <summary>An object (<c>type:id</c>) or a subject (<c>type:id</c>, <c>type:id#relation</c>, <c>type:*</c>).</summary>
public readonly record struct EntityRef(string Type, string Id, string Relation = "")
{
    public override string ToString() => Relation.Length == 0 ? $"{Type}:{Id}" : $"{Type}:{Id}#{Relation}";
}

public readonly record struct Relationship(EntityRef Object, string Relation, EntityRef Subject)
{
    /// <summary>The standard notation <c>object#relation@subject</c> (C-29).</summary>
    public override string ToString() => $"{Object}#{Relation}@{Subject}";
}

public static partial class RelationshipNotation
{
    public static bool TryParseObject(string? value, out EntityRef entity) =>
        TryParse(value, allowRelation: false, out entity) && entity.Id != "*";

    public static bool TryParseSubject(string? value, out EntityRef entity) => TryParse(value, allowRelation: true, out entity);

    public static bool IsName(string? value) => value is not null && NamePattern().IsMatch(value);

    public static bool IsId(string? value) => value is not null && (value == "*" || IdPattern().IsMatch(value));

    private static bool TryParse(string? value, bool allowRelation, [NotNullWhen(true)] out EntityRef entity)
    {
        entity = default;
        if (string.IsNullOrEmpty(value) || value.Length > 400)
        {
            return false;
        }

        var colon = value.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            return false;
        }

        var type = value[..colon];
        var rest = value[(colon + 1)..];
        var relation = string.Empty;
        var hash = rest.IndexOf('#', StringComparison.Ordinal);
        if (hash >= 0)
        {
            if (!allowRelation)
            {
                return false;
            }

            relation = rest[(hash + 1)..];
            rest = rest[..hash];
            if (!IsName(relation))
            {
                return false;
            }
        }

        if (!IsName(type) || !IsId(rest))
        {
            return false;
        }

        entity = new EntityRef(type, rest, relation);
        return true;
    }

    [GeneratedRegex("^[a-z][a-z0-9_-]{0,63}$")]
    private static partial Regex NamePattern();

    // Ids may hold emails, paths and uuids. '#' ends an object id (and starts a userset's relation), so no id holds it;
    // '@' may appear, since the one-string notation splits at the first '#' and then at the first '@' (relations never hold '@').
    [GeneratedRegex(@"^[A-Za-z0-9_\-.:|/+=~@]{1,256}$")]
    private static partial Regex IdPattern();
}
