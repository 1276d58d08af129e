using System.Globalization;
using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Conditions;

/// <summary>
/// Converts a context value to a parameter's declared CEL type (OpenFGA's rules: numbers may come as text,
/// timestamps as RFC 3339, durations as Go durations, doubles must be finite, ints must be integral).
/// </summary>
internal static class ParameterConverter
{
    // Comprehension macros walk every element, so a request could make one evaluation arbitrarily
    // expensive; Cel has no cost limit of its own.
    public const int MaxCollectionSize = 1_000;
    public const int MaxStringLength = 8_192;

    public static bool TryConvert(object? value, ConditionParameterType type, out object? converted, out string? error)
    {
        converted = null;
        error = null;
        value = ContextValues.Normalize(value);
        if (value is null)
        {
            error = "null is not allowed";
            return false;
        }

        if (value is string { Length: > MaxStringLength })
        {
            error = $"strings are limited to {MaxStringLength} characters";
            return false;
        }

        converted = type.Kind switch
        {
            ConditionParameterKind.Any => value,
            ConditionParameterKind.Bool => value as bool?,
            ConditionParameterKind.String => value as string,
            ConditionParameterKind.Int => ToInt(value),
            ConditionParameterKind.UInt => ToUInt(value),
            ConditionParameterKind.Double => ToDouble(value) is { } number ? number : null,
            ConditionParameterKind.Duration => value switch { TimeSpan t => t, string s => GoDuration.TryParse(s, out var d) ? d : null, _ => null },
            ConditionParameterKind.Timestamp => value switch
            {
                DateTimeOffset t => t,
                string s when DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) => t,
                _ => null,
            },
            ConditionParameterKind.IpAddress => value switch
            {
                IpAddressValue ip => ip,
                string s when IpAddressValue.TryParse(s, out var ip) => ip,
                _ => null,
            },
            ConditionParameterKind.List => ToList(value, type.Element!, ref error),
            ConditionParameterKind.Map => ToMap(value, type.Element!, ref error),
            _ => null,
        };
        if (converted is null)
        {
            error ??= $"{Describe(value)} is not a valid {type}";
            return false;
        }

        return true;
    }

    private static object? ToInt(object value) => value switch
    {
        long l => l,
        ulong u when u <= long.MaxValue => (long)u,
        double d when double.IsFinite(d) && Math.Floor(d) == d && d >= long.MinValue && d < long.MaxValue => (long)d,
        string s when long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l,
        _ => null,
    };

    private static object? ToUInt(object value) => value switch
    {
        long l when l >= 0 => (ulong)l,
        ulong u => u,
        double d when double.IsFinite(d) && Math.Floor(d) == d && d >= 0 && d < ulong.MaxValue => (ulong)d,
        string s when ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var u) => u,
        _ => null,
    };

    private static double? ToDouble(object value)
    {
        double? result = value switch
        {
            double d => d,
            long l => l,
            ulong u => u,
            string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
            _ => null,
        };
        return result is { } finite && double.IsFinite(finite) ? finite : null;
    }

    private static List<object?>? ToList(object value, ConditionParameterType element, ref string? error)
    {
        if (value is not List<object?> list)
        {
            return null;
        }

        if (list.Count > MaxCollectionSize)
        {
            error = $"lists are limited to {MaxCollectionSize} elements";
            return null;
        }

        var result = new List<object?>(list.Count);
        foreach (var item in list)
        {
            if (!TryConvert(item, element, out var converted, out var itemError))
            {
                error = $"list element: {itemError}";
                return null;
            }

            result.Add(converted);
        }

        return result;
    }

    private static Dictionary<string, object?>? ToMap(object value, ConditionParameterType element, ref string? error)
    {
        if (value is not Dictionary<string, object?> map)
        {
            return null;
        }

        if (map.Count > MaxCollectionSize)
        {
            error = $"maps are limited to {MaxCollectionSize} entries";
            return null;
        }

        var result = new Dictionary<string, object?>(map.Count, StringComparer.Ordinal);
        foreach (var (key, item) in map)
        {
            if (!TryConvert(item, element, out var converted, out var itemError))
            {
                error = $"map entry '{key}': {itemError}";
                return null;
            }

            result[key] = converted;
        }

        return result;
    }

    private static string Describe(object value) => value switch
    {
        string s => $"\"{(s.Length > 40 ? s[..40] + "…" : s)}\"",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.GetType().Name,
    };
}
