using System.Net;
using System.Net.Http.Json;
using LumoAuth.Token.Tests.Support;
using TestTenant = LumoAuth.Testing.TestTenant;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Admin's rule for administrator accounts holds here too: a key scoped to users (<c>admin:users</c>) ends a user's sessions,
/// grants and trusted devices, but not an administrator's (the first administrator, <c>isAdmin</c>, or a holder of an
/// administering role); a full administrator's key does both.
/// </summary>
public sealed class AdministratorAccountGuardTests(WithAuthorizationSuite suite) : IClassFixture<WithAuthorizationSuite>
{
    [Fact]
    public async Task UsersScopedKey_IsRefusedOnAnAdministratorsSessionsTokensAndDevices_AllowedOnAUsers()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var firstAdministrator = await UserIdAsync(tenant, $"admin@{tenant.Slug}.example.com");
        var roleAdministrator = await suite.Admin.CreateUserAsync(tenant, $"ops-{Guid.NewGuid():N}"[..12] + "@example.com");
        await AssignRoleAsync(tenant, roleAdministrator, "tenant_admin");
        var user = await suite.Admin.CreateUserAsync(tenant, $"user-{Guid.NewGuid():N}"[..13] + "@example.com");
        using var scoped = await TokenClientWithKeyAsync(tenant, "admin:users");

        foreach (var administrator in new[] { firstAdministrator, roleAdministrator })
        {
            foreach (var path in Paths(tenant, administrator))
            {
                using var refused = await scoped.DeleteAsync(path);
                await HttpAssert.EnvelopeAsync(refused, HttpStatusCode.Forbidden, "insufficient_scope");
            }

            // Reading stays open to the key, as in admin.
            using var listed = await scoped.GetAsync($"{tenant.Api}/admin/users/{administrator}/sessions");
            Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        }

        foreach (var path in Paths(tenant, user))
        {
            using var allowed = await scoped.DeleteAsync(path);
            Assert.True(allowed.IsSuccessStatusCode, $"{path}: {(int)allowed.StatusCode} {await allowed.Content.ReadAsStringAsync()}");
        }
    }

    [Fact]
    public async Task FullAdministratorKey_EndsAnAdministratorsAndAUsersSessionsTokensAndDevices()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var administrator = await UserIdAsync(tenant, $"admin@{tenant.Slug}.example.com");
        var user = await suite.Admin.CreateUserAsync(tenant, $"user-{Guid.NewGuid():N}"[..13] + "@example.com");
        using var full = suite.Token.CreateClient();
        full.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);

        foreach (var path in Paths(tenant, administrator).Concat(Paths(tenant, user)))
        {
            using var allowed = await full.DeleteAsync(path);
            Assert.True(allowed.IsSuccessStatusCode, $"{path}: {(int)allowed.StatusCode} {await allowed.Content.ReadAsStringAsync()}");
        }
    }

    /// <summary>The token service's changes to a user: their sessions, their grants and tokens, their trusted devices.</summary>
    private static string[] Paths(TestTenant tenant, Guid userId) =>
    [
        $"{tenant.Api}/admin/users/{userId}/sessions",
        $"{tenant.Api}/admin/users/{userId}/tokens",
        $"{tenant.Api}/admin/users/{userId}/trusted-devices",
    ];

    private async Task<Guid> UserIdAsync(TestTenant tenant, string email)
    {
        using var admin = suite.Admin.ClientFor(tenant);
        using var found = await admin.GetAsync($"{tenant.Api}/admin/users?search={Uri.EscapeDataString(email)}");
        var user = Assert.Single((await HttpAssert.JsonAsync(found, HttpStatusCode.OK)).GetProperty("data").EnumerateArray());
        return user.GetProperty("id").GetGuid();
    }

    private async Task AssignRoleAsync(TestTenant tenant, Guid userId, string role)
    {
        using var authz = suite.Authorization.CreateClient();
        authz.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        using var assigned = await authz.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { role } });
        Assert.True(assigned.IsSuccessStatusCode, await assigned.Content.ReadAsStringAsync());
    }

    /// <summary>A client of the token service holding a new API key of the tenant with only <paramref name="scope"/>.</summary>
    private async Task<HttpClient> TokenClientWithKeyAsync(TestTenant tenant, string scope)
    {
        using var admin = suite.Admin.ClientFor(tenant);
        using var issued = await admin.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "ci", scopes = new[] { scope } });
        var key = (await HttpAssert.JsonAsync(issued, HttpStatusCode.Created)).GetProperty("data").GetProperty("key").GetString()!;
        var http = suite.Token.CreateClient();
        http.DefaultRequestHeaders.Add("X-API-Key", key);
        return http;
    }
}
