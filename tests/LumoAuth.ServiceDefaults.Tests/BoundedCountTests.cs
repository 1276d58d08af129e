using LumoAuth.ServiceDefaults.Paging;

namespace LumoAuth.ServiceDefaults.Tests;

public sealed class BoundedCountTests
{
    /// <summary>A list of <paramref name="rows"/> rows, counted as a database would count <c>Take(n)</c>.</summary>
    private static Func<int, Task<long>> ListOf(long rows) => n => Task.FromResult(Math.Min(rows, n));

    [Theory]
    [InlineData(0, 1, 0, false)]
    [InlineData(25, 1, 25, false)]
    [InlineData(26, 1, 26, true)]
    [InlineData(100, 4, 100, false)]
    public async Task SmallLists_AreCountedExactly(long rows, int page, long total, bool hasNext)
    {
        var meta = await BoundedCount.PageMetaAsync(PageRequest.From(page, 25), ListOf(rows), bound: 100);

        Assert.Equal(total, meta.Total);
        Assert.Equal(hasNext, meta.HasNextPage);
        Assert.Null(meta.TotalIsLowerBound);
    }

    [Fact]
    public async Task PastTheBound_TheTotalIsALowerBound_AndTheNextPageIsStillKnown()
    {
        var first = await BoundedCount.PageMetaAsync(PageRequest.From(1, 25), ListOf(1_000), bound: 100);
        Assert.Equal(100, first.Total);
        Assert.True(first.TotalIsLowerBound);
        Assert.True(first.HasNextPage);

        // The page's end lies past the bound: counted to it, and one further.
        var deep = await BoundedCount.PageMetaAsync(PageRequest.From(40, 25), ListOf(1_001), bound: 100);
        Assert.True(deep.HasNextPage);
        Assert.True(deep.TotalIsLowerBound);
        var last = await BoundedCount.PageMetaAsync(PageRequest.From(40, 25), ListOf(999), bound: 100);
        Assert.Equal(999, last.Total);
        Assert.False(last.HasNextPage);
        Assert.Null(last.TotalIsLowerBound);
        var exactlyTheBound = await BoundedCount.PageMetaAsync(PageRequest.From(4, 25), ListOf(100), bound: 100);
        Assert.False(exactlyTheBound.HasNextPage);
        Assert.Null(exactlyTheBound.TotalIsLowerBound);
    }
}
