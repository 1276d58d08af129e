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
    private static async Task<AuthenticateResponse> SignInWithLinkAsync(HttpClient client, TestTenant tenant, string token, string? totp = null)
    {
        using var response = await client.PostAsJsonAsync(EmailLinkPaths.CompleteMagicLink, new CompleteMagicLink(tenant.Id, token, totp, null));
        await ApiAssert.OkAsync(response);
        return (await response.Content.ReadFromJsonAsync<MagicLinkSignIn>())!.Verdict;
    }

    private static async Task<string> AuthenticateAsync(HttpClient client, TestTenant tenant, string email, string password)
    {
        using var login = await client.PostAsJsonAsync(InternalRoutes.Authenticate, new AuthenticateRequest(tenant.Id, email, password, null, null));
        return (await login.Content.ReadFromJsonAsync<AuthenticateResponse>())!.Outcome;
    }

    private async Task<string> InviteAsync(TestTenant tenant, HttpClient admin, string email, string token, object? groups = null)
    {
        var invitation = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/invitations", new { email, groups }), 201))["data"]!["id"]!.GetValue<string>();
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        var hash = TokenRedemptionEndpoints.HashOf(token);
        await db.Invitations.IgnoreQueryFilters().Where(i => i.Id == Guid.Parse(invitation)).ExecuteUpdateAsync(s => s.SetProperty(i => i.TokenHash, hash));
        return invitation;
    }

    /// <summary>Registers the address through the hosted sign-up (as someone who got there first would); the new user's id.</summary>
    private async Task<Guid> SelfRegisterAsync(TestTenant tenant, string email, string password)
    {
        using var client = factory.Internal();
        var created = await ApiAssert.OkAsync(await client.PostAsJsonAsync(InternalRoutes.RegisterUser, new RegisterUserRequest(tenant.Id, email, password, null)), 201);
        return Guid.Parse(created["userId"]!.GetValue<string>());
    }

    /// <summary>Provisions the user over SCIM, as an identity provider does: the address is never verified.</summary>
    private async Task<Guid> ScimUserAsync(TestTenant tenant, string email, string password)
    {
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", tenant.ApiKey);
        using var body = new StringContent(System.Text.Json.JsonSerializer.Serialize(new { userName = email, password }), System.Text.Encoding.UTF8, "application/scim+json");
        using var response = await client.PostAsync($"{tenant.Api}/scim/v2/Users", body);
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return Guid.Parse(System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!["id"]!.GetValue<string>());
    }

    /// <summary>The TOTP secret <see cref="SetUpEverythingAsync"/> enrolled, per user.</summary>
    private readonly Dictionary<Guid, string> _totpSecrets = [];

    /// <summary>A code of the user's TOTP app that has not been used yet (enrolment used the current one).</summary>
    private string NextTotpCode(Guid userId) =>
        new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(_totpSecrets[userId])).ComputeTotp(DateTime.UtcNow.AddSeconds(30));

    /// <summary>How many of each credential admin holds for the user (what someone who registered the address first may have set up).</summary>
    private sealed record Credentials(int Factors, int BackupCodes, int Passkeys, int PasswordHistory, int KnownDevicesAndNetworks)
    {
        public static readonly Credentials None = new(0, 0, 0, 0, 0);
    }

    private async Task<Credentials> CredentialsOfAsync(Guid userId)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        return new Credentials(
            await db.MfaFactors.IgnoreQueryFilters().CountAsync(f => f.UserId == userId),
            await db.BackupCodes.IgnoreQueryFilters().CountAsync(c => c.UserId == userId),
            await db.Passkeys.IgnoreQueryFilters().CountAsync(p => p.UserId == userId),
            await db.PasswordHistory.IgnoreQueryFilters().CountAsync(h => h.UserId == userId),
            await db.SignInTraits.IgnoreQueryFilters().CountAsync(t => t.UserId == userId));
    }

    /// <summary>
    /// Everything someone who registered the address first could set up: a sign-in from their browser (known to adaptive
    /// authentication), a TOTP app with its backup codes, a phone for texted codes, e-mailed codes, a passkey, an earlier password.
    /// </summary>
    private async Task<Credentials> SetUpEverythingAsync(TestTenant tenant, HttpClient admin, Guid userId, string email, string password)
    {
        using var client = factory.Internal();
        using (var signIn = await client.PostAsJsonAsync(InternalRoutes.Authenticate,
                   new AuthenticateRequest(tenant.Id, email, password, null, "198.51.100.7") { DeviceId = "squatters-browser" }))
        {
            Assert.Equal(AuthenticationOutcomes.Success, (await signIn.Content.ReadFromJsonAsync<AuthenticateResponse>())!.Outcome);
        }

        var secret = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{userId}/mfa/totp", null), 201))["data"]!["secret"]!.GetValue<string>();
        _totpSecrets[userId] = secret;
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/{userId}/mfa/totp/confirm",
            new { code = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret)).ComputeTotp() }));
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            var now = DateTimeOffset.UtcNow;
            db.MfaFactors.AddRange(
                new MfaFactor { Id = Guid.NewGuid(), TenantId = tenant.Id, UserId = userId, Type = MfaFactorTypes.Sms, ProtectedSecret = "phone", Confirmed = true, CreatedAt = now, ConfirmedAt = now },
                new MfaFactor { Id = Guid.NewGuid(), TenantId = tenant.Id, UserId = userId, Type = MfaFactorTypes.Email, Confirmed = true, CreatedAt = now, ConfirmedAt = now });
            db.Passkeys.Add(new PasskeyCredential
            {
                Id = Guid.NewGuid(), TenantId = tenant.Id, UserId = userId, CredentialId = Guid.NewGuid().ToByteArray(), PublicKey = [1, 2, 3],
                UserHandle = userId.ToByteArray(), CreatedAt = now,
            });
            db.PasswordHistory.Add(new PasswordHistoryEntry { Id = Guid.NewGuid(), TenantId = tenant.Id, UserId = userId, PasswordHash = "earlier", CreatedAt = now });
            await db.SaveChangesAsync();
        }

        var everything = await CredentialsOfAsync(userId);
        Assert.Equal(new Credentials(3, 10, 1, 1, 2), everything);
        return everything;
    }

    private async Task SetAsync(Guid userId, bool? emailVerified = null, DateTimeOffset? lockedUntil = null)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<AdminDbContext>().Users.IgnoreQueryFilters().Where(u => u.Id == userId);
        if (emailVerified is { } verified)
        {
            await users.ExecuteUpdateAsync(s => s.SetProperty(u => u.EmailVerified, verified));
        }

        await users.ExecuteUpdateAsync(s => s.SetProperty(u => u.LockedUntil, lockedUntil));
    }

    private async Task<bool> EmailVerifiedAsync(TestTenant tenant, HttpClient admin, Guid userId) =>
        (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}")))["data"]!["emailVerified"]!.GetValue<bool>();

    [Fact]
    public async Task MagicLink_FirstProofOfTheAddress_RemovesEverythingTheAccountGotBefore_AndSaysSo()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true } }));
        // Someone registered the owner's address first, with a password, factors and a passkey of their own; the address was never verified.
        var squatted = await SelfRegisterAsync(tenant, "owner@example.com", "squatter password 1");
        await SetUpEverythingAsync(tenant, admin, squatted, "owner@example.com", "squatter password 1");
        await factory.PlantMagicLinkAsync(tenant, squatted, "owner-link");
        // A verified account keeps all of it: it was set up by whoever reads the mailbox.
        var verified = await factory.CreateUserAsync(tenant, "verified@example.com", "own password 123");
        var kept = await SetUpEverythingAsync(tenant, admin, verified, "verified@example.com", "own password 123");
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{verified}", new { emailVerified = true }));
        await factory.PlantMagicLinkAsync(tenant, verified, "verified-link");
        using var client = factory.Internal();

        // The owner is not asked for the squatter's second factor: the link signs in alone, and all of it goes.
        var signIn = await SignInWithLinkAsync(client, tenant, "owner-link");
        Assert.Equal(AuthenticationOutcomes.Success, signIn.Outcome);
        Assert.Equal(["email"], signIn.AuthenticationMethods);
        Assert.True(signIn.UnprovenCredentialsRemoved);
        Assert.Equal(Credentials.None, await CredentialsOfAsync(squatted));
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, await AuthenticateAsync(client, tenant, "owner@example.com", "squatter password 1"));
        Assert.True(await EmailVerifiedAsync(tenant, admin, squatted));
        // An MFA reset as far as others know: the token service forgets the trusted browsers, the audit log and webhooks say so.
        await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_mfa_reset&targetId={squatted}")))["data"]!.AsArray().FirstOrDefault());
        // The event the token service ends the earlier sessions and grants from, committed with the removal.
        await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_unproven_credentials_removed&targetId={squatted}")))["data"]!.AsArray().FirstOrDefault());

        var asked = await SignInWithLinkAsync(client, tenant, "verified-link");
        Assert.Equal(AuthenticationOutcomes.MfaRequired, asked.Outcome);
        Assert.False(asked.UnprovenCredentialsRemoved);
        Assert.Equal(kept, await CredentialsOfAsync(verified));
    }

    [Fact]
    public async Task MagicLink_FirstProofRefused_RemovesNothing_AndTheLinkStillWorks()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true } }));
        var id = await SelfRegisterAsync(tenant, "refused@example.com", "squatter password 1");
        var everything = await SetUpEverythingAsync(tenant, admin, id, "refused@example.com", "squatter password 1");
        await factory.PlantMagicLinkAsync(tenant, id, "refused-link");
        using var client = factory.Internal();

        // Locked (by guesses at the password): refused as any sign-in, and nothing changes.
        await SetAsync(id, lockedUntil: DateTimeOffset.UtcNow.AddMinutes(10));
        Assert.Equal(AuthenticationOutcomes.Locked, (await SignInWithLinkAsync(client, tenant, "refused-link")).Outcome);
        Assert.Equal(everything, await CredentialsOfAsync(id));
        Assert.False(await EmailVerifiedAsync(tenant, admin, id));
        await SetAsync(id, lockedUntil: null);

        // A tenant that requires a second factor makes the owner enrol first (on the password sign-in, after a reset): the link
        // is not a sign-in yet, so nothing goes.
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { required = true, gracePeriodDays = 0 } }));
        Assert.Equal(AuthenticationOutcomes.MfaEnrollmentRequired, (await SignInWithLinkAsync(client, tenant, "refused-link")).Outcome);
        Assert.Equal(everything, await CredentialsOfAsync(id));
        Assert.False(await EmailVerifiedAsync(tenant, admin, id));

        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { required = false } }));
        var signIn = await SignInWithLinkAsync(client, tenant, "refused-link");
        Assert.Equal(AuthenticationOutcomes.Success, signIn.Outcome);
        Assert.True(signIn.UnprovenCredentialsRemoved);
        Assert.Equal(Credentials.None, await CredentialsOfAsync(id));
    }

    [Fact]
    public async Task MagicLink_AddressProvenWhileTheLinkWasChecked_AsksForTheSecondStep_AndRemovesNothing()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true } }));
        var id = await SelfRegisterAsync(tenant, "racing@example.com", "own password 123");
        var everything = await SetUpEverythingAsync(tenant, admin, id, "racing@example.com", "own password 123");
        await factory.PlantMagicLinkAsync(tenant, id, "racing-link");
        using var client = factory.Internal();

        // The sign-in reads the unverified account; a verification link lands before its transaction holds the row.
        await using var scope = factory.Services.CreateAsyncScope();
        var holder = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        var transaction = await holder.Database.BeginTransactionAsync();
        await holder.Database.ExecuteSqlAsync($"SELECT 1 FROM users WHERE \"Id\" = {id} FOR NO KEY UPDATE");
        var signingIn = SignInWithLinkAsync(client, tenant, "racing-link");
        await factory.WaitForLockWaitersAsync("%\"LockedUntil\"%");
        await holder.Database.ExecuteSqlAsync($"UPDATE users SET \"EmailVerified\" = true, \"SelfRegisteredUnproven\" = false WHERE \"Id\" = {id}");
        await transaction.CommitAsync();

        var signIn = await signingIn;
        Assert.Equal(AuthenticationOutcomes.MfaRequired, signIn.Outcome);
        Assert.Equal("totp", signIn.MfaMethod);
        Assert.Equal(everything, await CredentialsOfAsync(id));
    }

    /// <summary>
    /// Accounts an identity provider (SCIM) or an admin made are unverified too, but what they have was vouched for by
    /// whoever made them: a sign-in link asks for their second step as for any account, and removes nothing; it only
    /// verifies the address once the sign-in succeeds.
    /// </summary>
    [Fact]
    public async Task MagicLink_ScimOrAdminMadeAccount_UnverifiedAddress_StillAsksForTheSecondStep_AndRemovesNothing()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true } }));
        var provisioned = await ScimUserAsync(tenant, "provisioned@example.com", "own password 123");
        var adminMade = await factory.CreateUserAsync(tenant, "admin-made@example.com", "own password 123");
        using var client = factory.Internal();

        foreach (var (id, email) in new[] { (provisioned, "provisioned@example.com"), (adminMade, "admin-made@example.com") })
        {
            var kept = await SetUpEverythingAsync(tenant, admin, id, email, "own password 123");
            Assert.False(await EmailVerifiedAsync(tenant, admin, id));
            await factory.PlantMagicLinkAsync(tenant, id, $"link-{id}");

            var asked = await SignInWithLinkAsync(client, tenant, $"link-{id}");
            Assert.Equal(AuthenticationOutcomes.MfaRequired, asked.Outcome);
            Assert.Equal("totp", asked.MfaMethod);
            var wrong = await SignInWithLinkAsync(client, tenant, $"link-{id}", "12345x");
            Assert.Equal(AuthenticationOutcomes.MfaInvalid, wrong.Outcome);
            Assert.Equal(kept, await CredentialsOfAsync(id));
            Assert.False(await EmailVerifiedAsync(tenant, admin, id));

            var signIn = await SignInWithLinkAsync(client, tenant, $"link-{id}", NextTotpCode(id));
            Assert.Equal(AuthenticationOutcomes.Success, signIn.Outcome);
            Assert.Contains("mfa", signIn.AuthenticationMethods);
            Assert.False(signIn.UnprovenCredentialsRemoved);
            Assert.Equal(kept, await CredentialsOfAsync(id));
            Assert.True(await EmailVerifiedAsync(tenant, admin, id));
            Assert.Equal(AuthenticationOutcomes.MfaRequired, await AuthenticateAsync(client, tenant, email, "own password 123"));
        }
    }

    /// <summary>A self-registration proven once (here by its first link) is vouched for: a later unverified address (changed by an admin) removes nothing.</summary>
    [Fact]
    public async Task MagicLink_SelfRegistrationProvenBefore_AddressUnverifiedAgain_KeepsWhatWasSetUpSince()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true } }));
        var id = await SelfRegisterAsync(tenant, "proven@example.com", "own password 123");
        await factory.PlantMagicLinkAsync(tenant, id, "first-link");
        using var client = factory.Internal();
        Assert.True((await SignInWithLinkAsync(client, tenant, "first-link")).UnprovenCredentialsRemoved);

        // The owner sets up their own TOTP app, then the address becomes unverified again (as an address change makes it).
        var secret = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{id}/mfa/totp", null), 201))["data"]!["secret"]!.GetValue<string>();
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/{id}/mfa/totp/confirm",
            new { code = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret)).ComputeTotp() }));
        var kept = await CredentialsOfAsync(id);
        Assert.Equal((1, 10), (kept.Factors, kept.BackupCodes));
        await SetAsync(id, emailVerified: false);
        await factory.PlantMagicLinkAsync(tenant, id, "later-link");
        var asked = await SignInWithLinkAsync(client, tenant, "later-link");
        Assert.Equal(AuthenticationOutcomes.MfaRequired, asked.Outcome);
        Assert.Equal("totp", asked.MfaMethod);
        Assert.Equal(kept, await CredentialsOfAsync(id));
    }

    [Fact]
    public async Task PasswordReset_FirstProofOfTheAddress_RemovesEverythingButTheNewPassword_AndSaysSo()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var squatted = await SelfRegisterAsync(tenant, "reset-owner@example.com", "squatter password 1");
        var everything = await SetUpEverythingAsync(tenant, admin, squatted, "reset-owner@example.com", "squatter password 1");
        using var client = factory.Internal();

        // A password the policy refuses changes nothing, and the link still works.
        await factory.PlantResetTokenAsync(tenant, squatted, "owner-reset", TimeSpan.FromHours(1));
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "owner-reset", "short")), 400, "validation_error");
        Assert.Equal(everything, await CredentialsOfAsync(squatted));
        Assert.False(await EmailVerifiedAsync(tenant, admin, squatted));

        var reset = await ApiAssert.OkAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "owner-reset", "owners own password 1")));
        Assert.True(reset["data"]!["unprovenCredentialsRemoved"]!.GetValue<bool>());
        Assert.Equal(Credentials.None, await CredentialsOfAsync(squatted));
        Assert.True(await EmailVerifiedAsync(tenant, admin, squatted));
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, await AuthenticateAsync(client, tenant, "reset-owner@example.com", "squatter password 1"));
        using (var login = await client.PostAsJsonAsync(InternalRoutes.Authenticate,
                   new AuthenticateRequest(tenant.Id, "reset-owner@example.com", "owners own password 1", null, null)))
        {
            var verdict = (await login.Content.ReadFromJsonAsync<AuthenticateResponse>())!;
            Assert.Equal(AuthenticationOutcomes.Success, verdict.Outcome);
            Assert.Equal(["pwd"], verdict.AuthenticationMethods);
        }

        // A proven address keeps its factors through a reset.
        var verified = await factory.CreateUserAsync(tenant, "reset-verified@example.com", "own password 123");
        var kept = await SetUpEverythingAsync(tenant, admin, verified, "reset-verified@example.com", "own password 123");
        await SetAsync(verified, emailVerified: true);
        await factory.PlantResetTokenAsync(tenant, verified, "verified-reset", TimeSpan.FromHours(1));
        var keptReset = await ApiAssert.OkAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "verified-reset", "a new password 123")));
        Assert.False(keptReset["data"]!["unprovenCredentialsRemoved"]!.GetValue<bool>());
        Assert.Equal(kept with { PasswordHistory = kept.PasswordHistory + 1 }, await CredentialsOfAsync(verified));
        Assert.Equal(AuthenticationOutcomes.MfaRequired, await AuthenticateAsync(client, tenant, "reset-verified@example.com", "a new password 123"));

        // An account an admin made, never verified: its factors are the owner's (the admin vouched for them), so the reset
        // proves the address and keeps them, and the second step is still asked for.
        var adminMade = await factory.CreateUserAsync(tenant, "reset-admin-made@example.com", "own password 123");
        var adminMadeKept = await SetUpEverythingAsync(tenant, admin, adminMade, "reset-admin-made@example.com", "own password 123");
        await factory.PlantResetTokenAsync(tenant, adminMade, "admin-made-reset", TimeSpan.FromHours(1));
        var adminMadeReset = await ApiAssert.OkAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "admin-made-reset", "a new password 123")));
        Assert.False(adminMadeReset["data"]!["unprovenCredentialsRemoved"]!.GetValue<bool>());
        Assert.Equal(adminMadeKept with { PasswordHistory = adminMadeKept.PasswordHistory + 1 }, await CredentialsOfAsync(adminMade));
        Assert.True(await EmailVerifiedAsync(tenant, admin, adminMade));
        Assert.Equal(AuthenticationOutcomes.MfaRequired, await AuthenticateAsync(client, tenant, "reset-admin-made@example.com", "a new password 123"));

        // An account made without a password and nothing else set up: the reset proves the address, and removes nothing.
        var bare = await factory.CreateUserAsync(tenant, "reset-bare@example.com");
        await factory.PlantResetTokenAsync(tenant, bare, "bare-reset", TimeSpan.FromHours(1));
        var bareReset = await ApiAssert.OkAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "bare-reset", "a first password 1")));
        Assert.False(bareReset["data"]!["unprovenCredentialsRemoved"]!.GetValue<bool>());
        Assert.True(await EmailVerifiedAsync(tenant, admin, bare));
    }

    [Fact]
    public async Task PasswordReset_SubmittedTwiceAtOnce_SetsOnePassword()
    {
        var tenant = await factory.CreateTenantAsync();
        var id = await factory.CreateUserAsync(tenant, "twice@example.com", "old password 123");
        await factory.PlantResetTokenAsync(tenant, id, "twice-token", TimeSpan.FromHours(1));
        using var client = factory.Internal();

        var submissions = await Task.WhenAll(Enumerable.Range(0, 6).Select(async i =>
        {
            using var response = await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
                new CompletePasswordResetRequest(tenant.Id, "twice-token", $"racing password {i}x"));
            return (int)response.StatusCode;
        }));
        Assert.Equal(1, submissions.Count(status => status == 200));
        Assert.All(submissions.Where(status => status != 200), status => Assert.Equal(400, status));
    }

    [Fact]
    public async Task PasswordChange_OnEveryPath_EndsTheOtherResetAndSignInLinks()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true } }));
        var id = await factory.CreateUserAsync(tenant, "links@example.com", "old password 123");
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { emailVerified = true }));
        using var client = factory.Internal();

        // A reset completed with one link ends the other reset link and the sign-in link.
        await factory.PlantResetTokenAsync(tenant, id, "used-reset", TimeSpan.FromHours(1));
        await factory.PlantResetTokenAsync(tenant, id, "other-reset", TimeSpan.FromHours(1));
        await factory.PlantMagicLinkAsync(tenant, id, "other-link");
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "used-reset", "brand new password 1")));
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "other-reset", "attacker password 1")), 400, "invalid_token");
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, (await SignInWithLinkAsync(client, tenant, "other-link")).Outcome);

        // So does an administrator's.
        await factory.PlantResetTokenAsync(tenant, id, "before-admin-set", TimeSpan.FromHours(1));
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/password", new { password = "set by admin 123" }));
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "before-admin-set", "attacker password 2")), 400, "invalid_token");
        Assert.Equal(AuthenticationOutcomes.Success, await AuthenticateAsync(client, tenant, "links@example.com", "set by admin 123"));
    }

    [Fact]
    public async Task AddressChange_EndsTheLinksAndCodesMailedToTheOldAddress()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true } }));
        var id = await factory.CreateUserAsync(tenant, "moving@example.com", "old password 123");
        await factory.PlantResetTokenAsync(tenant, id, "old-address-reset", TimeSpan.FromHours(1));
        await factory.PlantMagicLinkAsync(tenant, id, "old-address-link");
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            db.SignInCodes.Add(new SignInCode
            {
                Id = Guid.NewGuid(), TenantId = tenant.Id, UserId = id, TokenHash = SecondStepCodes.HashOf(Guid.Empty, "123456"),
                CreatedAt = DateTimeOffset.UtcNow, ExpiresAt = DateTimeOffset.UtcNow.AddMinutes(10),
            });
            await db.SaveChangesAsync();
        }

        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { email = "moved@example.com" }));

        using var client = factory.Internal();
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.CompletePasswordReset,
            new CompletePasswordResetRequest(tenant.Id, "old-address-reset", "attacker password 1")), 400, "invalid_token");
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, (await SignInWithLinkAsync(client, tenant, "old-address-link")).Outcome);
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            Assert.False(await db.SignInCodes.IgnoreQueryFilters().AnyAsync(c => c.UserId == id && c.UsedAt == null));
        }
    }

    [Fact]
    public async Task Invitation_RevokedAfterItsLinkWasRead_IsRefused_AndCreatesNobody()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var invitation = await InviteAsync(tenant, admin, "revoked@example.com", "revoked-token");
        using var client = factory.Internal();

        // The acceptance reads the pending invitation; the revocation lands before the account is created.
        await using var scope = factory.Services.CreateAsyncScope();
        var holder = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        var transaction = await holder.Database.BeginTransactionAsync();
        await holder.Database.ExecuteSqlAsync($"SELECT 1 FROM invitations WHERE \"Id\" = {Guid.Parse(invitation)} FOR NO KEY UPDATE");
        var accepting = client.PostAsJsonAsync(TokenRedemptionEndpoints.AcceptInvitation, new AcceptInvitationRequest(tenant.Id, "revoked-token", "a good password 1", "Revoked"));
        await factory.WaitForLockWaitersAsync("%UPDATE%invitations%");
        await holder.Database.ExecuteSqlAsync($"UPDATE invitations SET \"Status\" = 'revoked' WHERE \"Id\" = {Guid.Parse(invitation)}");
        await transaction.CommitAsync();

        using var accepted = await accepting;
        await ApiAssert.ErrorAsync(accepted, 400, "invalid_token");
        var users = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users?search=revoked%40example.com"));
        Assert.Equal(0, users["meta"]!["total"]!.GetValue<long>());
    }

    [Fact]
    public async Task Invitation_NamingAGroupDeletedSince_IsStillAccepted_IntoTheOtherGroups()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var kept = await factory.CreateGroupAsync(tenant, "Kept");
        var deleted = await factory.CreateGroupAsync(tenant, "Deleted");
        await InviteAsync(tenant, admin, "grouped@example.com", "grouped-token", new[] { kept.ToString(), deleted.ToString() });
        using (var gone = await admin.DeleteAsync($"{tenant.Api}/admin/groups/{deleted}"))
        {
            Assert.True(gone.IsSuccessStatusCode);
        }

        using var client = factory.Internal();
        var userId = (await ApiAssert.OkAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.AcceptInvitation,
            new AcceptInvitationRequest(tenant.Id, "grouped-token", "a good password 1", "Grouped")), 201))["data"]!["userId"]!.GetValue<string>();
        var user = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}")))["data"]!;
        Assert.Equal([kept.ToString()], user["groups"]!.AsArray().Select(g => g!["id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task PasswordReset_Completes_Once_WithThePolicy()
    {
        var tenant = await factory.CreateTenantAsync();
        var id = await factory.CreateUserAsync(tenant, "forgot@example.com", "old password 123");
        await factory.PlantResetTokenAsync(tenant, id, "reset-token-1", TimeSpan.FromHours(1));
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
        await factory.PlantResetTokenAsync(tenant, id, "expired-token", TimeSpan.FromSeconds(-1));
        await factory.PlantResetTokenAsync(tenant, id, "valid-token", TimeSpan.FromHours(1));
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
