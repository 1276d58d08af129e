namespace LumoAuth.Authorization.Engine;

/// <summary>
/// The subject of a tuple or a request: <c>user:alice</c>, the typed wildcard <c>user:*</c>,
/// or a userset <c>group:eng#member</c>.
/// </summary>
public readonly record struct SubjectRef(string Type, string Id, string? Relation = null)
{
    public const string WildcardId = "*";

    public bool IsWildcard => Id == WildcardId && Relation is null;

    public bool IsUserset => Relation is not null;

    public ObjectRef AsObject => new(Type, Id);

    public static SubjectRef Wildcard(string type) => new(type, WildcardId);

    public static SubjectRef FromObject(ObjectRef value, string? relation = null) => new(value.Type, value.Id, relation);

    public override string ToString() => Relation is null ? $"{Type}:{Id}" : $"{Type}:{Id}#{Relation}";

    /// <summary>Parses <c>type:id</c>, <c>type:*</c> or <c>type:id#relation</c>.</summary>
    public static bool TryParse(string? text, out SubjectRef value)
    {
        value = default;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        string? relation = null;
        var objectPart = text;
        var hash = text.IndexOf('#', StringComparison.Ordinal);
        if (hash >= 0)
        {
            relation = text[(hash + 1)..];
            objectPart = text[..hash];
            if (relation.Length == 0 || relation.Contains('#', StringComparison.Ordinal) || relation.Contains(':', StringComparison.Ordinal))
            {
                return false;
            }
        }

        if (!ObjectRef.TryParse(objectPart, out var obj) || (relation is not null && obj.Id == WildcardId))
        {
            return false;
        }

        value = new SubjectRef(obj.Type, obj.Id, relation);
        return true;
    }

    public static SubjectRef Parse(string text) =>
        TryParse(text, out var value) ? value : throw new FormatException($"'{text}' is not a subject of the form type:id, type:* or type:id#relation.");
}
