using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Engine.Model;
using LumoAuth.Authorization.Engine.Schema;
using LumoAuth.Authorization.Engine.Storage;

namespace LumoAuth.Authorization.Engine.Tests.Checking;

public sealed class AuthorizationEngineTests
{
    private static readonly AuthorizationModel Documents = AuthorizationSchema.ParseDsl("""
        model
          schema 1.1
        type user
        type folder
          relations
            define owner: [user]
            define viewer: [user] or owner
        type document
          relations
            define parent: [folder]
            define blocked: [user]
            define viewer: ([user] or viewer from parent) but not blocked
        """);

    private static CheckQuery Query(string @object, string relation, string subject) =>
        new(ObjectRef.Parse(@object), relation, SubjectRef.Parse(subject));

    private static InMemoryTupleStore Store() => new(
    [
        RelationshipTuple.Parse("folder:f", "owner", "user:alice"),
        RelationshipTuple.Parse("document:d", "parent", "folder:f"),
    ]);

    [Fact]
    public async Task Check_ThroughParent_ExplainsWithTheTuplesThatAllowedIt()
    {
        var result = await new AuthorizationEngine().CheckAsync(Documents, Store(), Query("document:d", "viewer", "user:alice"));

        Assert.True(result.IsAllowed);
        Assert.Equal(["document:d#parent@folder:f", "folder:f#owner@user:alice"], result.Path.Select(t => t.ToString()));
    }

    [Fact]
    public async Task Check_AfterAWrite_DoesNotServeTheCachedDenial()
    {
        var engine = new AuthorizationEngine();
        var store = Store();
        Assert.False((await engine.CheckAsync(Documents, store, Query("document:d", "viewer", "user:bob"))).IsAllowed);
        Assert.True(engine.Cache!.Count > 0);

        await store.WriteAsync([RelationshipTuple.Parse("folder:f", "viewer", "user:bob")], [], default);

        Assert.True((await engine.CheckAsync(Documents, store, Query("document:d", "viewer", "user:bob"))).IsAllowed);
    }

    [Fact]
    public async Task Check_ContextualTuple_AppliesToThatRequestOnly()
    {
        var engine = new AuthorizationEngine();
        var store = Store();
        var blocked = Query("document:d", "viewer", "user:alice") with
        {
            ContextualTuples = [RelationshipTuple.Parse("document:d", "blocked", "user:alice")],
        };

        Assert.False((await engine.CheckAsync(Documents, store, blocked)).IsAllowed);
        Assert.True((await engine.CheckAsync(Documents, store, Query("document:d", "viewer", "user:alice"))).IsAllowed);
    }

    [Theory]
    [InlineData("report:d", "viewer", "user:alice")]
    [InlineData("document:d", "owner", "user:alice")]
    [InlineData("document:d", "viewer", "team:x")]
    [InlineData("document:d", "viewer", "folder:f#editor")]
    public async Task Check_RequestOutsideTheModel_ReturnsInvalidRequest(string @object, string relation, string subject)
    {
        var result = await new AuthorizationEngine().CheckAsync(Documents, Store(), Query(@object, relation, subject));

        Assert.Equal(CheckErrorCode.InvalidRequest, result.Error?.Code);
    }

    [Fact]
    public async Task Check_ContextualTupleOutsideTypeRestrictions_ReturnsInvalidContextualTuple()
    {
        var query = Query("document:d", "viewer", "user:alice") with
        {
            ContextualTuples = [RelationshipTuple.Parse("document:d", "viewer", "user:*")],
        };

        var result = await new AuthorizationEngine().CheckAsync(Documents, Store(), query);

        Assert.Equal(CheckErrorCode.InvalidContextualTuple, result.Error?.Code);
    }

    [Fact]
    public async Task BatchCheck_ReturnsResultsInRequestOrder()
    {
        var queries = new[]
        {
            Query("document:d", "viewer", "user:alice"),
            Query("document:d", "viewer", "user:bob"),
            Query("folder:f", "owner", "user:alice"),
            Query("nope:x", "viewer", "user:alice"),
        };

        var results = await new AuthorizationEngine().BatchCheckAsync(Documents, Store(), queries);

        Assert.Equal(
            [CheckOutcome.Allowed, CheckOutcome.Denied, CheckOutcome.Allowed, CheckOutcome.Error],
            results.Select(r => r.Outcome));
    }

    [Fact]
    public async Task Expand_ReturnsOneLevelOfTheUsersetTree()
    {
        var store = Store();
        await store.WriteAsync([RelationshipTuple.Parse("document:d", "viewer", "user:carol")], [], default);

        var result = await new AuthorizationEngine().ExpandAsync(Documents, store, new ExpandQuery(ObjectRef.Parse("document:d"), "viewer"));

        var difference = Assert.IsType<DifferenceTree>(result.Tree);
        var union = Assert.IsType<UnionTree>(difference.Base);
        Assert.Equal(["document:d#viewer@user:carol"], Assert.IsType<DirectUsersTree>(union.Children[0]).Tuples.Select(t => t.ToString()));
        Assert.Equal(["folder:f#viewer"], Assert.IsType<TupleToUsersetTree>(union.Children[1]).Computed);
        Assert.Equal("document:d#blocked", Assert.IsType<ComputedUsersetTree>(difference.Subtract).Userset);
    }

    [Fact]
    public async Task ListObjectsAndListUsers_ApplyTheExclusion()
    {
        var engine = new AuthorizationEngine();
        var store = Store();
        await store.WriteAsync(
            [RelationshipTuple.Parse("document:e", "parent", "folder:f"), RelationshipTuple.Parse("document:e", "blocked", "user:alice")],
            [],
            default);

        var objects = await engine.ListObjectsAsync(Documents, store, new ListObjectsQuery("document", "viewer", SubjectRef.Parse("user:alice")));
        var users = await engine.ListUsersAsync(Documents, store, new ListUsersQuery(ObjectRef.Parse("document:e"), "viewer", [new UserFilter("user")]));

        Assert.Equal(["document:d"], objects.Objects.Select(o => o.ToString()));
        Assert.Empty(users.Users);
    }
}
