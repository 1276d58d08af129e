using LumoAuth.Authorization.Engine.Conditions;

namespace LumoAuth.Authorization.Engine.Checking;

internal static class TupleConditions
{
    /// <summary>Evaluates a tuple's condition against the request's context; a tuple without one always holds.</summary>
    public static ConditionResult Evaluate(CheckScope scope, RelationshipTuple tuple)
    {
        if (tuple.Condition is null)
        {
            return ConditionResult.Met;
        }

        return scope.Model.TryGetCondition(tuple.Condition.Name, out var condition)
            ? scope.Conditions.Evaluate(condition, tuple.Condition.Context, scope.RequestContext)
            : ConditionResult.Failed($"condition '{tuple.Condition.Name}' is not defined in the model");
    }

    public static CheckResult ToFailure(ConditionResult result) =>
        CheckResult.Failed(CheckErrorCode.ConditionFailed, result.Error!);
}
