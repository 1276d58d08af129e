using System.Text.Json;
using System.Text.Json.Nodes;
using LumoAuth.Contracts.Tokens;

namespace LumoAuth.Agents.Features.Jit;

/// <summary>An amount an authorization details object states: its currency (upper case) and value; either null when unreadable.</summary>
public sealed record StatedAmount(string? Currency, decimal? Value);

/// <summary>One RFC 9396 authorization details object, read for risk; the object itself is kept and issued as sent.</summary>
public sealed record AuthorizationDetail(string Type, IReadOnlyList<string> Actions, StatedAmount? Amount = null)
{
    public const int MaxObjects = AuthorizationDetailsShape.MaxObjects;
    public const int MaxJsonLength = AuthorizationDetailsShape.MaxJsonLength;

    /// <summary>
    /// An object or an array of objects, each with a string <c>type</c> and, if present, <c>actions</c>, <c>locations</c> and
    /// <c>datatypes</c> as arrays of strings and <c>identifier</c> as a string (RFC 9396 §2.2's common fields). The
    /// normalised array, or the problem.
    /// </summary>
    public static bool TryRead(JsonElement? value, out JsonArray normalized, out IReadOnlyList<AuthorizationDetail> details, out string? problem)
    {
        normalized = [];
        details = [];
        problem = null;
        if (value is not { ValueKind: JsonValueKind.Object or JsonValueKind.Array } given)
        {
            problem = "is required: an authorization details object or an array of them (RFC 9396)";
            return false;
        }

        if (given.GetRawText().Length > MaxJsonLength)
        {
            problem = $"must be at most {MaxJsonLength} characters of JSON";
            return false;
        }

        var objects = given.ValueKind == JsonValueKind.Array ? given.EnumerateArray().ToList() : [given];
        if (objects.Count is 0 or > MaxObjects)
        {
            problem = $"must hold 1 to {MaxObjects} objects";
            return false;
        }

        var read = new List<AuthorizationDetail>();
        foreach (var item in objects)
        {
            if (AuthorizationDetailsShape.ProblemOf(item) is { } shapeProblem)
            {
                problem = shapeProblem;
                return false;
            }

            var typeName = item.GetProperty("type").GetString()!;
            var actions = item.TryGetProperty("actions", out var a) ? a.EnumerateArray().Select(e => e.GetString()!).ToList() : [];
            read.Add(new AuthorizationDetail(typeName, actions, AmountOf(item)));
            normalized.Add(JsonNode.Parse(item.GetRawText()));
        }

        details = read;
        return true;
    }

    /// <summary>
    /// The amount the object states, in RFC 9396's own shape (<c>instructedAmount: {currency, amount}</c>, as payment
    /// initiation sends it) or flat (<c>amount</c> beside <c>currency</c>); the amount a string or a number. Null when it
    /// states none.
    /// </summary>
    private static StatedAmount? AmountOf(JsonElement item)
    {
        var holder = item.TryGetProperty("instructedAmount", out var instructed) ? instructed : item;
        if (holder.ValueKind != JsonValueKind.Object || !holder.TryGetProperty("amount", out var amount))
        {
            return instructed.ValueKind == JsonValueKind.Undefined ? null : new StatedAmount(null, null);
        }

        decimal? value = amount.ValueKind switch
        {
            JsonValueKind.Number when amount.TryGetDecimal(out var number) => number,
            JsonValueKind.String when decimal.TryParse(amount.GetString(), System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var text) => text,
            _ => null,
        };
        var currency = holder.TryGetProperty("currency", out var code) && code.ValueKind == JsonValueKind.String ? code.GetString()!.Trim().ToUpperInvariant() : null;
        return new StatedAmount(currency, value is >= 0 ? value : null);
    }
}
