namespace LumoAuth.ServiceDefaults.Paging;

/// <summary>
/// Counts for lists over tables that grow without bound (the audit log, stored tokens, tuples, webhook deliveries):
/// counting stops past a bound rather than reading every row of the tenant on every page.
/// </summary>
public static class BoundedCount
{
    public const long DefaultBound = 100_000;

    /// <param name="countUpTo">Counts the list's rows, stopping at the number it is given (<c>n => rows.Take(n).LongCountAsync()</c>).</param>
    /// <returns>The number of rows, or <paramref name="bound"/> (not exact) when there are more.</returns>
    public static async Task<(long Count, bool Exact)> UpToAsync(Func<int, Task<long>> countUpTo, long bound)
    {
        var counted = await countUpTo((int)Math.Min(bound + 1, int.MaxValue));
        return counted > bound ? (bound, false) : (counted, true);
    }

    /// <summary>A page's meta, counted at least to the page's end: whether another page follows is always exact.</summary>
    public static async Task<PageMeta> PageMetaAsync(PageRequest paging, Func<int, Task<long>> countUpTo, long bound = DefaultBound)
    {
        var (count, exact) = await UpToAsync(countUpTo, Math.Max(bound, (long)paging.Skip + paging.Limit));
        return exact ? PageMeta.For(paging, count) : PageMeta.ForLowerBound(paging, count);
    }
}
