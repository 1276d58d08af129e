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
    /// Parses the changelog's <c>type:id#relation@subject</c>. Object ids never hold <c>#</c> and relations never hold
    /// <c>@</c>, but ids may hold <c>@</c> (e-mails) and <c>:</c>: so the text splits at its first <c>#</c>, the rest at its
    /// first <c>@</c>, and each <c>type:id</c> at its first <c>:</c>.
    /// </summary>
    public static TupleKey ParseKey(string text)
    {
        var hash = text.IndexOf('#', StringComparison.Ordinal);
        var objectText = text[..hash];
        var at = text.IndexOf('@', hash + 1);
        var relation = text[(hash + 1)..at];
        var colon = objectText.IndexOf(':', StringComparison.Ordinal);
        var subjectText = text[(at + 1)..];
        var subjectHash = subjectText.IndexOf('#', StringComparison.Ordinal);
        var subjectObject = subjectHash < 0 ? subjectText : subjectText[..subjectHash];
        var subjectColon = subjectObject.IndexOf(':', StringComparison.Ordinal);
        return new TupleKey(
            new ObjectRef(objectText[..colon], objectText[(colon + 1)..]),
            relation,
            new SubjectRef(subjectObject[..subjectColon], subjectObject[(subjectColon + 1)..], subjectHash < 0 ? null : subjectText[(subjectHash + 1)..]));
    }
}
