using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;

namespace LumoAuth.ServiceDefaults.Profiles;

/// <summary>What is wrong with a value given for a declared profile attribute; each service words it for its readers.</summary>
public enum ProfileValueProblem
{
    Required,
    TooLong,
    NotAWholeNumber,
    BelowMinimum,
    AboveMaximum,
    NotADate,
    NotAnEmail,
    NotAUrl,
    NotAPhoneNumber,
    NotAnOption,
    NoMatch,
    TooManyValues,
}

/// <summary>
/// The checks of a person's profile values, in one place for admin (which keeps the values) and the token service's pages
/// (which word the problems in the person's language).
/// </summary>
public static class ProfileValues
{
    /// <summary>Tenants' patterns run without backtracking, so no pattern can take time beyond linear in the value.</summary>
    public const RegexOptions PatternOptions = RegexOptions.NonBacktracking | RegexOptions.CultureInvariant;

    /// <summary>The largest whole number an attribute holds: beyond it, JSON readers that use doubles lose digits.</summary>
    public const long MaxWholeNumber = (1L << 53) - 1;

    /// <summary>What a profile's phone number may be: digits with the usual punctuation, a leading plus for the country.</summary>
    public static bool IsPhoneNumber(string? value) =>
        value is { Length: > 0 and <= 32 } && value.Trim().Length > 0 && value.All(c => char.IsAsciiDigit(c) || c is '+' or ' ' or '-' or '(' or ')');

    /// <summary>An absolute http(s) address without credentials in it.</summary>
    public static bool IsWebAddress(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" && uri.UserInfo.Length == 0 && uri.Host.Length > 0;

    /// <summary>
    /// The value to keep for <paramref name="given"/> (a whole number as a JSON number, anything else as text; null when empty,
    /// which removes the attribute), or the problem with it.
    /// </summary>
    /// <remarks>A multi-valued attribute's values come one per line and are kept as a JSON array, without repeats.</remarks>
    public static (JsonNode? Value, ProfileValueProblem? Problem) Check(ProfileAttributeInfo attribute, string? given) =>
        attribute.MultiValued ? CheckEach(attribute, given) : CheckOne(attribute, given);

    /// <summary>A multi-valued attribute's values as posted: one per line, trimmed, blank lines left out.</summary>
    public static IEnumerable<string> Lines(string? given) =>
        (given ?? string.Empty).Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static (JsonNode? Value, ProfileValueProblem? Problem) CheckEach(ProfileAttributeInfo attribute, string? given)
    {
        var each = attribute with { MultiValued = false, Required = false };
        var kept = new List<JsonNode>();
        foreach (var line in Lines(given))
        {
            var (value, problem) = CheckOne(each, line);
            if (problem is not null)
            {
                return (null, problem);
            }

            if (!kept.Any(k => JsonNode.DeepEquals(k, value)))
            {
                kept.Add(value!);
            }

            // Stop at the first value too many: a posted text area may hold any number of lines, and the check of
            // repeats above must stay bounded by the declaration's few values, not grow with the body.
            if (kept.Count > attribute.MaxValues)
            {
                return (null, ProfileValueProblem.TooManyValues);
            }
        }

        return kept.Count == 0 ? (null, attribute.Required ? ProfileValueProblem.Required : null) : (new JsonArray([.. kept]), null);
    }

    private static (JsonNode? Value, ProfileValueProblem? Problem) CheckOne(ProfileAttributeInfo attribute, string? given)
    {
        var value = given?.Trim() ?? string.Empty;
        if (value.Length == 0)
        {
            return (null, attribute.Required ? ProfileValueProblem.Required : null);
        }

        if (value.Length > attribute.MaxLength)
        {
            return (null, ProfileValueProblem.TooLong);
        }

        JsonNode kept = JsonValue.Create(value);
        switch (attribute.Type)
        {
            case ProfileAttributeTypes.Integer:
                if (!long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
                {
                    return (null, ProfileValueProblem.NotAWholeNumber);
                }

                if (number < (attribute.Min ?? -MaxWholeNumber))
                {
                    return (null, ProfileValueProblem.BelowMinimum);
                }

                if (number > (attribute.Max ?? MaxWholeNumber))
                {
                    return (null, ProfileValueProblem.AboveMaximum);
                }

                kept = JsonValue.Create(number);
                break;
            case ProfileAttributeTypes.Date when !DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _):
                return (null, ProfileValueProblem.NotADate);
            case ProfileAttributeTypes.Email when !RequestValidator.IsEmail(value):
                return (null, ProfileValueProblem.NotAnEmail);
            case ProfileAttributeTypes.Url when !IsWebAddress(value):
                return (null, ProfileValueProblem.NotAUrl);
            case ProfileAttributeTypes.Phone when !IsPhoneNumber(value):
                return (null, ProfileValueProblem.NotAPhoneNumber);
            case ProfileAttributeTypes.Choice when attribute.Options?.Any(o => o.Value == value) != true:
                return (null, ProfileValueProblem.NotAnOption);
        }

        return attribute.Pattern is { } pattern && !WholeMatch(pattern).IsMatch(value) ? (null, ProfileValueProblem.NoMatch) : (kept, null);
    }

    /// <summary>The tenant's pattern, matched against the whole value (as Keycloak's pattern validator does), or why it cannot be.</summary>
    public static string? PatternProblem(string pattern)
    {
        try
        {
            _ = WholeMatch(pattern);
            return null;
        }
        catch (ArgumentException e)
        {
            return $"is not a valid regular expression ({e.Message})";
        }
        catch (NotSupportedException)
        {
            return "may not use backreferences, lookarounds or atomic groups (patterns run without backtracking)";
        }
    }

    // Regex keeps a small cache of recently built patterns; a tenant has a handful.
    private static Regex WholeMatch(string pattern) => new($@"\A(?:{pattern})\z", PatternOptions);
}
