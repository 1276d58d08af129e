using System.Diagnostics;
using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Schema;
using LumoAuth.Authorization.Engine.Storage;

namespace LumoAuth.Authorization.Engine.Tests.Checking;

public sealed class BoundsTests
{
    private static readonly AuthorizationModel Groups = AuthorizationSchema.ParseDsl("""
        model
          schema 1.1
        type user
        type group
          relations
            define member: [user, group#member]
        type document
          relations
            define viewer: [group#member]
        """);

    private static RelationshipTuple Member(string group, string subject) =>
        RelationshipTuple.Parse($"group:{group}", "member", subject);

    private static InMemoryTupleStore Chain(int length)
    {
        var tuples = Enumerable.Range(0, length).Select(i => Member(i.ToString(), $"group:{i + 1}#member")).ToList();
        tuples.Add(Member(length.ToString(), "user:x"));
        return new InMemoryTupleStore(tuples);
    }

    private static CheckQuery MemberQuery(string group, string user = "user:x") =>
        new(ObjectRef.Parse($"group:{group}"), "member", SubjectRef.Parse(user));

    [Fact]
    public async Task Check_UsersetCycle_IsItsOwnOutcomeAndNeverCached()
    {
        var engine = new AuthorizationEngine();
        var store = new InMemoryTupleStore([Member("a", "group:b#member"), Member("b", "group:a#member")]);

        var result = await engine.CheckAsync(Groups, store, MemberQuery("a"));

        Assert.Equal(CheckOutcome.Cycle, result.Outcome);
        Assert.False(result.IsAllowed);
        Assert.Equal(0, engine.Cache!.Count);
    }

    [Fact]
    public async Task Check_CycleBesideAGrantingPath_IsAllowed()
    {
        var engine = new AuthorizationEngine();
        var store = new InMemoryTupleStore([Member("a", "group:b#member"), Member("b", "group:a#member"), Member("b", "user:x")]);

        var result = await engine.CheckAsync(Groups, store, MemberQuery("a"));

        Assert.True(result.IsAllowed);
        Assert.Equal(["group:a#member@group:b#member", "group:b#member@user:x"], result.Path.Select(t => t.ToString()));
    }

    [Fact]
    public async Task Check_ChainDeeperThanDepthLimit_ReturnsResolutionTooComplex()
    {
        var engine = new AuthorizationEngine();

        var result = await engine.CheckAsync(Groups, Chain(30), MemberQuery("0"));

        Assert.Equal(CheckOutcome.Error, result.Outcome);
        Assert.Equal(CheckErrorCode.ResolutionTooComplex, result.Error!.Code);
    }

    [Fact]
    public async Task Check_ChainWithinDepthLimit_IsAllowedWithFullExplanationPath()
    {
        var engine = new AuthorizationEngine();

        var result = await engine.CheckAsync(Groups, Chain(20), MemberQuery("0"));

        Assert.True(result.IsAllowed);
        Assert.Equal(21, result.Path.Count);
        Assert.Equal("group:0#member@group:1#member", result.Path[0].ToString());
        Assert.Equal("group:20#member@user:x", result.Path[^1].ToString());
    }

    [Fact]
    public async Task Check_SmallerConfiguredDepth_IsHonoured()
    {
        var engine = new AuthorizationEngine(new AuthorizationEngineOptions { Limits = new CheckLimits { MaxDepth = 5 } });

        var result = await engine.CheckAsync(Groups, Chain(6), MemberQuery("0"));

        Assert.Equal(CheckErrorCode.ResolutionTooComplex, result.Error?.Code);
    }

    [Fact]
    public async Task Check_FanOutBeyondDispatchBudget_ReturnsResolutionTooComplex()
    {
        var engine = new AuthorizationEngine(new AuthorizationEngineOptions { Limits = new CheckLimits { MaxDispatches = 50 } });
        var tuples = Enumerable.Range(0, 200).Select(i => RelationshipTuple.Parse("document:1", "viewer", $"group:{i}#member"));
        var store = new InMemoryTupleStore(tuples);

        var result = await engine.CheckAsync(Groups, store, new CheckQuery(ObjectRef.Parse("document:1"), "viewer", SubjectRef.Parse("user:x")));

        Assert.Equal(CheckErrorCode.ResolutionTooComplex, result.Error?.Code);
    }

    [Fact]
    public async Task Check_FullyConnectedCyclicGraph_EndsWithoutHanging()
    {
        // Every group contains every other: the number of cycle-free paths grows factorially.
        var engine = new AuthorizationEngine();
        var names = Enumerable.Range(0, 12).Select(i => i.ToString()).ToList();
        var store = new InMemoryTupleStore(names.SelectMany(a => names.Where(b => b != a).Select(b => Member(a, $"group:{b}#member"))));
        var stopwatch = Stopwatch.StartNew();

        var result = await engine.CheckAsync(Groups, store, MemberQuery("0"));

        Assert.InRange(stopwatch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(20));
        Assert.False(result.IsAllowed);
        Assert.Contains(result.Outcome, new[] { CheckOutcome.Cycle, CheckOutcome.Error });
    }

    [Fact]
    public async Task ListUsers_ChainDeeperThanDepthLimit_ReturnsError()
    {
        var engine = new AuthorizationEngine();

        var result = await engine.ListUsersAsync(Groups, Chain(30), new ListUsersQuery(ObjectRef.Parse("group:0"), "member", [new UserFilter("user")]));

        Assert.Equal(CheckErrorCode.ResolutionTooComplex, result.Error?.Code);
    }

    [Fact]
    public async Task ListObjects_CyclicGraph_FindsEveryGroupOnce()
    {
        var engine = new AuthorizationEngine();
        var store = new InMemoryTupleStore([Member("a", "group:b#member"), Member("b", "group:a#member"), Member("b", "user:x")]);

        var result = await engine.ListObjectsAsync(Groups, store, new ListObjectsQuery("group", "member", SubjectRef.Parse("user:x")));

        Assert.Null(result.Error);
        Assert.True(result.IsComplete);
        Assert.Equal(["group:a", "group:b"], result.Objects.Select(o => o.ToString()).Order());
    }

    [Fact]
    public async Task ListObjects_MoreResultsThanTheLimit_SaysItIsIncomplete()
    {
        var engine = new AuthorizationEngine(new AuthorizationEngineOptions { Limits = new CheckLimits { MaxListResults = 3 } });
        var store = new InMemoryTupleStore(Enumerable.Range(0, 10).Select(i => Member(i.ToString(), "user:x")));

        var result = await engine.ListObjectsAsync(Groups, store, new ListObjectsQuery("group", "member", SubjectRef.Parse("user:x")));

        Assert.Equal(3, result.Objects.Count);
        Assert.False(result.IsComplete);
    }

    /// <summary>One subject directly on many objects: the walk stops at the candidate bound instead of collecting them all.</summary>
    [Fact]
    public async Task ListObjects_MoreCandidatesThanTheBound_StopsCollecting_AndSaysItIsIncomplete()
    {
        var engine = new AuthorizationEngine(new AuthorizationEngineOptions { Limits = new CheckLimits { MaxListCandidates = 5 } });
        var store = new InMemoryTupleStore(Enumerable.Range(0, 50).Select(i => Member(i.ToString(), "user:x")));

        var result = await engine.ListObjectsAsync(Groups, store, new ListObjectsQuery("group", "member", SubjectRef.Parse("user:x")));

        Assert.InRange(result.Objects.Count, 1, 6);
        Assert.False(result.IsComplete);
    }

    /// <summary>Many direct members of one object: the candidates (each a confirming check) stop at the bound.</summary>
    [Fact]
    public async Task ListUsers_MoreDirectSubjectsThanTheBound_StopsCollecting_AndSaysItIsIncomplete()
    {
        var engine = new AuthorizationEngine(new AuthorizationEngineOptions { Limits = new CheckLimits { MaxListCandidates = 5 } });
        var store = new InMemoryTupleStore(Enumerable.Range(0, 50).Select(i => Member("0", $"user:u{i}")));

        var result = await engine.ListUsersAsync(Groups, store, new ListUsersQuery(ObjectRef.Parse("group:0"), "member", [new UserFilter("user", null)]));

        Assert.Equal(5, result.Users.Count);
        Assert.False(result.IsComplete);
    }

    [Fact]
    public async Task Check_CancelledRequest_Throws()
    {
        var engine = new AuthorizationEngine();
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await engine.CheckAsync(Groups, Chain(3), MemberQuery("0"), cancellation.Token));
    }
}
