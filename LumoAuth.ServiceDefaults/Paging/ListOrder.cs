using System.Linq.Expressions;
using LumoAuth.ServiceDefaults.Errors;

namespace LumoAuth.ServiceDefaults.Paging;

/// <summary>
/// A list's <c>sortBy</c> and <c>sortDir</c> (inventory C-18): one of the keys the list offers, in any case, ascending unless
/// <c>DESC</c>. Anything else is a 400, never an order silently ignored.
/// </summary>
public readonly record struct ListOrder(string Key, bool Descending)
{
    /// <param name="keys">The keys the list offers, as documented (camelCase); the first is the default.</param>
    /// <param name="newestFirst">Asked for no order at all, the list shows its latest entries first (descending by its first key).</param>
    public static ListOrder Check(RequestValidator validation, string? sortBy, string? sortDir, IReadOnlyList<string> keys, bool newestFirst = false)
    {
        var key = sortBy is null ? keys[0] : keys.FirstOrDefault(k => string.Equals(k, sortBy, StringComparison.OrdinalIgnoreCase));
        validation.Check(key is not null, "sortBy", $"must be one of {string.Join(", ", keys)}");
        var descending = sortDir is null ? newestFirst && sortBy is null : string.Equals(sortDir, "DESC", StringComparison.OrdinalIgnoreCase);
        validation.Check(sortDir is null || descending || string.Equals(sortDir, "ASC", StringComparison.OrdinalIgnoreCase), "sortDir", "must be ASC or DESC");
        return new ListOrder(key ?? keys[0], descending);
    }

    /// <summary>Orders by the key; entries without a value come last either way (PostgreSQL puts them first when descending).</summary>
    public IOrderedQueryable<T> Apply<T, TKey>(IQueryable<T> query, Expression<Func<T, TKey>> key)
    {
        if (default(TKey) is not null)
        {
            return Descending ? query.OrderByDescending(key) : query.OrderBy(key);
        }

        var missing = Expression.Lambda<Func<T, bool>>(Expression.Equal(key.Body, Expression.Constant(null, typeof(TKey))), key.Parameters);
        var valuesFirst = query.OrderBy(missing);
        return Descending ? valuesFirst.ThenByDescending(key) : valuesFirst.ThenBy(key);
    }

    /// <summary>The same order for a list held in memory (built-in entries beside stored ones).</summary>
    public IOrderedEnumerable<T> Apply<T, TKey>(IEnumerable<T> items, Func<T, TKey> key) =>
        Descending ? items.OrderByDescending(key) : items.OrderBy(key);
}
