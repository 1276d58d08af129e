using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Engine.Conditions;

namespace LumoAuth.Authorization.Engine;

public sealed record AuthorizationEngineOptions
{
    public CheckLimits Limits { get; init; } = CheckLimits.Default;

    /// <summary>Cached check answers (keyed by model and revision); 0 turns the cache off.</summary>
    public int CacheCapacity { get; init; } = 100_000;

    public IConditionEvaluator Conditions { get; init; } = CelConditionEvaluator.Shared;
}
