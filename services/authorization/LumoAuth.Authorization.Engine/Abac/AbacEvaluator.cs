using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;

namespace LumoAuth.Authorization.Engine.Abac;

/// <summary>
/// Decides an ABAC request. Policies whose targets match the resource type and action are evaluated; of those whose
/// conditions hold, by <see cref="CombiningAlgorithm.DenyOverrides"/> (the default) any deny decides — the highest-priority
/// one is named — and otherwise the highest-priority allow; by <see cref="CombiningAlgorithm.Priority"/> the highest
/// priority decides and a deny wins a tie (so a 900 "admin override" allow beats a 200 restriction). No matching policy
/// means deny (closed world).
/// </summary>
public static class AbacEvaluator
{
    private static readonly TimeSpan RegexBudget = TimeSpan.FromMilliseconds(50);
    private static readonly ConcurrentDictionary<string, Regex?> Patterns = new(StringComparer.Ordinal);

    public static AbacDecision Evaluate(IEnumerable<AbacPolicy> policies, AbacRequest request, CombiningAlgorithm algorithm = CombiningAlgorithm.DenyOverrides)
    {
        var matched = policies
            .Where(p => Applies(p, request.ResourceType, request.Action))
            .OrderByDescending(p => p.Priority)
            .ThenBy(p => p.Effect == PolicyEffect.Deny ? 0 : 1)
            .ThenBy(p => p.Id, StringComparer.Ordinal)
            .Where(p => ConditionsHold(p, request))
            .ToList();
        if (matched.Count == 0)
        {
            return new AbacDecision(false, $"No policy allows '{request.Action}' on '{request.ResourceType}' (default deny)", [], null);
        }

        var decisive = algorithm == CombiningAlgorithm.DenyOverrides ? matched.FirstOrDefault(p => p.Effect == PolicyEffect.Deny) ?? matched[0] : matched[0];
        var allowed = decisive.Effect == PolicyEffect.Allow;
        var reason = allowed
            ? $"Allowed by policy '{decisive.Name}' (priority {decisive.Priority})"
            : $"Denied by policy '{decisive.Name}' (priority {decisive.Priority})";
        return new AbacDecision(allowed, reason, matched, decisive);
    }

    /// <summary>
    /// Whether a policy's conditions hold for the request (used by the policy test endpoint too). Conditions that cannot be
    /// decided — a <c>matches</c> pattern that timed out, is too long or does not compile — hold for a deny and not for an
    /// allow: a "false" there would turn into "true" under a <c>none</c> group, so an undecidable condition could grant.
    /// </summary>
    public static bool ConditionsHold(AbacPolicy policy, AbacRequest request)
    {
        try
        {
            return policy.Conditions is null || Holds(policy.Conditions, request);
        }
        catch (UndecidableCondition)
        {
            return policy.Effect == PolicyEffect.Deny;
        }
    }

    /// <summary>Whether one condition tree holds for the request; throws <see cref="UndecidableCondition"/> when it cannot tell.</summary>
    public static bool Holds(ConditionNode node, AbacRequest request) => node switch
    {
        ConditionGroup { Kind: ConditionGroupKind.All } all => all.Children.All(c => Holds(c, request)),
        ConditionGroup { Kind: ConditionGroupKind.Any } any => any.Children.Any(c => Holds(c, request)),
        ConditionGroup { Kind: ConditionGroupKind.None } none => !none.Children.Any(c => Holds(c, request)),
        ConditionLeaf leaf => Holds(leaf, request),
        _ => false,
    };

    /// <summary>Whether an active policy targets the resource type and action (its conditions aside).</summary>
    public static bool Applies(AbacPolicy policy, string resourceType, string action) =>
        policy.IsActive && Targets(policy.Resources, resourceType) && Targets(policy.Actions, action);

    /// <summary>
    /// The subject attributes (first segment after <c>subject.</c> or <c>user.</c>) that the policies' conditions read,
    /// as paths or as <c>$</c> references: what a check must gather about its subject, and nothing more.
    /// </summary>
    public static IReadOnlySet<string> SubjectKeysRead(IEnumerable<AbacPolicy> policies)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var policy in policies)
        {
            if (policy.Conditions is not null)
            {
                CollectSubjectKeys(policy.Conditions, keys);
            }
        }

        return keys;
    }

    private static void CollectSubjectKeys(ConditionNode node, HashSet<string> keys)
    {
        switch (node)
        {
            case ConditionGroup group:
                foreach (var child in group.Children)
                {
                    CollectSubjectKeys(child, keys);
                }

                break;
            case ConditionLeaf leaf:
                AddSubjectKey(leaf.Attribute, keys);
                if (leaf.Value is string reference && reference.StartsWith('$'))
                {
                    AddSubjectKey(reference[1..], keys);
                }

                break;
        }
    }

    private static void AddSubjectKey(string path, HashSet<string> keys)
    {
        var rest = path.StartsWith("subject.", StringComparison.Ordinal) ? path["subject.".Length..]
            : path.StartsWith("user.", StringComparison.Ordinal) ? path["user.".Length..]
            : null;
        if (!string.IsNullOrEmpty(rest))
        {
            // A dotted key may be stored whole ("a.b") or walked ("a" then "b"): both are read.
            keys.Add(rest);
            var dot = rest.IndexOf('.', StringComparison.Ordinal);
            if (dot > 0)
            {
                keys.Add(rest[..dot]);
            }
        }
    }

    /// <summary>Whether a regular expression is usable in a <c>matches</c> condition (compiles, bounded).</summary>
    public static bool IsValidPattern(string pattern) => pattern.Length <= MaxPatternLength && Pattern(pattern) is not null;

    private const int MaxPatternLength = 500;

    private static bool Targets(IReadOnlyList<string> targets, string value) =>
        targets.Count == 0 || targets.Any(t => t == "*" || string.Equals(t, value, StringComparison.Ordinal));

    /// <summary>A missing attribute makes every comparison false; only <c>exists</c> / <c>not_exists</c> speak about absence.</summary>
    private static bool Holds(ConditionLeaf leaf, AbacRequest request)
    {
        var present = TryResolve(request, leaf.Attribute, out var actual) && actual is not null;
        switch (leaf.Operator)
        {
            case ConditionOperator.Exists:
                return present;
            case ConditionOperator.NotExists:
                return !present;
        }

        if (!present)
        {
            return false;
        }

        var expected = leaf.Value;
        if (expected is string reference && reference.StartsWith('$'))
        {
            if (!TryResolve(request, reference[1..], out expected) || expected is null)
            {
                return false;
            }
        }

        return leaf.Operator switch
        {
            ConditionOperator.Equals => AreEqual(actual, expected),
            ConditionOperator.NotEquals => !AreEqual(actual, expected),
            ConditionOperator.In => IsIn(actual, expected),
            ConditionOperator.NotIn => !IsIn(actual, expected),
            ConditionOperator.Contains => Contains(actual, expected),
            ConditionOperator.NotContains => !Contains(actual, expected),
            ConditionOperator.GreaterThan => Compare(actual, expected) is > 0,
            ConditionOperator.GreaterThanOrEqual => Compare(actual, expected) is >= 0,
            ConditionOperator.LessThan => Compare(actual, expected) is < 0,
            ConditionOperator.LessThanOrEqual => Compare(actual, expected) is <= 0,
            ConditionOperator.Matches => actual is string text && expected is string pattern && IsMatch(text, pattern),
            _ => false,
        };
    }

    /// <summary>
    /// Resolves <c>subject.x</c> (alias <c>user.x</c>), <c>resource.x</c>, <c>environment.x</c> (alias <c>env.x</c>),
    /// <c>context.x</c> and <c>action</c>; nested maps are walked by the remaining dotted path.
    /// </summary>
    public static bool TryResolve(AbacRequest request, string path, out object? value)
    {
        value = null;
        if (path == "action")
        {
            value = request.Action;
            return true;
        }

        var dot = path.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0)
        {
            return false;
        }

        IReadOnlyDictionary<string, object?>? root = path[..dot] switch
        {
            "subject" or "user" => request.Subject,
            "resource" => request.Resource,
            "environment" or "env" => request.Environment,
            "context" => request.Context,
            _ => null,
        };
        return root is not null && TryWalk(root, path[(dot + 1)..], out value);
    }

    private static bool TryWalk(IReadOnlyDictionary<string, object?> map, string path, out object? value)
    {
        if (map.TryGetValue(path, out value))
        {
            return true;
        }

        var dot = path.IndexOf('.', StringComparison.Ordinal);
        if (dot > 0 && map.TryGetValue(path[..dot], out var inner))
        {
            switch (inner)
            {
                case IReadOnlyDictionary<string, object?> readOnly:
                    return TryWalk(readOnly, path[(dot + 1)..], out value);
            }
        }

        value = null;
        return false;
    }

    private static bool AreEqual(object? a, object? b)
    {
        if (TryNumber(a, out var x) && TryNumber(b, out var y))
        {
            return x == y;
        }

        return (a, b) switch
        {
            (string s, string t) => string.Equals(s, t, StringComparison.Ordinal),
            (bool p, bool q) => p == q,
            (IEnumerable<object?> l, IEnumerable<object?> m) when a is not string && b is not string => l.Count() == m.Count() && l.Zip(m).All(pair => AreEqual(pair.First, pair.Second)),
            (null, null) => true,
            _ => false,
        };
    }

    /// <summary><c>in</c>: the value is one of the list; a list value (roles) is in when any of its items is.</summary>
    private static bool IsIn(object? actual, object? expected)
    {
        if (expected is not IEnumerable<object?> options || expected is string)
        {
            return AreEqual(actual, expected);
        }

        return actual is IEnumerable<object?> items && actual is not string
            ? items.Any(item => options.Any(option => AreEqual(item, option)))
            : options.Any(option => AreEqual(actual, option));
    }

    /// <summary><c>contains</c>: a substring of a string, or an item (every item, for a list) of a list.</summary>
    private static bool Contains(object? actual, object? expected) => actual switch
    {
        string text when expected is string part => text.Contains(part, StringComparison.Ordinal),
        IEnumerable<object?> items when expected is IEnumerable<object?> wanted && expected is not string => wanted.All(w => items.Any(i => AreEqual(i, w))),
        IEnumerable<object?> items => items.Any(i => AreEqual(i, expected)),
        _ => false,
    };

    /// <summary>Numbers compare as numbers, timestamps (ISO 8601 text) as instants; anything else does not compare.</summary>
    private static int? Compare(object? a, object? b)
    {
        if (TryNumber(a, out var x) && TryNumber(b, out var y))
        {
            return x.CompareTo(y);
        }

        if (TryInstant(a, out var s) && TryInstant(b, out var t))
        {
            return s.CompareTo(t);
        }

        return null;
    }

    private static bool TryNumber(object? value, out double number)
    {
        switch (value)
        {
            case long l:
                number = l;
                return true;
            case int i:
                number = i;
                return true;
            case ulong u:
                number = u;
                return true;
            case double d when double.IsFinite(d):
                number = d;
                return true;
            default:
                number = 0;
                return false;
        }
    }

    private static bool TryInstant(object? value, out DateTimeOffset instant)
    {
        switch (value)
        {
            case DateTimeOffset offset:
                instant = offset;
                return true;
            case string text:
                return IsoInstants.TryParse(text, out instant);
            default:
                instant = default;
                return false;
        }
    }

    /// <summary>A pattern from a <c>$reference</c> is the caller's data, so it is held to the same bounds as a stored one.</summary>
    private static bool IsMatch(string text, string pattern)
    {
        if (pattern.Length > MaxPatternLength || Pattern(pattern) is not { } regex)
        {
            throw new UndecidableCondition();
        }

        try
        {
            return regex.IsMatch(text);
        }
        catch (RegexMatchTimeoutException)
        {
            // A pathological pattern or input is given up on rather than burning the request.
            throw new UndecidableCondition();
        }
    }

    private sealed class UndecidableCondition : Exception;

    private static Regex? Pattern(string pattern)
    {
        if (Patterns.Count > 10_000)
        {
            Patterns.Clear();
        }

        return Patterns.GetOrAdd(pattern, static p =>
        {
            try
            {
                return new Regex(p, RegexOptions.CultureInvariant, RegexBudget);
            }
            catch (ArgumentException)
            {
                return null;
            }
        });
    }
}
