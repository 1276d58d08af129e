using System.Text.Json;
using Microsoft.Extensions.Primitives;
using OpenIddict.Abstractions;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Request parameters whose value is JSON (<c>claims</c>, <c>authorization_details</c>): JSON text on a URL or in a form,
/// JSON itself inside a request object, and text kept as a JSON string where a pushed request was stored.
/// </summary>
public static class JsonParameters
{
    /// <summary>The parameter's JSON (null when the request has none), or what is wrong with it.</summary>
    public static (JsonElement? Value, string? Problem) Read(OpenIddictRequest request, string name, int maxLength)
    {
        if (request.GetParameter(name) is not { } parameter)
        {
            return (null, null);
        }

        if ((StringValues?)parameter is { Count: > 1 })
        {
            return (null, $"The {name} parameter must be given once.");
        }

        // The conversion parses JSON text (what does not parse stays a string).
        var value = (JsonElement)parameter;
        if (value.ValueKind == JsonValueKind.String)
        {
            try
            {
                using var document = JsonDocument.Parse(value.GetString()!);
                value = document.RootElement.Clone();
            }
            catch (JsonException)
            {
                return (null, $"The {name} parameter is not JSON.");
            }
        }

        return value.GetRawText().Length > maxLength
            ? (null, $"The {name} parameter is longer than {maxLength} characters.")
            : (value, null);
    }
}
