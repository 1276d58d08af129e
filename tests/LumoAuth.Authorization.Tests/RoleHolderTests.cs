using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;

namespace LumoAuth.Authorization.Tests;

/// <summary><c>GET /admin/users?role=</c> at admin, answered with the holders the authorization service lists (directly or through groups).</summary>
public sealed class RoleHolderTests(AuthorizationSuite suite) : IClassFixture<AuthorizationSuite>
{
    [Fact]
    public async Task AdminUserList_ByRole_IncludesGroupMembers_AndKeepsPagingAndTotal()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var authz = suite.ClientFor(tenant);
        using var admin = suite.Admin.ClientFor(tenant);
        await ApiAssert.OkAsync(await authz.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = "Editor" }), 201);
        var alice = await suite.Admin.CreateUserAsync(tenant, "alice@roles.example.com", name: "Alice");
        var bob = await suite.Admin.CreateUserAsync(tenant, "bob@roles.example.com", name: "Bob");
        var carol = await suite.Admin.CreateUserAsync(tenant, "carol@roles.example.com", name: "Carol");
        await suite.Admin.CreateUserAsync(tenant, "dave@roles.example.com", name: "Dave");
        var writers = await suite.Admin.CreateGroupAsync(tenant, "Writers");
        await ApiAssert.OkAsync(await authz.PutAsJsonAsync($"{tenant.Api}/admin/users/{alice}/roles", new { roles = new[] { "editor" } }));
        await ApiAssert.OkAsync(await authz.PutAsJsonAsync($"{tenant.Api}/admin/users/{bob}/roles", new { roles = new[] { "editor" } }));
        await ApiAssert.OkAsync(await authz.PutAsJsonAsync($"{tenant.Api}/admin/groups/{writers}/roles", new { roles = new[] { "editor" } }));
        (await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups/{writers}/members", new { userIds = new[] { carol.ToString() } })).EnsureSuccessStatusCode();

        // Carol's role arrives with the membership event, so wait for it once; the rest is read straight away.
        await ApiAssert.EventuallyAsync(async () => (await ListAsync(admin, tenant, "role=editor")).Total == 3 ? "seen" : null);
        var all = await ListAsync(admin, tenant, "role=editor&sortBy=email");
        Assert.Equal(["alice@roles.example.com", "bob@roles.example.com", "carol@roles.example.com"], all.Emails);

        var firstPage = await ListAsync(admin, tenant, "role=editor&sortBy=email&limit=2");
        Assert.Equal(["alice@roles.example.com", "bob@roles.example.com"], firstPage.Emails);
        Assert.Equal(3, firstPage.Total);
        var secondPage = await ListAsync(admin, tenant, "role=editor&sortBy=email&limit=2&page=2");
        Assert.Equal(["carol@roles.example.com"], secondPage.Emails);

        var searched = await ListAsync(admin, tenant, "role=editor&search=bob");
        Assert.Equal(["bob@roles.example.com"], searched.Emails);
        Assert.Equal(1, searched.Total);
        var grouped = await ListAsync(admin, tenant, "role=editor&group=writers");
        Assert.Equal(["carol@roles.example.com"], grouped.Emails);
        Assert.Equal(1, grouped.Total);

        var nobody = await ListAsync(admin, tenant, "role=no-such-role");
        Assert.Equal((0, 0), (nobody.Emails.Count, nobody.Total));
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{tenant.Api}/admin/users?role=not%20a%20slug"), 400, "validation_error");
    }

    [Fact]
    public async Task AdminUserList_ByRole_NeverShowsAnotherTenantsHolders()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var other = await suite.Admin.CreateTenantAsync();
        using var otherAuthz = suite.ClientFor(other);
        await ApiAssert.OkAsync(await otherAuthz.PostAsJsonAsync($"{other.Api}/admin/roles", new { name = "Editor" }), 201);
        var theirs = await suite.Admin.CreateUserAsync(other, "theirs@roles.example.com");
        await ApiAssert.OkAsync(await otherAuthz.PutAsJsonAsync($"{other.Api}/admin/users/{theirs}/roles", new { roles = new[] { "editor" } }));

        using var admin = suite.Admin.ClientFor(tenant);
        await suite.Admin.CreateUserAsync(tenant, "ours@roles.example.com");
        var listed = await ListAsync(admin, tenant, "role=editor");
        Assert.Equal((0, 0), (listed.Emails.Count, listed.Total));
        using var otherAdmin = suite.Admin.ClientFor(other);
        Assert.Equal(["theirs@roles.example.com"], (await ListAsync(otherAdmin, other, "role=editor")).Emails);
    }

    [Fact]
    public async Task InternalRoleHolders_ValidatesInput_AndIsInternalOnly()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var userId = await suite.Admin.CreateUserAsync(tenant, "direct@roles.example.com");
        using var authz = suite.ClientFor(tenant);
        await ApiAssert.OkAsync(await authz.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "user" } }));
        using var client = suite.Authorization.CreateDirectClient();
        client.DefaultRequestHeaders.Add(InternalRoutes.InternalKeyHeader, TestInfrastructure.InternalKey);
        var path = InternalRoutes.RoleUsers.Replace("{role}", "user", StringComparison.Ordinal);

        var holders = (await client.GetFromJsonAsync<RoleHolders>($"{path}?tenantId={tenant.Id}"))!;
        Assert.Equal([userId], holders.UserIds);
        Assert.True(holders.IsComplete);
        var elsewhere = (await client.GetFromJsonAsync<RoleHolders>($"{path}?tenantId={Guid.NewGuid()}"))!;
        Assert.Empty(elsewhere.UserIds);
        await ApiAssert.ErrorAsync(await client.GetAsync(path), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.GetAsync($"{InternalRoutes.Prefix}/roles/{Uri.EscapeDataString("bad slug!")}/users?tenantId={tenant.Id}"), 400, "validation_error");

        using var anonymous = suite.Authorization.CreateDirectClient();
        await ApiAssert.ErrorAsync(await anonymous.GetAsync($"{path}?tenantId={tenant.Id}"), 401, "unauthorized");
        using var outside = suite.ClientFor(tenant);
        outside.DefaultRequestHeaders.Add(InternalRoutes.InternalKeyHeader, TestInfrastructure.InternalKey);
        await ApiAssert.ErrorAsync(await outside.GetAsync($"{path}?tenantId={tenant.Id}"), 404, "route_not_found");
    }

    internal static async Task<(List<string> Emails, int Total)> ListAsync(HttpClient admin, TestTenant tenant, string query)
    {
        var page = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users?{query}"));
        return (page["data"]!.AsArray().Select(u => u!["email"]!.GetValue<string>()).ToList(), page["meta"]!["total"]!.GetValue<int>());
    }
}

/// <summary>A role with more holders than one list answer carries cannot filter the user list: a 400, never a short list.</summary>
public sealed class RoleHolderLimitTests(ShortListSuite suite) : IClassFixture<ShortListSuite>
{
    [Fact]
    public async Task AdminUserList_ByRoleWithTooManyHolders_Returns400()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var authz = AuthorizationSuite.ClientFor(suite.Authorization, tenant);
        using var admin = suite.Admin.ClientFor(tenant);
        foreach (var name in new[] { "a", "b", "c" })
        {
            var id = await suite.Admin.CreateUserAsync(tenant, $"{name}@many.example.com");
            await ApiAssert.OkAsync(await authz.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/roles", new { roles = new[] { "user" } }));
        }

        await ApiAssert.ErrorAsync(await admin.GetAsync($"{tenant.Api}/admin/users?role=user"), 400, "validation_error");
        var few = await RoleHolderTests.ListAsync(admin, tenant, "role=admin");
        Assert.Equal(0, few.Total);
    }
}

/// <summary>Admin and authorization wired to each other, with list answers cut at two results.</summary>
public sealed class ShortListSuite() : AdminWithAuthorizationSuite(authorizationSettings: new Dictionary<string, string?> { ["Authorization:Index:MaxListResults"] = "2" });
