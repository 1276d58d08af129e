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

    /// <summary>Normalises the request, or says which documented error it earns.</summary>
    public bool TryNormalize(out Relationship relationship, out ApiError? error)
    {
        relationship = default;
        var objectText = Object ?? (ObjectType is not null || ObjectId is not null ? $"{ObjectType}:{ObjectId}" : null);
        var subjectText = User ?? Subject ?? (UserType is not null || UserId is not null ? $"{UserType}:{UserId}" : null);
        var relation = Relation ?? Permission;

        var missing = new List<string>();
        if (string.IsNullOrWhiteSpace(objectText) || objectText == ":")
        {
            missing.Add("object");
        }

        if (string.IsNullOrWhiteSpace(relation))
        {
            missing.Add("relation");
        }

        if (string.IsNullOrWhiteSpace(subjectText) || subjectText == ":")
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
}
