using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;

namespace LumoAuth.Authorization.Tests;

/// <summary>
/// A user made at a first sign-in through an outside IdP gets the IdP's default roles (the docs' JIT "Default Roles"),
/// written in the authorization service before the user is saved; a default role deleted since is left out, not a
/// reason to refuse the sign-up.
/// </summary>
public sealed class ExternalUserDefaultRolesTests(AuthorizationSuite suite) : IClassFixture<AuthorizationSuite>
{
    [Fact]
    public async Task AUserMadeAtAFirstOutsideSignIn_GetsTheDefaultRolesThatStillExist()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = "Viewer", slug = "viewer" }), 201);

        using var internalApi = suite.Admin.Internal();
        var email = $"jit-{Guid.NewGuid():N}"[..12] + "@example.com";
        var made = await ApiAssert.OkAsync(await internalApi.PostAsJsonAsync(InternalRoutes.ExternalUsers,
            new ExternalUserRequest(tenant.Id, "saml:Okta", email, EmailVerified: true, "Jit User", null, null, null, AllowSignup: true, AutoLink: false)
            {
                Roles = ["viewer", "deleted-long-ago"],
            }));
        Assert.True(made["created"]!.GetValue<bool>());
        var userId = made["userId"]!.GetValue<string>();

        using var roles = await client.GetAsync($"{tenant.Api}/admin/users/{userId}/roles");
        var body = await roles.Content.ReadAsStringAsync();
        Assert.True(roles.IsSuccessStatusCode, body);
        Assert.Contains("\"viewer\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain("deleted-long-ago", body, StringComparison.Ordinal);

        // An existing account found by its address keeps its roles: defaults are for accounts made now.
        var again = await ApiAssert.OkAsync(await internalApi.PostAsJsonAsync(InternalRoutes.ExternalUsers,
            new ExternalUserRequest(tenant.Id, "saml:Okta", email, EmailVerified: true, null, null, null, null, AllowSignup: true, AutoLink: true) { Roles = ["admin"] }));
        Assert.False(again["created"]!.GetValue<bool>());
        using var unchanged = await client.GetAsync($"{tenant.Api}/admin/users/{userId}/roles");
        Assert.DoesNotContain("\"admin\"", await unchanged.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
