using System.Net.Http.Json;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Storage;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Authorization.Tests;

/// <summary>
/// Consistency tokens over two replicas on one database: each answers from its own in-memory index, and a
/// token forces that index to catch up with the write that issued it (no "new enemy").
/// </summary>
public sealed class ConsistencyTests(TwoReplicasSuite suite) : IClassFixture<TwoReplicasSuite>
{
    [Fact]
    public async Task RevokeThenCheckWithTheDeleteToken_IsDenied_OnBothReplicas()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var a = AuthorizationSuite.ClientFor(suite.ReplicaA, tenant);
        using var b = AuthorizationSuite.ClientFor(suite.ReplicaB, tenant);

        var granted = await a.WriteAsync(tenant, "document:secret", "viewer", "user:mallory");
        Assert.True(await b.AllowedAsync(tenant, "document:secret", "viewer", "user:mallory", granted.Token()));

        var revoked = await ApiAssert.OkAsync(await a.DeleteAsync(tenant, "document:secret", "viewer", "user:mallory"));
        var token = revoked.Token();

        // B's index was loaded before the revoke and tails lazily, so without the token it still answers from its past...
        Assert.True(await b.AllowedAsync(tenant, "document:secret", "viewer", "user:mallory"));

        // ...but with the delete's token both replicas answer from at least that revision, and agree.
        var onB = await b.CheckAsync(tenant, new { @object = "document:secret", relation = "viewer", user = "user:mallory", consistency_token = token });
        var onA = await a.CheckAsync(tenant, new { @object = "document:secret", relation = "viewer", user = "user:mallory", consistency_token = token });
        Assert.False(onB["allowed"]!.GetValue<bool>());
        Assert.False(onA["allowed"]!.GetValue<bool>());
        Assert.Equal(token, onB["consistency_token"]!.GetValue<string>());
        Assert.Equal(token, onA["consistency_token"]!.GetValue<string>());
    }

    [Fact]
    public async Task FullyConsistent_SeesTheLatestWrite_AndSchemaChangesTravelWithTheRevision()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var a = AuthorizationSuite.ClientFor(suite.ReplicaA, tenant);
        using var b = AuthorizationSuite.ClientFor(suite.ReplicaB, tenant);
        Assert.False(await b.AllowedAsync(tenant, "folder:x", "viewer", "user:nia"));

        await a.WriteAsync(tenant, "folder:x", "owner", "user:nia");
        var schema = await a.PutSchemaAsync(tenant, """
            model
              schema 1.1
            type user
            type folder
              relations
                define owner: [user]
                define viewer: [user] or owner
            """);

        var fresh = await b.CheckAsync(tenant, new { @object = "folder:x", relation = "viewer", user = "user:nia", consistency = "fully_consistent" });
        Assert.True(fresh["allowed"]!.GetValue<bool>());
        Assert.Equal(schema.Token(), fresh["consistency_token"]!.GetValue<string>());
        var listed = await ApiAssert.OkAsync(await b.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-objects", new
        {
            subject = "user:nia", permission = "viewer", object_type = "folder", consistency = "at_least_as_fresh", consistency_token = schema.Token(),
        }));
        Assert.Equal(["folder:x"], listed["objects"]!.AsArray().Select(o => o!.GetValue<string>()));
    }

    [Fact]
    public async Task ConcurrentWritesOnBothReplicas_GetDistinctRevisions_AndBothIndexesConverge()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var a = AuthorizationSuite.ClientFor(suite.ReplicaA, tenant);
        using var b = AuthorizationSuite.ClientFor(suite.ReplicaB, tenant);
        Assert.False(await a.AllowedAsync(tenant, "doc:0", "viewer", "user:w"));
        Assert.False(await b.AllowedAsync(tenant, "doc:0", "viewer", "user:w"));

        var writes = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => (i % 2 == 0 ? a : b).WriteAsync(tenant, $"doc:{i}", "viewer", "user:w")));
        var revisions = writes.Select(w => w["data"]!["revision"]!.GetValue<long>()).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 20).Select(r => (long)r), revisions);

        var latest = $"zk_{revisions[^1]}";
        var listedOnA = await ApiAssert.OkAsync(await a.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-objects", new { subject = "user:w", permission = "viewer", object_type = "doc", consistency_token = latest }));
        var listedOnB = await ApiAssert.OkAsync(await b.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-objects", new { subject = "user:w", permission = "viewer", object_type = "doc", consistency_token = latest }));
        Assert.Equal(20, listedOnA["objects"]!.AsArray().Count);
        Assert.Equal(listedOnA.ToJsonString(), listedOnB.ToJsonString());
    }

    /// <summary>
    /// A token names the store whose revision it carries: the relationship store and the RBAC store count apart, and
    /// another tenant's token means nothing here. Tokens from before stores were named are still read.
    /// </summary>
    [Fact]
    public async Task AConsistencyToken_OfAnotherStoreOrTenant_Is400_AndAnUnnamedOneIsStillRead()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var other = await suite.Admin.CreateTenantAsync();
        using var a = AuthorizationSuite.ClientFor(suite.ReplicaA, tenant);
        using var elsewhere = AuthorizationSuite.ClientFor(suite.ReplicaA, other);
        var userId = await suite.Admin.CreateUserAsync(tenant, $"c-{Guid.NewGuid():N}"[..12] + "@example.com", "Corr3ct-Horse-Battery!", "Cora");
        var relationshipToken = (await a.WriteAsync(tenant, "doc:1", "viewer", "user:a")).Token();
        var rbacToken = (await ApiAssert.OkAsync(await a.PostAsJsonAsync($"{tenant.Api}/authz/check", new { permission = "document.edit", subject = userId.ToString() })))
            ["consistency_token"]!.GetValue<string>();
        Assert.NotEqual(relationshipToken.Split('_')[1], rbacToken.Split('_')[1]);

        var refused = new[]
        {
            await ApiAssert.ErrorAsync(await a.PostAsJsonAsync($"{tenant.Api}/authz/check",
                new { permission = "document.edit", subject = userId.ToString(), consistency_token = relationshipToken }), 400, "validation_error"),
            await ApiAssert.ErrorAsync(await a.PostAsJsonAsync($"{tenant.Api}/zanzibar/check",
                new { @object = "doc:1", relation = "viewer", user = "user:a", consistency_token = rbacToken }), 400, "validation_error"),
            await ApiAssert.ErrorAsync(await elsewhere.PostAsJsonAsync($"{other.Api}/zanzibar/check",
                new { @object = "doc:1", relation = "viewer", user = "user:a", consistency_token = relationshipToken }), 400, "validation_error"),
        };

        // Refused for naming another store, not merely for being ahead of this one (tenants made a moment apart differ too).
        Assert.All(refused, body => Assert.Contains("another store", body.ToJsonString(), StringComparison.Ordinal));
        Assert.NotEqual(relationshipToken.Split('_')[1], (await elsewhere.WriteAsync(other, "doc:1", "viewer", "user:a")).Token().Split('_')[1]);

        Assert.True(await a.AllowedAsync(tenant, "doc:1", "viewer", "user:a", relationshipToken));
        var revision = relationshipToken[(relationshipToken.LastIndexOf('_') + 1)..];
        Assert.True(await a.AllowedAsync(tenant, "doc:1", "viewer", "user:a", $"zk_{revision}"));
    }

    /// <summary>
    /// The changelog keeps a retention window: older changes go, the tenant's horizon says how far. A replica whose index
    /// fell behind it reads PostgreSQL and loads afresh rather than miss a revoke, and the changes feed tells a follower
    /// behind it to start again (410 changes_expired) while it still serves anyone past it.
    /// </summary>
    [Fact]
    public async Task ChangelogRetention_DropsOldChanges_AReplicaBehindItStillSeesTheRevoke_AndTheFeedSaysStartAfresh()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var a = AuthorizationSuite.ClientFor(suite.ReplicaA, tenant);
        using var b = AuthorizationSuite.ClientFor(suite.ReplicaB, tenant);
        var granted = await a.WriteAsync(tenant, "doc:old", "viewer", "user:gus");
        Assert.True(await b.AllowedAsync(tenant, "doc:old", "viewer", "user:gus", granted.Token()));

        var revoked = Revision((await ApiAssert.OkAsync(await a.DeleteAsync(tenant, "doc:old", "viewer", "user:gus"))).Token());
        var latest = Revision((await a.WriteAsync(tenant, "doc:new", "viewer", "user:gus")).Token());
        await using (var scope = suite.ReplicaA.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>();
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                UPDATE tuple_changes SET "Timestamp" = "Timestamp" - interval '40 days' WHERE "TenantId" = {tenant.Id} AND "Revision" <= {revoked}
                """);
            Assert.True(await ChangelogRetention.PruneAsync(db, DateTimeOffset.UtcNow.AddDays(-30), CancellationToken.None) >= 2);
            Assert.Equal(revoked, await db.Revisions.IgnoreQueryFilters().Where(r => r.TenantId == tenant.Id).Select(r => r.ChangelogHorizon).SingleAsync());
            Assert.False(await db.Changes.IgnoreQueryFilters().AnyAsync(c => c.TenantId == tenant.Id && c.Revision <= revoked));
        }

        // B's index stopped before the revoke, whose change is gone: it must not answer from its past.
        var onB = await b.CheckAsync(tenant, new { @object = "doc:old", relation = "viewer", user = "user:gus", consistency = "fully_consistent" });
        Assert.False(onB["allowed"]!.GetValue<bool>());
        Assert.True(await b.AllowedAsync(tenant, "doc:new", "viewer", "user:gus", $"zk_{latest}"));
        Assert.False(await b.AllowedAsync(tenant, "doc:old", "viewer", "user:gus"));

        var expired = await ApiAssert.ErrorAsync(await a.GetAsync($"{tenant.Api}/zanzibar/changes?since=0"), 410, "changes_expired");
        Assert.Equal(revoked, expired["details"]!["horizon"]!.GetValue<long>());
        var feed = await ApiAssert.OkAsync(await a.GetAsync($"{tenant.Api}/zanzibar/changes?since={revoked}"));
        Assert.Equal([latest], feed["data"]!.AsArray().Select(c => c!["revision"]!.GetValue<long>()));

        static long Revision(string token) => long.Parse(token[(token.LastIndexOf('_') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// A backlog longer than one window is worked through in one round, window after window, and stops at the first change
    /// inside the retention; rows an interrupted round left below its horizon go at the next round.
    /// </summary>
    [Fact]
    public async Task ChangelogRetention_WorksThroughABacklogInWindows_AndFinishesAnInterruptedRound()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var a = AuthorizationSuite.ClientFor(suite.ReplicaA, tenant);
        for (var i = 0; i < 7; i++)
        {
            await a.WriteAsync(tenant, $"doc:{i}", "viewer", "user:hal");
        }

        await using var scope = suite.ReplicaA.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>();
        var revisions = await db.Changes.IgnoreQueryFilters().Where(c => c.TenantId == tenant.Id).Select(c => c.Revision).OrderBy(r => r).ToListAsync();
        var lastOld = revisions[4];
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            UPDATE tuple_changes SET "Timestamp" = "Timestamp" - interval '40 days' WHERE "TenantId" = {tenant.Id} AND "Revision" <= {lastOld}
            """);

        Assert.True(await ChangelogRetention.PruneAsync(db, DateTimeOffset.UtcNow.AddDays(-30), CancellationToken.None, window: 2) >= 5);
        Assert.Equal(revisions[5..], await db.Changes.IgnoreQueryFilters().Where(c => c.TenantId == tenant.Id).Select(c => c.Revision).OrderBy(r => r).ToListAsync());
        Assert.Equal(lastOld, await db.Revisions.IgnoreQueryFilters().Where(r => r.TenantId == tenant.Id).Select(r => r.ChangelogHorizon).SingleAsync());

        // A round that raised the horizon and stopped before deleting: the next round deletes what lies below it.
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            UPDATE tenant_revisions SET "ChangelogHorizon" = {revisions[5]} WHERE "TenantId" = {tenant.Id}
            """);
        Assert.True(await ChangelogRetention.PruneAsync(db, DateTimeOffset.UtcNow.AddDays(-30), CancellationToken.None, window: 2) >= 1);
        Assert.Equal(revisions[6..], await db.Changes.IgnoreQueryFilters().Where(c => c.TenantId == tenant.Id).Select(c => c.Revision).OrderBy(r => r).ToListAsync());
    }

    [Theory]
    [InlineData("sometimes", null)]
    [InlineData("at_least_as_fresh", null)]
    [InlineData(null, "not-a-token")]
    [InlineData(null, "zk_999999")]
    [InlineData(null, "zk_ABCDEFGH_1")]
    [InlineData(null, "zk_0123456_1")]
    public async Task BadConsistency_Returns400(string? consistency, string? token)
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var a = AuthorizationSuite.ClientFor(suite.ReplicaA, tenant);
        await ApiAssert.ErrorAsync(
            await a.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { @object = "doc:1", relation = "viewer", user = "user:a", consistency, consistency_token = token }),
            400,
            "validation_error");
    }
}
