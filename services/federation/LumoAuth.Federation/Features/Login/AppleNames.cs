using System.Text.Json;

namespace LumoAuth.Federation.Features.Login;

/// <summary>
/// Apple's ID token never names the person: Apple posts their name beside the code (the <c>user</c> field,
/// <c>{"name":{"firstName":…,"lastName":…}}</c>) at the first sign-in only. That field is not signed, so only the names
/// are taken from it, never an address (the ID token's, checked, is the one that counts).
/// </summary>
public static class AppleNames
{
    private const int MaxLength = 100;

    public static UpstreamAccount Fill(UpstreamAccount account, string? user)
    {
        if (user is null || account.GivenName is not null || account.FamilyName is not null)
        {
            return account;
        }

        try
        {
            using var document = JsonDocument.Parse(user);
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.Object)
            {
                return account;
            }

            var (given, family) = (Text(name, "firstName"), Text(name, "lastName"));
            var full = string.Join(' ', new[] { given, family }.Where(part => part is not null));
            return account with { GivenName = given, FamilyName = family, Name = account.Name ?? (full.Length > 0 ? full : null) };
        }
        catch (JsonException)
        {
            return account;
        }
    }

    private static string? Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String
        && value.GetString()?.Trim() is { Length: > 0 and <= MaxLength } text && !text.Any(char.IsControl) ? text : null;
}
