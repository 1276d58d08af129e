using System.Text.Json.Serialization;
using LumoAuth.ServiceDefaults.Errors;

namespace LumoAuth.Authorization.Features.Relationships;

/// <summary>
/// Accepts the three documented shapes (C-29): <c>{object, relation, user}</c> (canonical),
/// <c>{object_type, object_id, relation, user_type, user_id}</c> and <c>{object, permission|relation, subject}</c>.
/// </summary>
public sealed record RelationshipRequest(
    [property: JsonPropertyName("object")] string? Object,
    [property: JsonPropertyName("relation")] string? Relation,
    [property: JsonPropertyName("permission")] string? Permission,
    [property: JsonPropertyName("user")] string? User,
    [property: JsonPropertyName("subject")] string? Subject,
    [property: JsonPropertyName("object_type")] string? ObjectType,
    [property: JsonPropertyName("object_id")] string? ObjectId,
    [property: JsonPropertyName("user_type")] string? UserType,
    [property: JsonPropertyName("user_id")] string? UserId)
{
    public const string MissingFields = "MISSING_FIELDS";
    public const string InvalidFormat = "ZANZIBAR_CHECK_FAILED";

    /// <summary>A condition on a written tuple: <c>{name, context?}</c>.</summary>
    [JsonPropertyName("condition")]
    public TupleConditionRequest? Condition { get; init; }

    /// <summary>Check only: values for condition parameters.</summary>
    [JsonPropertyName("context")]
    public System.Text.Json.JsonElement? Context { get; init; }

    /// <summary>Check only: tuples that hold for this request alone.</summary>
    [JsonPropertyName("contextual_tuples")]
    public IReadOnlyList<RelationshipRequest>? ContextualTuples { get; init; }

    /// <summary>
    /// The whole tuple as one string, in either documented notation: <c>document:readme#viewer@user:alice</c>
    /// or <c>document:readme:viewer:user:alice</c> (exactly five colon-separated parts; a userset subject keeps its <c>#relation</c>).
    /// </summary>
    [JsonPropertyName("tuple")]
    public string? Tuple { get; init; }

    [JsonPropertyName("consistency")]
    public string? Consistency { get; init; }

    [JsonPropertyName("consistency_token")]
    public string? ConsistencyToken { get; init; }

    private static string? Joined(string? type, string? id) =>
        string.IsNullOrWhiteSpace(type) || string.IsNullOrWhiteSpace(id) ? null : $"{type}:{id}";

    /// <summary>Normalises the request, or says which documented error it earns.</summary>
    public bool TryNormalize(out Relationship relationship, out ApiError? error)
    {
        relationship = default;
        // The split form names a thing only with both halves; one half alone is a missing field, not a malformed one.
        var objectText = Object ?? Joined(ObjectType, ObjectId);
        var subjectText = User ?? Subject ?? Joined(UserType, UserId);
        var relation = Relation ?? Permission;
        if (Tuple is not null && objectText is null && subjectText is null && relation is null)
        {
            if (!TrySplitTuple(Tuple, out objectText, out relation, out subjectText))
            {
                error = new ApiError("'tuple' must look like 'type:id#relation@subject' or 'type:id:relation:type:id'", 400, InvalidFormat);
                return false;
            }
        }

        var missing = new List<string>();
        if (string.IsNullOrWhiteSpace(objectText))
        {
            missing.Add("object");
        }

        if (string.IsNullOrWhiteSpace(relation))
        {
            missing.Add("relation");
        }

        if (string.IsNullOrWhiteSpace(subjectText))
        {
            missing.Add("user");
        }

        if (missing.Count > 0)
        {
            error = new ApiError($"Required fields are missing: {string.Join(", ", missing)}", 400, MissingFields, new { fields = missing });
            return false;
        }

        if (!RelationshipNotation.TryParseObject(objectText, out var obj))
        {
            error = new ApiError("'object' must look like 'type:id'", 400, InvalidFormat);
            return false;
        }

        if (!RelationshipNotation.IsName(relation))
        {
            error = new ApiError("'relation' must be a lowercase name", 400, InvalidFormat);
            return false;
        }

        if (!RelationshipNotation.TryParseSubject(subjectText, out var subject))
        {
            error = new ApiError("'user' must look like 'type:id', 'type:id#relation' or 'type:*'", 400, InvalidFormat);
            return false;
        }

        relationship = new Relationship(obj, relation!, subject);
        error = null;
        return true;
    }

    /// <summary>
    /// Splits <c>object#relation@subject</c> at the first <c>#</c> (object ids never hold one) and the rest at its first
    /// <c>@</c> (relation names never hold one), so ids may hold <c>@</c>. Text whose first <c>#</c> is not followed by
    /// <c>relation@</c> is the colon notation, where only a userset subject carries a <c>#</c>.
    /// </summary>
    internal static bool TrySplitTuple(string text, out string? objectText, out string? relation, out string? subjectText)
    {
        objectText = relation = subjectText = null;
        var hash = text.IndexOf('#', StringComparison.Ordinal);
        var at = hash < 0 ? -1 : text.IndexOf('@', hash + 1);
        if (hash > 0 && at > hash)
        {
            (objectText, relation, subjectText) = (text[..hash], text[(hash + 1)..at], text[(at + 1)..]);
            return true;
        }

        var parts = text.Split(':');
        if (parts.Length != 5)
        {
            return false;
        }

        (objectText, relation, subjectText) = ($"{parts[0]}:{parts[1]}", parts[2], $"{parts[3]}:{parts[4]}");
        return true;
    }
}

public sealed record TupleConditionRequest(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("context")] System.Text.Json.JsonElement? Context);
