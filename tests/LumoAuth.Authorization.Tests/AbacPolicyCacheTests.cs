using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

namespace LumoAuth.Authorization.Tests;

/// <summary>ABAC checks answer from a per-tenant policy cache; every policy write is visible to the writer's very next check.</summary>
public sealed class AbacPolicyCacheTests(AuthorizationSuite suite) : IClassFixture<AuthorizationSuite>
{
    [Fact]
    public async Task PolicyWrites_AreSeenByTheVeryNextCheck()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        Assert.False(await AbacPolicies.AllowedAsync(client, tenant));

        var id = await AbacPolicies.CreateAsync(client, tenant);
        Assert.True(await AbacPolicies.AllowedAsync(client, tenant));

        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/abac/policies/{id}", new { effect = "deny" }));
        Assert.False(await AbacPolicies.AllowedAsync(client, tenant));

        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/abac/policies/{id}", new { effect = "allow", isActive = false }));
        Assert.False(await AbacPolicies.AllowedAsync(client, tenant));

        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/abac/policies/{id}", new { isActive = true }));
        Assert.True(await AbacPolicies.AllowedAsync(client, tenant));

        await ApiAssert.OkAsync(await client.DeleteAsync($"{tenant.Api}/admin/abac/policies/{id}"));
        Assert.False(await AbacPolicies.AllowedAsync(client, tenant));
    }

    [Fact]
    public async Task RefusedPolicyWrites_ChangeNothing_AndOtherTenantsAreUntouched()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var other = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        using var otherClient = suite.ClientFor(other);
        var id = await AbacPolicies.CreateAsync(client, tenant);
        Assert.False(await AbacPolicies.AllowedAsync(otherClient, other));

        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/abac/policies/{id}", new { effect = "maybe" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/abac/policies/{Guid.NewGuid()}", new { effect = "deny" }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherClient.PutAsJsonAsync($"{other.Api}/admin/abac/policies/{id}", new { effect = "deny" }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherClient.DeleteAsync($"{other.Api}/admin/abac/policies/{id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.DeleteAsync($"{tenant.Api}/admin/abac/policies/{Guid.NewGuid()}"), 404, "resource_not_found");

        Assert.True(await AbacPolicies.AllowedAsync(client, tenant));
        Assert.False(await AbacPolicies.AllowedAsync(otherClient, other));
        var stored = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/abac/policies/{id}"));
        Assert.Equal("allow", stored["data"]!["effect"]!.GetValue<string>());
    }
}

/// <summary>Two replicas that tail the changelog within the default staleness budget: a policy written on one reaches the other's cache.</summary>
public sealed class AbacPolicyReplicationTests(TwoTailingReplicasSuite suite) : IClassFixture<TwoTailingReplicasSuite>
{
    [Fact]
    public async Task PolicyWrittenOnOneReplica_ReachesTheOthersCache()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var a = AuthorizationSuite.ClientFor(suite.ReplicaA, tenant);
        using var b = AuthorizationSuite.ClientFor(suite.ReplicaB, tenant);
        // B caches the tenant's (empty) policy set first.
        Assert.False(await AbacPolicies.AllowedAsync(b, tenant));

        var id = await AbacPolicies.CreateAsync(a, tenant);
        Assert.True(await AbacPolicies.AllowedAsync(a, tenant));
        await ApiAssert.EventuallyAsync(async () => await AbacPolicies.AllowedAsync(b, tenant) ? "allowed on B" : null);

        await ApiAssert.OkAsync(await a.DeleteAsync($"{tenant.Api}/admin/abac/policies/{id}"));
        Assert.False(await AbacPolicies.AllowedAsync(a, tenant));
        await ApiAssert.EventuallyAsync(async () => await AbacPolicies.AllowedAsync(b, tenant) ? null : "denied on B");
    }
}

/// <summary>One allow policy on reading reports, and the check that it decides.</summary>
internal static class AbacPolicies
{
    public static async Task<string> CreateAsync(HttpClient client, TestTenant tenant)
    {
        var created = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Anyone reads reports",
            effect = "allow",
            target = new { resources = new[] { "report" }, actions = new[] { "read" } },
            conditions = new { all = Array.Empty<object>() },
        }), 201);
        return created["data"]!["id"]!.GetValue<string>();
    }

    public static async Task<bool> AllowedAsync(HttpClient client, TestTenant tenant)
    {
        JsonObject decision = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new { resourceType = "report", resourceId = "q3", action = "read", subject = "user:carl" }));
        return decision["allowed"]!.GetValue<bool>();
    }
}
