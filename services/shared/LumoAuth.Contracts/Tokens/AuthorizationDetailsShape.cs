using System.Text.Json;

namespace LumoAuth.Contracts.Tokens;

/// <summary>
/// The shape every RFC 9396 authorization details object must have, wherever one is taken (the token service's OAuth
/// endpoints, the agents service's JIT requests): a <c>type</c> string and, when present, the common fields of §2.2 with
/// their types. What a type's other members mean is the business of the APIs that read them; they are kept as sent.
/// </summary>
public static class AuthorizationDetailsShape
{
    public const int MaxObjects = 10;
    public const int MaxJsonLength = 8192;

    /// <summary>What is wrong with one object; null when it has the shape.</summary>
    public static string? ProblemOf(JsonElement item)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            return "must hold objects";
        }

        if (!item.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String || type.GetString() is not { Length: > 0 and <= 100 })
        {
            return "each object needs a 'type' string (1-100 characters)";
        }

        foreach (var field in new[] { "actions", "locations", "datatypes", "privileges" })
        {
            if (item.TryGetProperty(field, out var list)
                && (list.ValueKind != JsonValueKind.Array || list.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String)))
            {
                return $"'{field}' must be an array of strings";
            }
        }

        return item.TryGetProperty("identifier", out var identifier) && identifier.ValueKind != JsonValueKind.String
            ? "'identifier' must be a string"
            : null;
    }
}
