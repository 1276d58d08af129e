using System.Net.Http.Json;
using LumoAuth.Authorization.Consistency;
using LumoAuth.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Authorization.Tests;

/// <summary>The in-memory index is bounded: tenants over the size limit are answered from PostgreSQL, and the LRU keeps one tenant here.</summary>
public sealed class IndexBoundsTests(BoundedIndexSuite suite) : IClassFixture<BoundedIndexSuite>
{
    [Fact]
    public async Task LargeTenant_FallsBackToPostgres_AndEvictedTenants_ReloadCorrectly()
    {
        var large = await suite.Admin.CreateTenantAsync();
        var small = await suite.Admin.CreateTenantAsync();
        using var largeClient = AuthorizationSuite.ClientFor(suite.Authorization, large);
        using var smallClient = AuthorizationSuite.ClientFor(suite.Authorization, small);
        for (var i = 0; i < 5; i++)
        {
            await largeClient.WriteAsync(large, $"doc:{i}", "viewer", "user:lena");
        }

        await smallClient.WriteAsync(small, "doc:0", "viewer", "user:omar");
        var indexes = suite.Authorization.Services.GetRequiredService<TenantIndexes>();
        for (var round = 0; round < 3; round++)
        {
            Assert.True(await largeClient.AllowedAsync(large, "doc:4", "viewer", "user:lena"));
            Assert.False(await largeClient.AllowedAsync(large, "doc:4", "viewer", "user:omar"));
            Assert.True(await smallClient.AllowedAsync(small, "doc:0", "viewer", "user:omar"));
            Assert.False(await smallClient.AllowedAsync(small, "doc:0", "viewer", "user:lena"));
            Assert.Equal(1, indexes.Count);
        }

        // A revoke in the PostgreSQL-backed tenant is seen at once with its token.
        var revoked = await ApiAssert.OkAsync(await largeClient.DeleteAsync(large, "doc:4", "viewer", "user:lena"));
        Assert.False(await largeClient.AllowedAsync(large, "doc:4", "viewer", "user:lena", revoked.Token()));
    }

    /// <summary>A tenant indexed while small that then grows past the bound leaves memory and is read from PostgreSQL.</summary>
    [Fact]
    public async Task TenantGrowingPastTheBound_AfterItWasIndexed_IsReadFromPostgres()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = AuthorizationSuite.ClientFor(suite.Authorization, tenant);
        var indexes = suite.Authorization.Services.GetRequiredService<TenantIndexes>();
        await client.WriteAsync(tenant, "doc:0", "viewer", "user:kai");
        Assert.True(await client.AllowedAsync(tenant, "doc:0", "viewer", "user:kai"));
        Assert.True((await indexes.GetAsync(tenant.Id, ConsistencyRequirement.Default, CancellationToken.None)).FromIndex);

        for (var i = 1; i < 5; i++)
        {
            await client.WriteAsync(tenant, $"doc:{i}", "viewer", "user:kai");
        }

        Assert.False((await indexes.GetAsync(tenant.Id, ConsistencyRequirement.Default, CancellationToken.None)).FromIndex);
        for (var i = 0; i < 5; i++)
        {
            Assert.True(await client.AllowedAsync(tenant, $"doc:{i}", "viewer", "user:kai"));
        }
    }
}

/// <summary>A revision larger than one catch-up batch is applied whole on the replica that did not write it.</summary>
public sealed class ChangelogCatchUpTests(SmallBatchReplicasSuite suite) : IClassFixture<SmallBatchReplicasSuite>
{
    [Fact]
    public async Task RevisionLargerThanTheBatch_ReachesTheOtherReplica_Whole()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var a = AuthorizationSuite.ClientFor(suite.ReplicaA, tenant);
        using var b = AuthorizationSuite.ClientFor(suite.ReplicaB, tenant);
        await a.WriteAsync(tenant, "doc:first", "viewer", "user:ann");
        Assert.True(await b.AllowedAsync(tenant, "doc:first", "viewer", "user:ann")); // B's index is loaded now

        // One revision of ten tuples, then one of two: batches of three must neither stall nor split them.
        var ten = await ApiAssert.OkAsync(await a.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new
        {
            writes = Enumerable.Range(0, 10).Select(i => new { @object = $"doc:{i}", relation = "viewer", user = "user:ann" }).ToArray(),
        }));
        var two = await ApiAssert.OkAsync(await a.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new
        {
            writes = new[] { new { @object = "doc:10", relation = "viewer", user = "user:ann" }, new { @object = "doc:11", relation = "viewer", user = "user:ann" } },
        }));
        for (var i = 0; i < 12; i++)
        {
            Assert.True(await b.AllowedAsync(tenant, $"doc:{i}", "viewer", "user:ann", (i < 10 ? ten : two).Token()));
        }

        var revoked = await ApiAssert.OkAsync(await a.DeleteAsync(tenant, "doc:9", "viewer", "user:ann"));
        Assert.False(await b.AllowedAsync(tenant, "doc:9", "viewer", "user:ann", revoked.Token()));
    }
}
