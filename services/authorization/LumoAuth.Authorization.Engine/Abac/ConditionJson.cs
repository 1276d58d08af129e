using System.Text.Json;
using System.Text.Json.Nodes;
using LumoAuth.Authorization.Engine.Conditions;

namespace LumoAuth.Authorization.Engine.Abac;

/// <summary>
/// Reads a policy's conditions in either documented form and writes them back in the canonical one.
/// Form A: <c>{all|any|none: [leaf | group]}</c> with leaves <c>{attribute, operator, value}</c> (several keys at one level
/// must all hold). Form B: <c>{operator: AND|OR|NOT, conditions: [...]}</c> with leaves <c>{subject: path, operator, value}</c>.
/// A bare array is <c>all</c>. Bounded in depth and size so a policy cannot make evaluation expensive.
/// </summary>
public static class ConditionJson
{
    public const int MaxDepth = 10;
    public const int MaxNodes = 200;

    private static readonly string[] Roots = ["subject.", "user.", "resource.", "environment.", "env.", "context."];

    public static ConditionNode? Parse(JsonElement element, List<string> errors)
    {
        var nodes = 0;
        return Read(element, "conditions", 0, errors, ref nodes);
    }

    public static JsonNode ToJson(ConditionNode node) => node switch
    {
        ConditionGroup group => new JsonObject
        {
            [group.Kind.ToString().ToLowerInvariant()] = new JsonArray([.. group.Children.Select(ToJson)]),
        },
        ConditionLeaf leaf => new JsonObject
        {
            ["attribute"] = leaf.Attribute,
            ["operator"] = ConditionOperators.ToName(leaf.Operator),
            ["value"] = JsonSerializer.SerializeToNode(leaf.Value),
        },
        _ => throw new InvalidOperationException($"Unknown condition node {node.GetType().Name}."),
    };

    private static ConditionNode? Read(JsonElement element, string path, int depth, List<string> errors, ref int nodes)
    {
        if (++nodes > MaxNodes)
        {
            errors.Add($"{path}: a policy may hold at most {MaxNodes} conditions");
            return null;
        }

        if (depth > MaxDepth)
        {
            errors.Add($"{path}: conditions nest at most {MaxDepth} deep");
            return null;
        }

        if (element.ValueKind == JsonValueKind.Array)
        {
            return Group(ConditionGroupKind.All, element, path, depth, errors, ref nodes);
        }

        if (element.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{path}: must be an object or an array");
            return null;
        }

        // Form B group.
        if (element.TryGetProperty("conditions", out var children))
        {
            var op = element.TryGetProperty("operator", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString()!.ToUpperInvariant() : "AND";
            ConditionGroupKind? kind = op switch { "AND" or "ALL" => ConditionGroupKind.All, "OR" or "ANY" => ConditionGroupKind.Any, "NOT" or "NONE" => ConditionGroupKind.None, _ => null };
            if (kind is null)
            {
                errors.Add($"{path}.operator: must be AND, OR or NOT");
                return null;
            }

            return Group(kind.Value, children, $"{path}.conditions", depth, errors, ref nodes);
        }

        // Leaf, in either form.
        if (element.TryGetProperty("attribute", out var attribute) || element.TryGetProperty("subject", out attribute) || element.TryGetProperty("field", out attribute))
        {
            return Leaf(element, attribute, path, errors);
        }

        // Form A groups: every present key must hold.
        var groups = new List<ConditionNode>();
        foreach (var property in element.EnumerateObject())
        {
            ConditionGroupKind? kind = property.Name switch { "all" => ConditionGroupKind.All, "any" => ConditionGroupKind.Any, "none" => ConditionGroupKind.None, _ => null };
            if (kind is null)
            {
                errors.Add($"{path}.{property.Name}: unknown key (expected all, any, none, or a condition)");
                continue;
            }

            if (Group(kind.Value, property.Value, $"{path}.{property.Name}", depth, errors, ref nodes) is { } group)
            {
                groups.Add(group);
            }
        }

        if (groups.Count == 0 && errors.Count == 0)
        {
            errors.Add($"{path}: must hold all, any or none");
        }

        return groups.Count == 1 ? groups[0] : new ConditionGroup(ConditionGroupKind.All, groups);
    }

    private static ConditionGroup? Group(ConditionGroupKind kind, JsonElement array, string path, int depth, List<string> errors, ref int nodes)
    {
        if (array.ValueKind != JsonValueKind.Array)
        {
            errors.Add($"{path}: must be an array");
            return null;
        }

        var children = new List<ConditionNode>();
        var index = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (Read(item, $"{path}[{index++}]", depth + 1, errors, ref nodes) is { } child)
            {
                children.Add(child);
            }
        }

        return new ConditionGroup(kind, children);
    }

    private static ConditionLeaf? Leaf(JsonElement element, JsonElement attribute, string path, List<string> errors)
    {
        var name = attribute.ValueKind == JsonValueKind.String ? attribute.GetString()! : string.Empty;
        if (name != "action" && !Roots.Any(r => name.StartsWith(r, StringComparison.Ordinal) && name.Length > r.Length))
        {
            errors.Add($"{path}.attribute: '{name}' must be 'action' or start with subject., user., resource., environment., env. or context.");
            return null;
        }

        var operatorName = element.TryGetProperty("operator", out var o) && o.ValueKind == JsonValueKind.String ? o.GetString() : null;
        if (!ConditionOperators.TryParse(operatorName, out var op))
        {
            errors.Add($"{path}.operator: '{operatorName}' is not a known operator");
            return null;
        }

        var value = element.TryGetProperty("value", out var v) ? ContextValues.Normalize(v) : null;
        if (op is not (ConditionOperator.Exists or ConditionOperator.NotExists) && value is null)
        {
            errors.Add($"{path}.value: is required for '{operatorName}'");
            return null;
        }

        if (op is ConditionOperator.In or ConditionOperator.NotIn && value is not List<object?> && !(value is string s && s.StartsWith('$')))
        {
            errors.Add($"{path}.value: '{operatorName}' needs an array");
            return null;
        }

        if (op == ConditionOperator.Matches && (value is not string pattern || !AbacEvaluator.IsValidPattern(pattern)))
        {
            errors.Add($"{path}.value: must be a valid regular expression of at most 500 characters");
            return null;
        }

        return new ConditionLeaf(name, op, value);
    }
}
