namespace LumoAuth.Authorization.Engine;

/// <summary>An object in the graph, written <c>type:id</c> (<c>document:readme</c>).</summary>
public readonly record struct ObjectRef(string Type, string Id)
{
    public override string ToString() => $"{Type}:{Id}";

    /// <summary>Parses <c>type:id</c>; the id may not contain <c>#</c> or another <c>:</c>.</summary>
    public static bool TryParse(string? text, out ObjectRef value)
    {
        value = default;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == text.Length - 1)
        {
            return false;
        }

        var type = text[..colon];
        var id = text[(colon + 1)..];
        if (id.Contains(':', StringComparison.Ordinal) || id.Contains('#', StringComparison.Ordinal)
            || type.Contains('#', StringComparison.Ordinal) || id.Any(char.IsWhiteSpace) || type.Any(char.IsWhiteSpace))
        {
            return false;
        }

        value = new ObjectRef(type, id);
        return true;
    }

    public static ObjectRef Parse(string text) =>
        TryParse(text, out var value) ? value : throw new FormatException($"'{text}' is not an object of the form type:id.");
}
