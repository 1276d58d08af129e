namespace LumoAuth.Authorization.Engine.Abac;

public enum PolicyEffect
{
    Allow,
    Deny,
}

/// <summary>How the matching policies of a tenant make one decision (XACML's combining algorithms).</summary>
public enum CombiningAlgorithm
{
    /// <summary>Any matching deny decides, whatever the priorities; else any matching allow (the docs' algorithm, the default).</summary>
    DenyOverrides,

    /// <summary>The highest-priority matching policy decides, a deny winning a tie: lets a high-priority "admin override" allow beat restrictions.</summary>
    Priority,
}

public enum ConditionGroupKind
{
    /// <summary>Every child holds (AND).</summary>
    All,

    /// <summary>At least one child holds (OR).</summary>
    Any,

    /// <summary>No child holds (NOT of OR).</summary>
    None,
}

/// <summary>A node of a policy's condition tree.</summary>
public abstract record ConditionNode;

/// <summary><c>{all|any|none: [...]}</c>; groups nest.</summary>
public sealed record ConditionGroup(ConditionGroupKind Kind, IReadOnlyList<ConditionNode> Children) : ConditionNode;

/// <summary>
/// <c>{attribute, operator, value}</c>: <see cref="Attribute"/> is a path (<c>subject.department</c>, <c>resource.amount</c>,
/// <c>environment.hour</c>, <c>action</c>); <see cref="Value"/> is a JSON-like literal or a <c>$path</c> reference.
/// </summary>
public sealed record ConditionLeaf(string Attribute, ConditionOperator Operator, object? Value) : ConditionNode;

/// <summary>
/// An ABAC policy. It applies when its targets match the request (an empty list or <c>*</c> matches anything),
/// and matches when its conditions hold (no conditions: always).
/// </summary>
public sealed record AbacPolicy(
    string Id,
    string Name,
    PolicyEffect Effect,
    int Priority,
    IReadOnlyList<string> Resources,
    IReadOnlyList<string> Actions,
    ConditionNode? Conditions,
    bool IsActive = true);

/// <summary>What is asked: who (subject attributes), does what (action), to what (resource attributes), in which circumstances.</summary>
public sealed record AbacRequest(
    string Action,
    string ResourceType,
    IReadOnlyDictionary<string, object?> Subject,
    IReadOnlyDictionary<string, object?> Resource,
    IReadOnlyDictionary<string, object?> Environment,
    IReadOnlyDictionary<string, object?>? Context = null);

/// <summary>The decision with its explanation: the policies that matched, decisive one first.</summary>
public sealed record AbacDecision(bool Allowed, string Reason, IReadOnlyList<AbacPolicy> MatchedPolicies, AbacPolicy? DecidingPolicy);
