using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// The internal API behind the token service's hosted pages: self-registration under the tenant's switch,
/// password policy and email uniqueness, and the branding/registration settings the pages render.
/// </summary>
public sealed class HostedPageInternalTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private async Task PutSettingsAsync(TestTenant tenant, object body)
    {
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/settings", body));
    }

    [Fact]
    public async Task Register_CreatesAnActiveUnverifiedUserThatCanSignIn()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.Internal();

        using var response = await client.PostAsJsonAsync(InternalRoutes.RegisterUser, new RegisterUserRequest(tenant.Id, " Self@Example.com ", "a good password 1", "Self Made"));

        var created = await ApiAssert.OkAsync(response, 201);
        var userId = created["userId"]!.GetValue<string>();
        Assert.False(created["emailVerificationRequired"]!.GetValue<bool>());
        using var admin = factory.ClientFor(tenant);
        var user = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}"));
        Assert.Equal("Self@Example.com", user["data"]!["email"]!.GetValue<string>());
        Assert.Equal("Self Made", user["data"]!["name"]!.GetValue<string>());
        var verdict = await ApiAssert.OkAsync(await client.PostAsJsonAsync(InternalRoutes.Authenticate,
            new AuthenticateRequest(tenant.Id, "self@example.com", "a good password 1", null, null)));
        Assert.Equal(AuthenticationOutcomes.Success, verdict["outcome"]!.GetValue<string>());

        // UserCreated left through the outbox, as for the REST API: the audit consumer recorded it.
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_created&targetId={userId}"));
            return page["data"]!.AsArray().FirstOrDefault()?.AsObject();
        });
    }

    [Fact]
    public async Task Register_AppliesPolicyUniquenessAndTheSwitch()
    {
        var tenant = await factory.CreateTenantAsync();
        await factory.CreateUserAsync(tenant, "taken@example.com", "a good password 1");
        using var client = factory.Internal();

        var weak = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(InternalRoutes.RegisterUser,
            new RegisterUserRequest(tenant.Id, "weak@example.com", "short", null)), 400, "validation_error");
        Assert.NotNull(weak["details"]!["password"]);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(InternalRoutes.RegisterUser,
            new RegisterUserRequest(tenant.Id, "nopassword@example.com", null, null)), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(InternalRoutes.RegisterUser,
            new RegisterUserRequest(tenant.Id, "not-an-email", "a good password 1", null)), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(InternalRoutes.RegisterUser,
            new RegisterUserRequest(tenant.Id, "TAKEN@example.com", "a good password 1", null)), 409, "duplicate_resource");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(InternalRoutes.RegisterUser,
            new RegisterUserRequest(Guid.NewGuid(), "ghost@example.com", "a good password 1", null)), 404, "resource_not_found");

        await PutSettingsAsync(tenant, new { loginPolicy = new { registrationEnabled = false } });
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(InternalRoutes.RegisterUser,
            new RegisterUserRequest(tenant.Id, "late@example.com", "a good password 1", null)), 403, HostedPageErrorCodes.RegistrationDisabled);
    }

    [Fact]
    public async Task HostedPageSettings_ReturnBrandingAndSwitch_PerTenant()
    {
        var branded = await factory.CreateTenantAsync();
        var plain = await factory.CreateTenantAsync();
        await PutSettingsAsync(branded, new
        {
            branding = new { displayName = "Acme Login", logoUrl = "https://cdn.example.com/logo.png", primaryColor = "#112233" },
            loginPolicy = new { registrationEnabled = false },
            sessionPolicy = new { maxAge = 7_200, idleTimeout = 900, singleSession = true },
        });
        using var client = factory.Internal();

        var settings = await ApiAssert.OkAsync(await client.GetAsync($"/internal/v1/tenants/{branded.Id}/hosted-pages"));
        Assert.Equal("Acme Login", settings["displayName"]!.GetValue<string>());
        Assert.Equal("https://cdn.example.com/logo.png", settings["logoUrl"]!.GetValue<string>());
        Assert.Equal("#112233", settings["primaryColor"]!.GetValue<string>());
        Assert.False(settings["registrationEnabled"]!.GetValue<bool>());
        Assert.Equal((7_200, 900, true), (settings["sessionMaxAge"]!.GetValue<int>(), settings["sessionIdleTimeout"]!.GetValue<int>(), settings["singleSession"]!.GetValue<bool>()));
        var defaults = await ApiAssert.OkAsync(await client.GetAsync($"/internal/v1/tenants/{plain.Id}/hosted-pages"));
        Assert.True(defaults["registrationEnabled"]!.GetValue<bool>());
        Assert.Null(defaults["logoUrl"]);
        Assert.Equal((86_400, 1_800, false), (defaults["sessionMaxAge"]!.GetValue<int>(), defaults["sessionIdleTimeout"]!.GetValue<int>(), defaults["singleSession"]!.GetValue<bool>()));

        await ApiAssert.ErrorAsync(await client.GetAsync($"/internal/v1/tenants/{Guid.NewGuid()}/hosted-pages"), 404, "resource_not_found");
        using var outside = factory.CreateClient();
        outside.DefaultRequestHeaders.Add("X-Internal-Key", TestInfrastructure.InternalKey);
        await ApiAssert.ErrorAsync(await outside.GetAsync($"/internal/v1/tenants/{branded.Id}/hosted-pages"), 404, "route_not_found");
    }
}
