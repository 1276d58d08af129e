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
}
