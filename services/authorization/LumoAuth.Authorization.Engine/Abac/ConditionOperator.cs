namespace LumoAuth.Authorization.Engine.Abac;

/// <summary>The documented operators. Each has its spellings in both documented policy forms (and the symbols) as aliases.</summary>
public enum ConditionOperator
{
    Equals,
    NotEquals,
    In,
    NotIn,
    Contains,
    NotContains,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
    Matches,
    Exists,
    NotExists,
}

public static class ConditionOperators
{
    private static readonly Dictionary<string, ConditionOperator> ByName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["equals"] = ConditionOperator.Equals, ["eq"] = ConditionOperator.Equals, ["=="] = ConditionOperator.Equals, ["="] = ConditionOperator.Equals,
        ["not_equals"] = ConditionOperator.NotEquals, ["ne"] = ConditionOperator.NotEquals, ["neq"] = ConditionOperator.NotEquals, ["!="] = ConditionOperator.NotEquals,
        ["in"] = ConditionOperator.In,
        ["not_in"] = ConditionOperator.NotIn, ["nin"] = ConditionOperator.NotIn,
        ["contains"] = ConditionOperator.Contains,
        ["not_contains"] = ConditionOperator.NotContains,
        ["greater_than"] = ConditionOperator.GreaterThan, ["gt"] = ConditionOperator.GreaterThan, [">"] = ConditionOperator.GreaterThan,
        ["greater_than_or_equal"] = ConditionOperator.GreaterThanOrEqual, ["gte"] = ConditionOperator.GreaterThanOrEqual, [">="] = ConditionOperator.GreaterThanOrEqual,
        ["less_than"] = ConditionOperator.LessThan, ["lt"] = ConditionOperator.LessThan, ["<"] = ConditionOperator.LessThan,
        ["less_than_or_equal"] = ConditionOperator.LessThanOrEqual, ["lte"] = ConditionOperator.LessThanOrEqual, ["<="] = ConditionOperator.LessThanOrEqual,
        ["matches"] = ConditionOperator.Matches, ["regex"] = ConditionOperator.Matches,
        ["exists"] = ConditionOperator.Exists,
        ["not_exists"] = ConditionOperator.NotExists,
    };

    public static IReadOnlyCollection<string> Names => ByName.Keys;

    public static bool TryParse(string? name, out ConditionOperator value)
    {
        value = default;
        return name is not null && ByName.TryGetValue(name.Trim(), out value);
    }

    /// <summary>The canonical (form A) name.</summary>
    public static string ToName(ConditionOperator value) => value switch
    {
        ConditionOperator.Equals => "equals",
        ConditionOperator.NotEquals => "not_equals",
        ConditionOperator.In => "in",
        ConditionOperator.NotIn => "not_in",
        ConditionOperator.Contains => "contains",
        ConditionOperator.NotContains => "not_contains",
        ConditionOperator.GreaterThan => "greater_than",
        ConditionOperator.GreaterThanOrEqual => "greater_than_or_equal",
        ConditionOperator.LessThan => "less_than",
        ConditionOperator.LessThanOrEqual => "less_than_or_equal",
        ConditionOperator.Matches => "matches",
        ConditionOperator.Exists => "exists",
        _ => "not_exists",
    };
}
