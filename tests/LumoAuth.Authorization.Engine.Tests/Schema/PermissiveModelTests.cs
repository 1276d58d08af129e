using LumoAuth.Authorization.Engine.Checking;
using LumoAuth.Authorization.Engine.Schema;
using LumoAuth.Authorization.Engine.Storage;

namespace LumoAuth.Authorization.Engine.Tests.Schema;

public sealed class PermissiveModelTests
{
    [Fact]
    public async Task ShapesOfStoredTuples_AllowDirectWildcardAndUsersetChecks()
    {
        RelationshipTuple[] tuples =
        [
            RelationshipTuple.Parse("document:plan", "viewer", "group:eng#member"),
            RelationshipTuple.Parse("group:eng", "member", "group:platform#member"),
            RelationshipTuple.Parse("group:platform", "member", "user:carol"),
            RelationshipTuple.Parse("document:readme", "viewer", "user:*"),
        ];
        var store = new InMemoryTupleStore(tuples);
        var model = PermissiveModel.FromShapes(tuples.Select(TupleShape.Of));
        var engine = new AuthorizationEngine();

        Assert.True((await engine.CheckAsync(model, store, new CheckQuery(ObjectRef.Parse("document:plan"), "viewer", SubjectRef.Parse("user:carol")))).IsAllowed);
        Assert.True((await engine.CheckAsync(model, store, new CheckQuery(ObjectRef.Parse("document:readme"), "viewer", SubjectRef.Parse("user:anyone")))).IsAllowed);
        Assert.False((await engine.CheckAsync(model, store, new CheckQuery(ObjectRef.Parse("document:plan"), "viewer", SubjectRef.Parse("user:mallory")))).IsAllowed);
        var unknown = await engine.CheckAsync(model, store, new CheckQuery(ObjectRef.Parse("document:plan"), "owner", SubjectRef.Parse("user:carol")));
        Assert.Equal(CheckErrorCode.InvalidRequest, unknown.Error!.Code);
        var listed = await engine.ListObjectsAsync(model, store, new ListObjectsQuery("document", "viewer", SubjectRef.Parse("user:carol")));
        Assert.Equal(["document:plan", "document:readme"], listed.Objects.Select(o => o.ToString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void EqualShapes_GiveEqualIds_InAnyOrder()
    {
        TupleShape[] shapes = [new("doc", "viewer", "user", null, false), new("doc", "viewer", "group", "member", false), new("group", "member", "user", null, false)];
        Assert.Equal(PermissiveModel.FromShapes(shapes).Id, PermissiveModel.FromShapes(shapes.Reverse()).Id);
        Assert.NotEqual(PermissiveModel.FromShapes(shapes).Id, PermissiveModel.FromShapes(shapes.Take(2)).Id);
        Assert.StartsWith("permissive-", PermissiveModel.FromShapes([]).Id, StringComparison.Ordinal);
    }
}
