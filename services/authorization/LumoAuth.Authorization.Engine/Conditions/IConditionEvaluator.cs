using LumoAuth.Authorization.Engine.Model;

namespace LumoAuth.Authorization.Engine.Conditions;

/// <summary>The outcome of one condition: met, not met, or an error (missing or ill-typed parameter, non-bool result).</summary>
public readonly record struct ConditionResult(bool IsMet, string? Error)
{
    public static ConditionResult Met => new(true, null);

    public static ConditionResult NotMet => new(false, null);

    public bool IsError => Error is not null;

    public static ConditionResult Failed(string error) => new(false, error);
}

/// <summary>Evaluates a tuple's condition. The tuple's stored context wins over the request's context.</summary>
public interface IConditionEvaluator
{
    ConditionResult Evaluate(
        ConditionDefinition condition,
        IReadOnlyDictionary<string, object?>? storedContext,
        IReadOnlyDictionary<string, object?>? requestContext);
}
