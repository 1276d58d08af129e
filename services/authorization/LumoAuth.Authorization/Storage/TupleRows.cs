using System.Text.Json;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Engine.Conditions;

namespace LumoAuth.Authorization.Storage;

/// <summary>Conversions between the table's columns (empty strings for "none") and the engine's tuples.</summary>
public static class TupleRows
{
    public static SubjectRef Subject(string type, string id, string relation) =>
        new(type, id, relation.Length == 0 ? null : relation);

    public static TupleCondition? Condition(string name, string? contextJson)
    {
        if (name.Length == 0)
        {
            return null;
        }

        if (contextJson is null)
        {
            return new TupleCondition(name);
        }

        using var document = JsonDocument.Parse(contextJson);
        return new TupleCondition(name, ContextValues.FromJson(document.RootElement));
    }

    public static string? ContextJson(TupleCondition? condition) =>
        condition?.Context is { Count: > 0 } context ? JsonSerializer.Serialize(context) : null;

    /// <summary>
    /// Parses the changelog's <c>type:id#relation@subject</c>. Ids never hold <c>#</c> or <c>@</c> (the
    /// notation reserves them) but may hold <c>:</c>, so each part splits at its first separator.
    /// </summary>
    public static TupleKey ParseKey(string text)
    {
        var at = text.IndexOf('@', StringComparison.Ordinal);
        var left = text[..at];
        var hash = left.IndexOf('#', StringComparison.Ordinal);
        var objectText = left[..hash];
        var colon = objectText.IndexOf(':', StringComparison.Ordinal);
        var subjectText = text[(at + 1)..];
        var subjectHash = subjectText.IndexOf('#', StringComparison.Ordinal);
        var subjectObject = subjectHash < 0 ? subjectText : subjectText[..subjectHash];
        var subjectColon = subjectObject.IndexOf(':', StringComparison.Ordinal);
        return new TupleKey(
            new ObjectRef(objectText[..colon], objectText[(colon + 1)..]),
            left[(hash + 1)..],
            new SubjectRef(subjectObject[..subjectColon], subjectObject[(subjectColon + 1)..], subjectHash < 0 ? null : subjectText[(subjectHash + 1)..]));
    }
}
