namespace LumoAuth.Authorization.Engine.Checking;

/// <summary>
/// Answers repeated sub-checks from <see cref="CheckCache"/>. Only definite answers are kept: errors,
/// cycles and anything that saw a cycle depend on the path or the moment, and requests with contextual
/// tuples or a condition context are specific to themselves.
/// </summary>
internal sealed class CachingCheckResolver(CheckCache cache, ICheckResolver next) : ICheckResolver
{
    public async ValueTask<CheckResult> ResolveAsync(CheckRequest request, CancellationToken cancellationToken)
    {
        if (!request.Scope.Cacheable)
        {
            return await next.ResolveAsync(request, cancellationToken).ConfigureAwait(false);
        }

        if (cache.TryGet(request, out var cached))
        {
            return cached;
        }

        var result = await next.ResolveAsync(request, cancellationToken).ConfigureAwait(false);
        if (result.Outcome is CheckOutcome.Allowed or CheckOutcome.Denied && !result.CycleSeen)
        {
            cache.Store(request, result);
        }

        return result;
    }
}
