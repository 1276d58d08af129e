using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;

namespace LumoAuth.Admin.Tests;

/// <summary>The internal password change behind the account page: current password first, counted like sign-ins, tenant-scoped.</summary>
public sealed class PasswordChangeTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private const string Password = "correct horse battery 1";

    [Fact]
    public async Task WrongCurrentPasswords_CountTowardsTheLockout_AndALockedAccountCannotChangeIt()
    {
        var tenant = await factory.CreateTenantAsync();
        var userId = await factory.CreateUserAsync(tenant, $"change@{tenant.Slug}.example.com", Password);
        using var client = factory.Internal();

        for (var attempt = 0; attempt < 5; attempt++)
        {
            var refused = await ApiAssert.ErrorAsync(
                await client.PostAsJsonAsync(ChangePasswordRequest.Route(userId, tenant.Id), new ChangePasswordRequest("wrong password 1", "new password 12345")), 400, "validation_error");
            Assert.NotNull(refused["details"]!["currentPassword"]);
        }

        var locked = await ApiAssert.ErrorAsync(
            await client.PostAsJsonAsync(ChangePasswordRequest.Route(userId, tenant.Id), new ChangePasswordRequest(Password, "new password 12345")), 400, "validation_error");
        Assert.Contains("locked", locked["details"]!["currentPassword"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChangedPassword_SignsIn_AndTheNewOneMeetsThePolicy_OnlyInTheUsersTenant()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        var address = $"mover@{tenant.Slug}.example.com";
        var userId = await factory.CreateUserAsync(tenant, address, Password);
        using var client = factory.Internal();

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(ChangePasswordRequest.Route(userId, other.Id), new ChangePasswordRequest(Password, "new password 12345")), 404, "resource_not_found");
        var weak = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(ChangePasswordRequest.Route(userId, tenant.Id), new ChangePasswordRequest(Password, "x")), 400, "validation_error");
        Assert.NotNull(weak["details"]!["password"]);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(ChangePasswordRequest.Route(userId, tenant.Id), new { currentPassword = 12 }), 400, "invalid_request");

        await ApiAssert.OkAsync(await client.PostAsJsonAsync(ChangePasswordRequest.Route(userId, tenant.Id), new ChangePasswordRequest(Password, "new password 12345")));

        using var login = await client.PostAsJsonAsync(InternalRoutes.Authenticate, new AuthenticateRequest(tenant.Id, address, "new password 12345", null, null));
        Assert.Equal(AuthenticationOutcomes.Success, (await login.Content.ReadFromJsonAsync<AuthenticateResponse>())!.Outcome);
    }
}
