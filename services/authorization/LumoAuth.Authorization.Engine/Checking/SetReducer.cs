namespace LumoAuth.Authorization.Engine.Checking;

/// <summary>
/// Union, intersection and exclusion as reducers over child checks: children run with bounded concurrency,
/// the first decisive child ends the reduction and cancels its still-running siblings.
/// </summary>
internal static class SetReducer
{
    public static async ValueTask<CheckResult> UnionAsync(
        IReadOnlyList<Func<CancellationToken, ValueTask<CheckResult>>> children,
        IReadOnlyList<CheckResult> settled,
        int maxConcurrency,
        CancellationToken cancellationToken)
    {
        var (decisive, results) = await RunAsync(children, static (_, r) => r.IsAllowed, maxConcurrency, cancellationToken).ConfigureAwait(false);
        return decisive ?? CombineUndecided([.. settled, .. results.OfType<CheckResult>()]);
    }

    public static async ValueTask<CheckResult> IntersectionAsync(
        IReadOnlyList<Func<CancellationToken, ValueTask<CheckResult>>> children,
        int maxConcurrency,
        CancellationToken cancellationToken)
    {
        var (decisive, results) = await RunAsync(children, static (_, r) => r.Outcome == CheckOutcome.Denied, maxConcurrency, cancellationToken).ConfigureAwait(false);
        if (decisive is not null)
        {
            return decisive;
        }

        var all = results.OfType<CheckResult>().ToList();
        return all.All(r => r.IsAllowed)
            ? CheckResult.Allowed(all.SelectMany(r => r.Path).ToList()).WithCycleSeen(all.Any(r => r.CycleSeen))
            : CombineUndecided(all);
    }

    public static async ValueTask<CheckResult> ExclusionAsync(
        Func<CancellationToken, ValueTask<CheckResult>> @base,
        Func<CancellationToken, ValueTask<CheckResult>> subtract,
        int maxConcurrency,
        CancellationToken cancellationToken)
    {
        var (decisive, results) = await RunAsync(
            [@base, subtract],
            static (index, r) => index == 0 ? r.Outcome == CheckOutcome.Denied : r.IsAllowed,
            maxConcurrency,
            cancellationToken).ConfigureAwait(false);
        if (decisive is not null)
        {
            return decisive.IsAllowed ? CheckResult.Denied.WithCycleSeen(decisive.CycleSeen) : decisive;
        }

        var (baseResult, subtractResult) = (results[0]!, results[1]!);
        var cycleSeen = baseResult.CycleSeen || subtractResult.CycleSeen;
        return baseResult.Outcome == CheckOutcome.Error ? baseResult
            : subtractResult.Outcome == CheckOutcome.Error ? subtractResult
            : baseResult.Outcome == CheckOutcome.Cycle || subtractResult.Outcome == CheckOutcome.Cycle ? CheckResult.CycleDetected
            : baseResult.WithCycleSeen(cycleSeen);
    }

    /// <summary>No child decided: an error wins over a cycle, a cycle over a plain denial.</summary>
    public static CheckResult CombineUndecided(IReadOnlyList<CheckResult> results) =>
        results.FirstOrDefault(r => r.Outcome == CheckOutcome.Error)
        ?? (results.Any(r => r.Outcome == CheckOutcome.Cycle)
            ? CheckResult.CycleDetected
            : CheckResult.Denied.WithCycleSeen(results.Any(r => r.CycleSeen)));

    private static async ValueTask<(CheckResult? Decisive, CheckResult?[] Results)> RunAsync(
        IReadOnlyList<Func<CancellationToken, ValueTask<CheckResult>>> children,
        Func<int, CheckResult, bool> isDecisive,
        int maxConcurrency,
        CancellationToken cancellationToken)
    {
        var results = new CheckResult?[children.Count];
        if (children.Count == 0)
        {
            return (null, results);
        }

        using var siblings = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = new List<(Task<CheckResult> Task, int Index)>();
        var next = 0;
        try
        {
            while (next < children.Count || running.Count > 0)
            {
                while (running.Count < Math.Max(1, maxConcurrency) && next < children.Count)
                {
                    var index = next++;
                    var pending = children[index](siblings.Token);

                    // Answers from an in-memory index complete synchronously: no task, no scheduling.
                    if (pending.IsCompletedSuccessfully)
                    {
                        var value = pending.Result;
                        results[index] = value;
                        if (isDecisive(index, value))
                        {
                            return (value, results);
                        }
                    }
                    else
                    {
                        running.Add((pending.AsTask(), index));
                    }
                }

                if (running.Count == 0)
                {
                    continue;
                }

                var done = await Task.WhenAny(running.Select(r => r.Task)).ConfigureAwait(false);
                var entry = running.First(r => r.Task == done);
                running.Remove(entry);
                var result = await done.ConfigureAwait(false);
                results[entry.Index] = result;
                if (isDecisive(entry.Index, result))
                {
                    return (result, results);
                }
            }

            return (null, results);
        }
        finally
        {
            if (running.Count > 0)
            {
                await siblings.CancelAsync().ConfigureAwait(false);
                try
                {
                    await Task.WhenAll(running.Select(r => r.Task)).ConfigureAwait(false);
                }
                catch (Exception) when (!cancellationToken.IsCancellationRequested)
                {
                    // Siblings of a decided reduction were cancelled on purpose; their outcome no longer matters.
                }
            }
        }
    }
}
