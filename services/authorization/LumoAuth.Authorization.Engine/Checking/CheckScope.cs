using LumoAuth.Authorization.Engine.Conditions;
using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Storage;

namespace LumoAuth.Authorization.Engine.Checking;

/// <summary>
/// Everything one root request resolves against, passed explicitly: the model, the tuples (with any
/// contextual tuples overlaid), the request context for conditions, the limits and the dispatch budget.
/// </summary>
public sealed class CheckScope
{
    private int _dispatches;

    public CheckScope(
        AuthorizationModel model,
        ITupleReader tuples,
        long revision,
        IConditionEvaluator conditions,
        CheckLimits limits,
        IReadOnlyDictionary<string, object?>? requestContext = null,
        bool cacheable = true)
    {
        Model = model;
        Tuples = tuples;
        Revision = revision;
        Conditions = conditions;
        Limits = limits;
        RequestContext = requestContext;
        Cacheable = cacheable;
    }

    public AuthorizationModel Model { get; }

    public ITupleReader Tuples { get; }

    public long Revision { get; }

    public IConditionEvaluator Conditions { get; }

    public CheckLimits Limits { get; }

    public IReadOnlyDictionary<string, object?>? RequestContext { get; }

    /// <summary>False when contextual tuples or a request context make answers specific to this request.</summary>
    public bool Cacheable { get; }

    public int Dispatches => Volatile.Read(ref _dispatches);

    /// <summary>Spends one dispatch of the root's budget; false once the budget is exhausted.</summary>
    public bool TrySpendDispatch() => Interlocked.Increment(ref _dispatches) <= Limits.MaxDispatches;
}
