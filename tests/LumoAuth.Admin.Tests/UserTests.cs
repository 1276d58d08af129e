using System.Net.Http.Json;
using LumoAuth.Admin.Features.ApiKeys;
using LumoAuth.Testing;

namespace LumoAuth.Admin.Tests;

public sealed class UserTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    [Fact]
    public async Task CreateUser_ThenGetByIdAndEmail_ReturnsTheUser()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        using var created = await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "Jane@Example.com", name = "Jane", password = "a long enough password" });
        var json = await ApiAssert.OkAsync(created, 201);
        var id = json["data"]!["id"]!.GetValue<string>();
        Assert.Equal("Jane@Example.com", json["data"]!["email"]!.GetValue<string>());
        Assert.DoesNotContain("password", json.ToJsonString(), StringComparison.OrdinalIgnoreCase);

        using var byId = await client.GetAsync($"{tenant.Api}/admin/users/{id}");
        var read = await ApiAssert.OkAsync(byId);
        Assert.Equal(id, read["data"]!["id"]!.GetValue<string>());
        // This suite runs admin without the authorization service: roles are unknown (null), not "none" ([]).
        Assert.True(read["data"]!.AsObject().TryGetPropertyValue("roles", out var roles) && roles is null);
        using var byEmail = await client.GetAsync($"{tenant.Api}/admin/users/jane@example.com");
        Assert.Equal(id, (await ApiAssert.OkAsync(byEmail))["data"]!["id"]!.GetValue<string>());

        using var list = await client.GetAsync($"{tenant.Api}/admin/users?limit=1");
        var page = await ApiAssert.OkAsync(list);
        Assert.Equal(2, page["meta"]!["total"]!.GetValue<long>());
        Assert.True(page["meta"]!["hasNextPage"]!.GetValue<bool>());
    }

    [Fact]
    public async Task CreateUser_DuplicateEmailAnyCase_Returns409()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        using var first = await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "dup@example.com" });
        await ApiAssert.OkAsync(first, 201);
        using var second = await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "DUP@example.com" });
        await ApiAssert.ErrorAsync(second, 409, "duplicate_resource");
    }

    [Fact]
    public async Task CreateUser_InvalidEmailAndShortPassword_Returns400WithDetails()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        using var response = await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "nope", password = "123" });
        var error = await ApiAssert.ErrorAsync(response, 400, "validation_error");
        Assert.NotNull(error["details"]!["email"]);
        Assert.NotNull(error["details"]!["password"]);
    }

    [Fact]
    public async Task GetUser_Unknown_Returns404()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        using var response = await client.GetAsync($"{tenant.Api}/admin/users/{Guid.NewGuid()}");
        await ApiAssert.ErrorAsync(response, 404, "resource_not_found");
    }

    [Fact]
    public async Task Users_WithoutApiKey_Returns401()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.CreateClient();
        using var response = await client.GetAsync($"{tenant.Api}/admin/users");
        await ApiAssert.ErrorAsync(response, 401, "unauthorized");
    }

    [Fact]
    public async Task Users_WithInvalidApiKey_Returns401()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("Authorization", "ApiKey lmk_not-a-real-key");
        using var response = await client.GetAsync($"{tenant.Api}/admin/users");
        await ApiAssert.ErrorAsync(response, 401, "unauthorized");
    }

    /// <summary>The docs' examples send the key as a bearer token; SCIM clients do too. Another tenant's key stays refused.</summary>
    [Theory]
    [InlineData("Bearer")]
    [InlineData("bearer")]
    public async Task Users_WithTheApiKeyAsABearerToken_AreListed(string scheme)
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"{scheme} {tenant.ApiKey}");
        await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/users"));
        await ApiAssert.ErrorAsync(await client.GetAsync($"{other.Api}/admin/users"), 401, "unauthorized");

        using var bogus = factory.CreateClient();
        bogus.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"{scheme} lmk_not-a-real-key");
        await ApiAssert.ErrorAsync(await bogus.GetAsync($"{tenant.Api}/admin/users"), 401, "unauthorized");
    }

    [Fact]
    public async Task Users_WithAnotherTenantsApiKey_Returns401AndLeaksNothing()
    {
        var a = await factory.CreateTenantAsync();
        var b = await factory.CreateTenantAsync();
        using var clientA = factory.ClientFor(a);
        using var created = await clientA.PostAsJsonAsync($"{a.Api}/admin/users", new { email = "secret@a.example.com" });
        var userId = (await ApiAssert.OkAsync(created, 201))["data"]!["id"]!.GetValue<string>();

        using var bOnA = factory.ClientFor(b);
        using var cross = await bOnA.GetAsync($"{a.Api}/admin/users/{userId}");
        await ApiAssert.ErrorAsync(cross, 401, "unauthorized");

        using var clientB = factory.ClientFor(b);
        using var hidden = await clientB.GetAsync($"{b.Api}/admin/users/{userId}");
        await ApiAssert.ErrorAsync(hidden, 404, "resource_not_found");
        using var list = await clientB.GetAsync($"{b.Api}/admin/users?search=secret");
        Assert.Equal(0, (await ApiAssert.OkAsync(list))["meta"]!["total"]!.GetValue<long>());
    }

    [Fact]
    public async Task RevokedApiKey_IsRefusedWithinSeconds()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        using var created = await admin.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "short-lived", scopes = new[] { "admin:read" } });
        var key = (await ApiAssert.OkAsync(created, 201))["data"]!;
        var secret = key["key"]!.GetValue<string>();

        using var withKey = factory.CreateClient();
        withKey.DefaultRequestHeaders.Add("X-API-Key", secret);
        using var before = await withKey.GetAsync($"{tenant.Api}/admin/users");
        await ApiAssert.OkAsync(before);

        using var revoke = await admin.DeleteAsync($"{tenant.Api}/admin/api-keys/{key["id"]!.GetValue<string>()}");
        Assert.Equal(System.Net.HttpStatusCode.NoContent, revoke.StatusCode);

        await ApiAssert.EventuallyAsync<HttpResponseMessage>(async () =>
        {
            var response = await withKey.GetAsync($"{tenant.Api}/admin/users");
            return response.StatusCode == System.Net.HttpStatusCode.Unauthorized ? response : null;
        }, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ReadOnlyApiKey_CannotWrite_Returns403()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        using var created = await admin.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "reader", scopes = new[] { "admin:read" } });
        var secret = (await ApiAssert.OkAsync(created, 201))["data"]!["key"]!.GetValue<string>();

        using var reader = factory.CreateClient();
        reader.DefaultRequestHeaders.Add("X-API-Key", secret);
        using var write = await reader.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "w@example.com" });
        await ApiAssert.ErrorAsync(write, 403, "insufficient_scope");
    }

    [Fact]
    public async Task ApiKeyThatExpires_CannotMintAKeyThatOutlivesIt_OrHoldsMoreScopes()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var expiresAt = DateTimeOffset.UtcNow.AddDays(1);
        using var created = await admin.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "expiring", scopes = new[] { "admin:write" }, expiresAt });
        var secret = (await ApiAssert.OkAsync(created, 201))["data"]!["key"]!.GetValue<string>();
        using var expiring = factory.CreateClient();
        expiring.DefaultRequestHeaders.Add("X-API-Key", secret);

        await ApiAssert.ErrorAsync(await expiring.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "forever", scopes = new[] { "admin:read" } }), 403, "permission_denied");
        await ApiAssert.ErrorAsync(
            await expiring.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "later", scopes = new[] { "admin:read" }, expiresAt = expiresAt.AddDays(1) }), 403, "permission_denied");
        await ApiAssert.OkAsync(
            await expiring.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "shorter", scopes = new[] { "admin:read" }, expiresAt = expiresAt.AddHours(-1) }), 201);

        // The tenant's own key never expires, so its keys need not either.
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "unbounded", scopes = new[] { "admin:read" } }), 201);

        // Only a writing key reaches this endpoint, and it covers every scope; the narrower cases, by the enforced rules:
        Assert.True(ApiKeyEndpoints.Covers(["admin"], "admin:write"));
        Assert.True(ApiKeyEndpoints.Covers(["admin.write"], "admin:users"));
        Assert.True(ApiKeyEndpoints.Covers(["admin:read"], "zanzibar.read"));
        Assert.False(ApiKeyEndpoints.Covers(["admin:read"], "admin:write"));
        Assert.False(ApiKeyEndpoints.Covers(["admin:users"], "admin:groups"));
        Assert.False(ApiKeyEndpoints.Covers(["zanzibar.read"], "zanzibar:write"));
    }
}
