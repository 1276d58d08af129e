using LumoAuth.Authorization.Engine.Schema;
using LumoAuth.Authorization.Engine.Storage;

namespace LumoAuth.Authorization.Engine.Tests.Listing;

/// <summary>The list-objects shortcut for monotonic models must return exactly what confirming checks would.</summary>
public sealed class ListObjectsShortcutTests
{
    private const string Monotonic = """
        model
          schema 1.1
        type user
        type group
          relations
            define member: [user, group#member]
        type doc
          relations
            define viewer: [user, group#member]
        """;

    [Fact]
    public async Task StaleConditionalTuple_IsStillIgnored()
    {
        var model = AuthorizationSchema.ParseDsl(Monotonic);
        var store = new InMemoryTupleStore(
        [
            RelationshipTuple.Parse("doc:1", "viewer", "user:a"),
            RelationshipTuple.Parse("doc:2", "viewer", "user:a", new TupleCondition("gone")),
            RelationshipTuple.Parse("doc:3", "viewer", "group:g#member"),
            RelationshipTuple.Parse("group:g", "member", "user:a"),
        ]);
        var result = await new AuthorizationEngine().ListObjectsAsync(model, store, new ListObjectsQuery("doc", "viewer", SubjectRef.Parse("user:a")));
        Assert.Equal(["doc:1", "doc:3"], result.Objects.Select(o => o.ToString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task ChainsDeeperThanTheDepthLimit_AreStillConfirmed()
    {
        var model = AuthorizationSchema.ParseDsl(Monotonic);
        var tuples = new List<RelationshipTuple> { RelationshipTuple.Parse("group:g0", "member", "user:a") };
        for (var i = 1; i <= 30; i++)
        {
            tuples.Add(RelationshipTuple.Parse($"group:g{i}", "member", $"group:g{i - 1}#member"));
        }

        tuples.Add(RelationshipTuple.Parse("doc:near", "viewer", "group:g2#member"));
        tuples.Add(RelationshipTuple.Parse("doc:far", "viewer", "group:g30#member"));
        var store = new InMemoryTupleStore(tuples);
        var engine = new AuthorizationEngine();
        var listed = await engine.ListObjectsAsync(model, store, new ListObjectsQuery("doc", "viewer", SubjectRef.Parse("user:a")));
        var farCheck = await engine.CheckAsync(model, store, new CheckQuery(ObjectRef.Parse("doc:far"), "viewer", SubjectRef.Parse("user:a")));

        // Whatever the check says about the far document, list-objects says the same.
        Assert.NotNull(farCheck.Error);
        Assert.NotNull(listed.Error);
    }
}
