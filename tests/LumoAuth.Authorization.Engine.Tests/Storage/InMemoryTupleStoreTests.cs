using LumoAuth.Authorization.Engine.Storage;

namespace LumoAuth.Authorization.Engine.Tests.Storage;

public sealed class InMemoryTupleStoreTests
{
    private static readonly RelationshipTuple AliceViewer = RelationshipTuple.Parse("document:1", "viewer", "user:alice");
    private static readonly RelationshipTuple EngViewer = RelationshipTuple.Parse("document:1", "viewer", "group:eng#member");
    private static readonly RelationshipTuple AliceViewer2 = RelationshipTuple.Parse("document:2", "viewer", "user:alice");

    private static async Task<List<RelationshipTuple>> ToListAsync(IAsyncEnumerable<RelationshipTuple> tuples)
    {
        var list = new List<RelationshipTuple>();
        await foreach (var tuple in tuples)
        {
            list.Add(tuple);
        }

        return list;
    }

    [Fact]
    public async Task Write_IncrementsRevisionOncePerBatch()
    {
        var store = new InMemoryTupleStore();
        var before = await store.GetRevisionAsync(default);

        var after = await store.WriteAsync([AliceViewer, EngViewer], [], default);

        Assert.Equal(before + 1, after);
        Assert.Equal(after, await store.GetRevisionAsync(default));
    }

    [Fact]
    public async Task Reads_UseEveryIndex()
    {
        var store = new InMemoryTupleStore([AliceViewer, EngViewer, AliceViewer2]);
        var document1 = ObjectRef.Parse("document:1");

        Assert.Equal(2, (await ToListAsync(store.ReadAsync(document1, "viewer", default))).Count);
        Assert.Equal([EngViewer], await ToListAsync(store.ReadUsersetsAsync(document1, "viewer", default)));
        Assert.Equal(AliceViewer, await store.ReadTupleAsync(AliceViewer.Key, default));
        Assert.Equal(
            ["document:1", "document:2"],
            (await ToListAsync(store.ReadBySubjectAsync("document", "viewer", SubjectRef.Parse("user:alice"), default))).Select(t => t.Object.ToString()).Order());
    }

    [Fact]
    public async Task Delete_RemovesFromEveryIndex()
    {
        var store = new InMemoryTupleStore([AliceViewer, EngViewer]);

        await store.WriteAsync([], [AliceViewer.Key, EngViewer.Key, AliceViewer2.Key], default);

        Assert.Equal(0, store.Count);
        Assert.Null(await store.ReadTupleAsync(AliceViewer.Key, default));
        Assert.Empty(await ToListAsync(store.ReadBySubjectAsync("document", "viewer", AliceViewer.Subject, default)));
    }

    [Fact]
    public async Task Write_ExistingKey_ReplacesItsCondition()
    {
        var store = new InMemoryTupleStore([AliceViewer]);

        await store.WriteAsync([AliceViewer with { Condition = new TupleCondition("c") }], [], default);

        Assert.Equal("c", (await store.ReadTupleAsync(AliceViewer.Key, default))?.Condition?.Name);
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public async Task ConcurrentWritersAndReaders_SeeConsistentState()
    {
        var store = new InMemoryTupleStore();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < 250; i++)
            {
                await store.WriteAsync([RelationshipTuple.Parse($"document:{w}-{i}", "viewer", "user:alice")], [], default);
            }
        }));
        var reader = Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await ToListAsync(store.ReadBySubjectAsync("document", "viewer", SubjectRef.Parse("user:alice"), default));
            }
        });

        await Task.WhenAll([.. writers, reader]);

        Assert.Equal(1_000, store.Count);
        Assert.Equal(1_000, (await ToListAsync(store.ReadBySubjectAsync("document", "viewer", SubjectRef.Parse("user:alice"), default))).Count);
    }
}
