using System.Globalization;
using System.Text.Json;

namespace LumoAuth.Authorization.Engine.Conditions;

/// <summary>
/// Turns context values into the JSON-like shapes the engine works with (null, bool, long, ulong, double,
/// string, <see cref="List{T}"/>, string-keyed <see cref="Dictionary{TKey,TValue}"/>), whatever the caller
/// passed: CLR numbers, <see cref="JsonElement"/>s from an HTTP body, or nested collections.
/// </summary>
public static class ContextValues
{
    public static IReadOnlyDictionary<string, object?> FromJson(JsonElement element) =>
        element.ValueKind == JsonValueKind.Object
            ? (Dictionary<string, object?>)Normalize(element)!
            : throw new ArgumentException("A context must be a JSON object.", nameof(element));

    public static object? Normalize(object? value) => value switch
    {
        null => null,
        JsonElement json => FromJsonElement(json),
        string or bool or long or ulong or double => value,
        int i => (long)i,
        short s => (long)s,
        byte b => (long)b,
        uint u => (ulong)u,
        float f => (double)f,
        decimal d => (double)d,
        DateTimeOffset or TimeSpan or IpAddressValue => value,
        DateTime dt => new DateTimeOffset(dt.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(dt, DateTimeKind.Utc) : dt),
        IReadOnlyDictionary<string, object?> map => map.ToDictionary(p => p.Key, p => Normalize(p.Value), StringComparer.Ordinal),
        IDictionary<string, object?> map => map.ToDictionary(p => p.Key, p => Normalize(p.Value), StringComparer.Ordinal),
        System.Collections.IDictionary map => map.Keys.Cast<object>().ToDictionary(k => Convert.ToString(k, CultureInfo.InvariantCulture)!, k => Normalize(map[k]), StringComparer.Ordinal),
        System.Collections.IEnumerable list => list.Cast<object?>().Select(Normalize).ToList(),
        _ => value,
    };

    private static object? FromJsonElement(JsonElement json) => json.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => json.GetString(),
        JsonValueKind.Number when json.TryGetInt64(out var l) => l,
        JsonValueKind.Number when json.TryGetUInt64(out var u) => u,
        JsonValueKind.Number => FiniteDouble(json),
        JsonValueKind.Array => json.EnumerateArray().Select(e => FromJsonElement(e)).ToList(),
        _ => ObjectOf(json),
    };

    /// <summary>True when every number in <paramref name="json"/> fits a double (<c>1e400</c> does not: it could be neither compared nor stored).</summary>
    public static bool HasOnlyFiniteNumbers(JsonElement json) => json.ValueKind switch
    {
        JsonValueKind.Number => json.TryGetDouble(out var d) && double.IsFinite(d),
        JsonValueKind.Array => json.EnumerateArray().All(HasOnlyFiniteNumbers),
        JsonValueKind.Object => json.EnumerateObject().All(p => HasOnlyFiniteNumbers(p.Value)),
        _ => true,
    };

    private static double FiniteDouble(JsonElement json)
    {
        var raw = json.GetRawText();
        var value = double.Parse(raw, NumberStyles.Float, CultureInfo.InvariantCulture);
        return double.IsFinite(value) ? value : throw new InvalidDataException($"The number {(raw.Length > 40 ? raw[..40] + "…" : raw)} is out of range.");
    }

    /// <summary>A repeated name keeps its last value, as System.Text.Json does for typed objects (the HTTP layer refuses repeats).</summary>
    private static Dictionary<string, object?> ObjectOf(JsonElement json)
    {
        var map = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var property in json.EnumerateObject())
        {
            map[property.Name] = FromJsonElement(property.Value);
        }

        return map;
    }
}
