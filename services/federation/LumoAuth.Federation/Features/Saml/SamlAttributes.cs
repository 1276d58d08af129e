using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.Federation.Data;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>What an SP's attribute mappings may name (SAML attribute name → one of these), and the values they give.</summary>
public static class SamlAttributes
{
    /// <summary>A user's custom attribute (set through the Admin API) by key: <c>attributes.department</c>.</summary>
    public const string CustomPrefix = "attributes.";

    public static readonly IReadOnlyList<string> Sources =
        ["email", "email_verified", "given_name", "family_name", "name", "username", "phone_number", "user_id", "groups"];

    /// <summary>What an SP gets when it is registered without mappings: the names most SPs look for.</summary>
    public static Dictionary<string, string> Defaults() => new(StringComparer.Ordinal)
    {
        ["email"] = "email", ["givenName"] = "given_name", ["sn"] = "family_name", ["displayName"] = "name",
    };

    public static bool IsSource(string source) =>
        Sources.Contains(source) || (source.StartsWith(CustomPrefix, StringComparison.Ordinal) && source.Length is > 11 and <= 111);

    /// <summary>The attributes the SP's mappings give for this user, each with its values; those the user has no value for are left out.</summary>
    public static List<(string Name, IReadOnlyList<string> Values)> Of(SamlServiceProvider sp, UserProfile user)
    {
        var attributes = new List<(string, IReadOnlyList<string>)>();
        foreach (var (name, source) in sp.AttributeMappings.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            var values = ValuesOf(source, user).Where(v => !string.IsNullOrEmpty(v)).Select(v => v!).ToList();
            if (values.Count > 0)
            {
                attributes.Add((name, values));
            }
        }

        return attributes;
    }

    private static IEnumerable<string?> ValuesOf(string source, UserProfile user) => source switch
    {
        "email" => [user.Email],
        "email_verified" => [user.EmailVerified ? "true" : "false"],
        "given_name" => [user.GivenName],
        "family_name" => [user.FamilyName],
        "name" => [user.Name],
        "username" => [user.Username],
        "phone_number" => [user.PhoneNumber],
        "user_id" => [user.Id.ToString()],
        "groups" => user.Groups,
        _ when source.StartsWith(CustomPrefix, StringComparison.Ordinal) => Custom(user.Attributes, source[CustomPrefix.Length..]),
        _ => [],
    };

    /// <summary>A custom attribute's values: a string, number or boolean as text, an array as several values; objects are not sent.</summary>
    private static IEnumerable<string?> Custom(JsonElement? attributes, string key)
    {
        if (attributes is not { ValueKind: JsonValueKind.Object } all || !all.TryGetProperty(key, out var value))
        {
            return [];
        }

        return value.ValueKind == JsonValueKind.Array ? value.EnumerateArray().Select(Scalar) : [Scalar(value)];

        static string? Scalar(JsonElement element) => element.ValueKind switch
        {
            JsonValueKind.String => element.GetString(),
            JsonValueKind.Number => element.GetRawText(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => null,
        };
    }
}
