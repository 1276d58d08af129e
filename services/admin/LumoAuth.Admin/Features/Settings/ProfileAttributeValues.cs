using System.Text.Json.Nodes;
using LumoAuth.ServiceDefaults.Errors;

namespace LumoAuth.Admin.Features.Settings;

/// <summary>
/// Values people give for their tenant's declared attributes (<see cref="UserProfilePolicy"/>), checked and written into
/// the user's custom attributes: at registration only those asked there, on the account page only those the user may change.
/// </summary>
public static class ProfileAttributeValues
{
    /// <summary>The user's custom attributes with the values applied, or null with the problems in <paramref name="validation"/>.</summary>
    public static string? Apply(
        IReadOnlyList<ProfileAttribute> declared, IReadOnlyDictionary<string, string>? values, bool atRegistration, string currentAttributes, RequestValidator validation)
    {
        var asked = declared.Where(a => atRegistration ? a.OnRegistration : a.UserEditable).ToList();
        values ??= new Dictionary<string, string>();
        foreach (var name in values.Keys.Where(k => asked.All(a => a.Name != k)))
        {
            validation.Add($"attributes.{name}", "is not an attribute that can be set here");
        }

        var attributes = JsonNode.Parse(currentAttributes) as JsonObject ?? [];
        foreach (var attribute in asked)
        {
            // On the account page an attribute left out of the form stays as it is; at registration it is simply empty.
            if (!values.TryGetValue(attribute.Name, out var given) && !atRegistration)
            {
                continue;
            }

            var value = given?.Trim() ?? string.Empty;
            if (value.Length > attribute.MaxLength)
            {
                validation.Add($"attributes.{attribute.Name}", $"must be at most {attribute.MaxLength} characters");
            }
            else if (value.Length == 0 && attribute.Required)
            {
                validation.Add($"attributes.{attribute.Name}", "is required");
            }
            else if (value.Length == 0)
            {
                attributes.Remove(attribute.Name);
            }
            else
            {
                attributes[attribute.Name] = value;
            }
        }

        var json = attributes.ToJsonString();
        validation.Check(System.Text.Encoding.UTF8.GetByteCount(json) <= Users.UserEndpoints.MaxAttributesBytes, "attributes",
            $"the user's attributes would exceed {Users.UserEndpoints.MaxAttributesBytes} bytes");
        return validation.IsValid ? json : null;
    }
}
