using System.Text.Json;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// A user's postal address for the OIDC <c>address</c> claim. Users keep it, as in Keycloak, among their custom
/// attributes (<c>PUT /admin/users/{id}/attributes</c>): an <c>address</c> object with the members of OIDC Core
/// §5.1.1, snake_case or camelCase. Anything else in it is left out of tokens.
/// </summary>
public static class PostalAddress
{
    private static readonly (string Claim, string Alias)[] Members =
    [
        ("formatted", "formatted"), ("street_address", "streetAddress"), ("locality", "locality"), ("region", "region"),
        ("postal_code", "postalCode"), ("country", "country"),
    ];

    public static IReadOnlyDictionary<string, string>? FromAttributes(string? attributesJson)
    {
        if (string.IsNullOrEmpty(attributesJson))
        {
            return null;
        }

        using var attributes = JsonDocument.Parse(attributesJson);
        if (attributes.RootElement.ValueKind != JsonValueKind.Object
            || !attributes.RootElement.TryGetProperty("address", out var address)
            || address.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        var members = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (claim, alias) in Members)
        {
            if ((address.TryGetProperty(claim, out var value) || address.TryGetProperty(alias, out value))
                && value.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(value.GetString()))
            {
                members[claim] = value.GetString()!;
            }
        }

        return members.Count > 0 ? members : null;
    }
}
