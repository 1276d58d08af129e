using System.Text.Json.Serialization;

namespace LumoAuth.ServiceDefaults.Paging;

/// <summary>List parameters of the REST API: <c>page</c> (1-based) and <c>limit</c> (default 25, max 100), inventory C-18.</summary>
public readonly record struct PageRequest(int Page, int Limit)
{
    public const int DefaultLimit = 25;
    public const int MaxLimit = 100;

    /// <summary>The last page whose offset fits an <see cref="int"/> at the largest limit; any later one is as empty.</summary>
    public const int MaxPage = (int.MaxValue / MaxLimit) + 1;

    public int Skip => (Page - 1) * Limit;

    /// <summary>Clamps nonsense (page 0, page 30,000,000, limit 10,000) to the documented bounds instead of failing.</summary>
    public static PageRequest From(int? page, int? limit) =>
        new(Math.Clamp(page ?? 1, 1, MaxPage), Math.Clamp(limit ?? DefaultLimit, 1, MaxLimit));
}

public sealed record PageMeta(
    [property: JsonPropertyName("total")] long Total,
    [property: JsonPropertyName("page")] int Page,
    [property: JsonPropertyName("limit")] int Limit,
    [property: JsonPropertyName("totalPages")] long TotalPages,
    [property: JsonPropertyName("hasNextPage")] bool HasNextPage,
    [property: JsonPropertyName("hasPreviousPage")] bool HasPreviousPage)
{
    /// <summary>
    /// Present (true) only when <see cref="Total"/> is where counting stopped, not the exact count: a list too large to count
    /// on every page (the audit log). <see cref="HasNextPage"/> is exact either way.
    /// </summary>
    [JsonPropertyName("totalIsLowerBound")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? TotalIsLowerBound { get; init; }

    public static PageMeta For(PageRequest request, long total)
    {
        var pages = total == 0 ? 0 : (total + request.Limit - 1) / request.Limit;
        return new PageMeta(total, request.Page, request.Limit, pages, request.Page < pages, request.Page > 1);
    }

    /// <summary>
    /// The meta of a count that stopped at a bound: pass the bound as <paramref name="total"/>. A bound no smaller than the
    /// end of the page means a later page exists.
    /// </summary>
    public static PageMeta ForLowerBound(PageRequest request, long total) =>
        For(request, total) with { HasNextPage = true, TotalIsLowerBound = true };
}

/// <summary>The list envelope <c>{data:[…], meta:{…}}</c>.</summary>
public sealed record PagedResponse<T>(
    [property: JsonPropertyName("data")] IReadOnlyList<T> Data,
    [property: JsonPropertyName("meta")] PageMeta Meta);

/// <summary>The success envelope <c>{data, message?}</c>.</summary>
public sealed record DataResponse<T>(
    [property: JsonPropertyName("data")] T Data,
    [property: JsonPropertyName("message")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    string? Message = null);
