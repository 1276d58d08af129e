using System.Globalization;
using System.Text.RegularExpressions;

namespace LumoAuth.Authorization.Engine.Abac;

/// <summary>
/// The one reading of a date and time in ABAC: ISO 8601 (<c>2024-05-01</c>, <c>2024-05-01T09:00:00Z</c>, with an offset or
/// fractions), UTC when no offset is given. Culture-dependent forms such as <c>05/01/2024</c> are not dates here.
/// </summary>
public static partial class IsoInstants
{
    public static bool TryParse(string? text, out DateTimeOffset instant)
    {
        instant = default;
        return text is { Length: >= 10 and <= 40 } && Iso().IsMatch(text)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out instant);
    }

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:?\d{2})?)?$", RegexOptions.CultureInvariant)]
    private static partial Regex Iso();
}
