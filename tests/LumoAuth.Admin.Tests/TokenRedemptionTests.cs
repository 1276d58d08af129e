using System.Net.Http.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// The token service's side of reset links and invitations. The e-mailed token is never stored, so the
/// tests plant a known token's hash where the e-mail sender would have had the token.
/// </summary>
public sealed class TokenRedemptionTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private async Task PlantResetTokenAsync(TestTenant tenant, Guid userId, string token, TimeSpan lifetime)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        db.PasswordResetTokens.Add(new PasswordResetToken
        {
            Id = Guid.NewGuid(), TenantId = tenant.Id, UserId = userId, TokenHash = TokenRedemptionEndpoints.HashOf(token),
            CreatedAt = DateTimeOffset.UtcNow, ExpiresAt = DateTimeOffset.UtcNow + lifetime,
        });
        await db.SaveChangesAsync();
    }

    [Fact]
    public async Task PasswordReset_Completes_Once_WithThePolicy()
    {
        var tenant = await factory.CreateTenantAsync();
        var id = await factory.CreateUserAsync(tenant, "forgot@example.com", "old password 123");
        await PlantResetTokenAsync(tenant, id, "reset-token-1", TimeSpan.FromHours(1));
        using var client = factory.Internal();

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "reset-token-1", "short")), 400, "validation_error");
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "reset-token-1", "brand new password 1")));
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "reset-token-1", "another password 2")), 400, "invalid_token");

        using var login = await client.PostAsJsonAsync(InternalRoutes.Authenticate, new AuthenticateRequest(tenant.Id, "forgot@example.com", "brand new password 1", null, null));
        Assert.Equal(AuthenticationOutcomes.Success, (await login.Content.ReadFromJsonAsync<AuthenticateResponse>())!.Outcome);
    }

    [Fact]
    public async Task PasswordReset_ExpiredUnknownOrForeignToken_IsInvalid()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        var id = await factory.CreateUserAsync(tenant, "late@example.com");
        await PlantResetTokenAsync(tenant, id, "expired-token", TimeSpan.FromSeconds(-1));
        await PlantResetTokenAsync(tenant, id, "valid-token", TimeSpan.FromHours(1));
        using var client = factory.Internal();
        foreach (var (tenantId, token) in new[] { (tenant.Id, "expired-token"), (tenant.Id, "no-such-token"), (other.Id, "valid-token"), (Guid.NewGuid(), "valid-token") })
        {
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
                new CompletePasswordResetRequest(tenantId, token, "good password 123")), 400, "invalid_token");
        }

        using var anonymous = factory.CreateDirectClient();
        await ApiAssert.ErrorAsync(await anonymous.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "valid-token", "good password 123")), 401, "unauthorized");
    }

    [Fact]
    public async Task Invitation_Accepted_CreatesTheUserInItsGroups_Once()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var groupId = await factory.CreateGroupAsync(tenant, "Invitees");
        var invitation = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/invitations",
            new { email = "joiner@example.com", roles = new[] { "editor" }, groups = new[] { "invitees" } }), 201))["data"]!["id"]!.GetValue<string>();
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            var hash = TokenRedemptionEndpoints.HashOf("invite-token");
            await db.Invitations.IgnoreQueryFilters().Where(i => i.Id == Guid.Parse(invitation)).ExecuteUpdateAsync(s => s.SetProperty(i => i.TokenHash, hash));
        }

        using var client = factory.Internal();
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.AcceptInvitation,
            new AcceptInvitationRequest(tenant.Id, "invite-token", "weak", "Joiner")), 400, "validation_error");
        var accepted = (await ApiAssert.OkAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.AcceptInvitation,
            new AcceptInvitationRequest(tenant.Id, "invite-token", "a good password 1", "Joiner")), 201))["data"]!;
        var userId = accepted["userId"]!.GetValue<string>();
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.AcceptInvitation,
            new AcceptInvitationRequest(tenant.Id, "invite-token", "a good password 1", "Joiner")), 400, "invalid_token");

        var user = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}")))["data"]!;
        Assert.True(user["emailVerified"]!.GetValue<bool>());
        Assert.Equal(groupId.ToString(), user["groups"]![0]!["id"]!.GetValue<string>());
        var entry = await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_invitation_accepted&targetId={userId}")))["data"]!.AsArray().FirstOrDefault()?.AsObject());
        Assert.Equal("editor", entry["metadata"]!["roles"]![0]!.GetValue<string>());
    }

    [Fact]
    public async Task Invitation_PastItsExpiry_IsRefused_AndCreatesNobody()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var invitation = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = "late@example.com" }), 201))
            ["data"]!["id"]!.GetValue<string>();
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            var hash = TokenRedemptionEndpoints.HashOf("late-token");
            await db.Invitations.IgnoreQueryFilters().Where(i => i.Id == Guid.Parse(invitation))
                .ExecuteUpdateAsync(s => s.SetProperty(i => i.TokenHash, hash).SetProperty(i => i.ExpiresAt, DateTimeOffset.UtcNow.AddSeconds(-1)));
        }

        using var client = factory.Internal();
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.AcceptInvitation,
            new AcceptInvitationRequest(tenant.Id, "late-token", "a good password 1", "Late")), 400, "invalid_token");
        var users = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users?search=late%40example.com"));
        Assert.Equal(0, users["meta"]!["total"]!.GetValue<long>());
    }
}
