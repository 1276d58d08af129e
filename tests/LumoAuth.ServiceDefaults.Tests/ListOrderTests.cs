using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;

namespace LumoAuth.ServiceDefaults.Tests;

public sealed class ListOrderTests
{
    private sealed record Row(string Name, DateTimeOffset? SeenAt);

    private static readonly Row[] Rows =
    [
        new("b", new DateTimeOffset(2026, 1, 2, 0, 0, 0, TimeSpan.Zero)),
        new("a", null),
        new("c", new DateTimeOffset(2026, 1, 3, 0, 0, 0, TimeSpan.Zero)),
    ];

    [Theory]
    [InlineData(null, null, false, "name", false)]
    [InlineData(null, null, true, "name", true)]
    [InlineData("SEENAT", null, true, "seenAt", false)]
    [InlineData("seenAt", "desc", false, "seenAt", true)]
    [InlineData("name", "Asc", true, "name", false)]
    public void Check_TakesTheListsKeysInAnyCase(string? sortBy, string? sortDir, bool newestFirst, string key, bool descending)
    {
        var validation = new RequestValidator();
        Assert.Equal(new ListOrder(key, descending), ListOrder.Check(validation, sortBy, sortDir, ["name", "seenAt"], newestFirst));
        Assert.True(validation.IsValid);
    }

    [Theory]
    [InlineData("secret", null, "sortBy")]
    [InlineData("name", "sideways", "sortDir")]
    public void Check_RefusesWhatTheListDoesNotOffer(string sortBy, string? sortDir, string field)
    {
        var validation = new RequestValidator();
        ListOrder.Check(validation, sortBy, sortDir, ["name", "seenAt"]);
        Assert.Equal(field, Assert.Single(validation.FirstProblems).Field);
    }

    [Fact]
    public void Apply_PutsEntriesWithoutAValueLast_EitherWay()
    {
        Assert.Equal(["b", "c", "a"], new ListOrder("seenAt", false).Apply(Rows.AsQueryable(), r => r.SeenAt).Select(r => r.Name));
        Assert.Equal(["c", "b", "a"], new ListOrder("seenAt", true).Apply(Rows.AsQueryable(), r => r.SeenAt).Select(r => r.Name));
        Assert.Equal(["c", "b", "a"], new ListOrder("name", true).Apply(Rows.AsQueryable(), r => r.Name).Select(r => r.Name));
    }
}
