using System.Net.Http.Json;
using System.Text.RegularExpressions;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Email;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// Sign-in codes by e-mail as the second step (FEATURES "SMS and email OTP challenges work as second factors", the email
/// half): mailed through a real SMTP conversation, six digits, one use, only the newest, five wrong guesses end a code,
/// and only where the tenant allows the method and the address is verified.
/// </summary>
public sealed partial class EmailCodeTests(EmailAdminFixture fixture) : IClassFixture<EmailAdminFixture>
{
    private const string Password = "correct horse battery 1";

    private AdminFactory Factory => fixture.Admin;

    [Fact]
    public async Task EmailCodes_TurnedOnByTheUser_MailACodeThatCompletesTheSignInOnce()
    {
        var (tenant, userId, address) = await UserAsync(allowEmail: true, verified: true);
        var backupCodes = await TurnOnAsync(tenant, userId, expectedStatus: 201);
        Assert.Equal(10, backupCodes!.Count);

        var asked = await LoginAsync(tenant, address, code: null);
        Assert.Equal(AuthenticationOutcomes.MfaRequired, asked.Outcome);
        Assert.Equal("email", asked.MfaMethod);
        Assert.Equal($"c•••@{tenant.Slug}.example.com", asked.MfaCodeHint);
        var code = await CodeMailedToAsync(address, 1);

        var wrong = await LoginAsync(tenant, address, code == "000000" ? "000001" : "000000");
        Assert.Equal(AuthenticationOutcomes.MfaInvalid, wrong.Outcome);
        Assert.Equal("email", wrong.MfaMethod);
        // The mail's transaction stores the code's hash: it works a moment after the mail arrived.
        var signedIn = await ApiAssert.EventuallyAsync(async () =>
            await LoginAsync(tenant, address, code) is { Outcome: AuthenticationOutcomes.Success } success ? success : null);
        Assert.Equal(["pwd", "otp", "mfa"], signedIn.AuthenticationMethods);
        Assert.Equal(userId, signedIn.UserId);

        Assert.Equal(AuthenticationOutcomes.MfaInvalid, (await LoginAsync(tenant, address, code)).Outcome);
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant, address, backupCodes[0])).Outcome);

        // Turned off, sign-ins take the password alone again; turning off twice finds nothing.
        using var client = Factory.Internal();
        using (var turnedOff = await client.DeleteAsync(MfaRoutes.EmailCodes(userId, tenant.Id)))
        {
            Assert.Equal(System.Net.HttpStatusCode.NoContent, turnedOff.StatusCode);
        }

        await ApiAssert.ErrorAsync(await client.DeleteAsync(MfaRoutes.EmailCodes(userId, tenant.Id)), 404, "resource_not_found");
        Assert.Equal(["pwd"], (await LoginAsync(tenant, address, null)).AuthenticationMethods);
    }

    [Fact]
    public async Task OnlyTheNewestCodeWorks_ANewOneIsMailedAtMostEvery30Seconds_AndFiveWrongGuessesEndIt()
    {
        var (tenant, userId, address) = await UserAsync(allowEmail: true, verified: true);
        await TurnOnAsync(tenant, userId, expectedStatus: 201);
        await LoginAsync(tenant, address, null);
        var first = await CodeMailedToAsync(address, 1);
        await LoginAsync(tenant, address, null);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Single(fixture.Smtp.To(address, EmailKinds.MfaCode));

        // A code asked for after 30 seconds replaces the first (the test moves the first code's send time back).
        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AdminDbContext>().SignInCodes.IgnoreQueryFilters().Where(c => c.UserId == userId)
                .ExecuteUpdateAsync(s => s.SetProperty(c => c.CreatedAt, c => c.CreatedAt.AddSeconds(-31)));
        }

        await LoginAsync(tenant, address, null);
        var second = await CodeMailedToAsync(address, 2);
        if (first != second)
        {
            Assert.Equal(AuthenticationOutcomes.MfaInvalid, (await LoginAsync(tenant, address, first)).Outcome);
        }

        for (var guess = 0; guess < 5; guess++)
        {
            var wrong = ((int.Parse(second, System.Globalization.CultureInfo.InvariantCulture) + 1 + guess) % 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(AuthenticationOutcomes.MfaInvalid, (await LoginAsync(tenant, address, wrong)).Outcome);
        }

        // The fifth wrong guess ended the code (the tenant here locks accounts only after 20 failures).
        Assert.Equal(AuthenticationOutcomes.MfaInvalid, (await LoginAsync(tenant, address, second)).Outcome);
        await using var check = Factory.Services.CreateAsyncScope();
        var newest = await check.ServiceProvider.GetRequiredService<AdminDbContext>().SignInCodes.IgnoreQueryFilters().AsNoTracking()
            .Where(c => c.UserId == userId).OrderByDescending(c => c.CreatedAt).FirstAsync();
        Assert.Equal(5, newest.FailedAttempts);
        Assert.True(newest.ExpiresAt <= DateTimeOffset.UtcNow);
        Assert.Null(newest.UsedAt);
    }

    /// <summary>
    /// Guesses at the password from elsewhere lock the account while a sign-in with the right password and code is on its way
    /// (the test holds the user's row, and locks the account before letting go): that sign-in is refused, and the code it
    /// carried — a mailed one, a backup code — still works once the lock is over. A wrong code still counts, against the
    /// code and towards the lockout.
    /// </summary>
    [Fact]
    public async Task AccountLockedWhileTheCodeWasOnItsWay_KeepsTheCode_AndAWrongCodeStillCounts()
    {
        var (tenant, userId, address) = await UserAsync(allowEmail: true, verified: true);
        var backupCodes = await TurnOnAsync(tenant, userId, expectedStatus: 201);
        Assert.Equal(AuthenticationOutcomes.MfaRequired, (await LoginAsync(tenant, address, null)).Outcome);
        var code = await CodeMailedToAsync(address, 1);
        await ApiAssert.EventuallyAsync(async () => await CurrentCodeAsync(userId) is { } row
            && Features.Credentials.SecondStepCodes.HashOf(row.Id, code).SequenceEqual(row.TokenHash) ? row : null);

        foreach (var carried in new[] { code, backupCodes![0] })
        {
            await using (var scope = Factory.Services.CreateAsyncScope())
            {
                var holder = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
                await using var transaction = await holder.Database.BeginTransactionAsync();
                await holder.Database.ExecuteSqlAsync($"SELECT 1 FROM users WHERE \"Id\" = {userId} FOR NO KEY UPDATE");
                var signingIn = LoginAsync(tenant, address, carried);
                await Factory.WaitForLockWaitersAsync("%\"LockedUntil\"%");
                var lockedUntil = DateTimeOffset.UtcNow.AddMinutes(10);
                await holder.Database.ExecuteSqlAsync($"UPDATE users SET \"LockedUntil\" = {lockedUntil} WHERE \"Id\" = {userId}");
                await transaction.CommitAsync();
                Assert.Equal(AuthenticationOutcomes.Locked, (await signingIn).Outcome);
            }

            await using (var scope = Factory.Services.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<AdminDbContext>().Users.IgnoreQueryFilters().Where(u => u.Id == userId)
                    .ExecuteUpdateAsync(s => s.SetProperty(u => u.LockedUntil, (DateTimeOffset?)null));
            }
        }

        var untouched = (await CurrentCodeAsync(userId))!;
        Assert.Equal((0, null), (untouched.FailedAttempts, untouched.UsedAt));

        var wrong = await LoginAsync(tenant, address, code == "000000" ? "000001" : "000000");
        Assert.Equal(AuthenticationOutcomes.MfaInvalid, wrong.Outcome);
        Assert.Equal(1, (await CurrentCodeAsync(userId))!.FailedAttempts);
        Assert.Equal(1, await FailedLoginCountAsync(userId));

        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant, address, code)).Outcome);
        Assert.Equal(0, await FailedLoginCountAsync(userId));
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant, address, backupCodes[0])).Outcome);
    }

    /// <summary>
    /// Wrong codes sent together (queued here behind the test's hold on the user's row) stop being checked at the lockout:
    /// each failure is counted, and the lock set, before the next guess gets the row. A mailed code keeps count of the
    /// guesses checked against it, so it shows that no more than the threshold were.
    /// </summary>
    [Fact]
    public async Task ParallelWrongCodes_AreCheckedNoMoreThanTheLockoutAllows()
    {
        var (tenant, userId, address) = await UserAsync(allowEmail: true, verified: true);
        await TurnOnAsync(tenant, userId, expectedStatus: 201);
        using (var admin = Factory.ClientFor(tenant))
        {
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { maxFailedAttempts = 3, lockoutDuration = 600 } }));
        }

        Assert.Equal(AuthenticationOutcomes.MfaRequired, (await LoginAsync(tenant, address, null)).Outcome);
        var code = await CodeMailedToAsync(address, 1);
        await ApiAssert.EventuallyAsync(async () => await CurrentCodeAsync(userId) is { } row
            && Features.Credentials.SecondStepCodes.HashOf(row.Id, code).SequenceEqual(row.TokenHash) ? row : null);
        var wrong = code == "000000" ? "000001" : "000000";

        List<Task<AuthenticateResponse>> guesses;
        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            var holder = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            await using var transaction = await holder.Database.BeginTransactionAsync();
            await holder.Database.ExecuteSqlAsync($"SELECT 1 FROM users WHERE \"Id\" = {userId} FOR NO KEY UPDATE");
            guesses = Enumerable.Range(0, 8).Select(_ => LoginAsync(tenant, address, wrong)).ToList();
            await Factory.WaitForLockWaitersAsync("%\"LockedUntil\"%", 8);
            await transaction.RollbackAsync();
        }

        var outcomes = (await Task.WhenAll(guesses)).Select(r => r.Outcome).ToList();
        Assert.Equal(2, outcomes.Count(o => o == AuthenticationOutcomes.MfaInvalid));
        Assert.Equal(6, outcomes.Count(o => o == AuthenticationOutcomes.Locked));
        Assert.Equal(3, (await CurrentCodeAsync(userId))!.FailedAttempts);
        // Locked: the right code is refused too, and not used up.
        Assert.Equal(AuthenticationOutcomes.Locked, (await LoginAsync(tenant, address, code)).Outcome);
        Assert.Null((await CurrentCodeAsync(userId))!.UsedAt);
    }

    /// <summary>
    /// A code mailed to the address of a self-registered account, entered after its password, shows that whoever reads the
    /// mailbox holds the password: the account counts as vouched for from then on (a later sign-in link removes nothing).
    /// </summary>
    [Fact]
    public async Task AMailedCode_VouchesForASelfRegistration_ButABackupCodeDoesNot()
    {
        var (tenant, userId, address) = await UserAsync(allowEmail: true, verified: true);
        var backupCodes = await TurnOnAsync(tenant, userId, expectedStatus: 201);
        await SetSelfRegisteredAsync(userId, true);

        Assert.Equal(AuthenticationOutcomes.MfaRequired, (await LoginAsync(tenant, address, null)).Outcome);
        var code = await CodeMailedToAsync(address, 1);
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant, address, backupCodes![0])).Outcome);
        Assert.True(await SelfRegisteredAsync(userId));

        var signedIn = await ApiAssert.EventuallyAsync(async () =>
            await LoginAsync(tenant, address, code) is { Outcome: AuthenticationOutcomes.Success } success ? success : null);
        Assert.Contains("mfa", signedIn.AuthenticationMethods);
        Assert.False(await SelfRegisteredAsync(userId));
    }

    private async Task SetSelfRegisteredAsync(Guid userId, bool value)
    {
        await using var scope = Factory.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<AdminDbContext>().Users.IgnoreQueryFilters().Where(u => u.Id == userId)
            .ExecuteUpdateAsync(s => s.SetProperty(u => u.SelfRegisteredUnproven, value));
    }

    private async Task<bool> SelfRegisteredAsync(Guid userId)
    {
        await using var scope = Factory.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<AdminDbContext>().Users.IgnoreQueryFilters()
            .Where(u => u.Id == userId).Select(u => u.SelfRegisteredUnproven).SingleAsync();
    }

    /// <summary>The user's newest sign-in code (used or not).</summary>
    private async Task<SignInCode?> CurrentCodeAsync(Guid userId)
    {
        await using var scope = Factory.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<AdminDbContext>().SignInCodes.IgnoreQueryFilters().AsNoTracking()
            .Where(c => c.UserId == userId).OrderByDescending(c => c.CreatedAt).FirstOrDefaultAsync();
    }

    private async Task<int> FailedLoginCountAsync(Guid userId)
    {
        await using var scope = Factory.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<AdminDbContext>().Users.IgnoreQueryFilters()
            .Where(u => u.Id == userId).Select(u => u.FailedLoginCount).SingleAsync();
    }

    [Fact]
    public async Task ACode_PastItsTenMinutes_NoLongerSignsIn()
    {
        var (tenant, userId, address) = await UserAsync(allowEmail: true, verified: true, required: true);
        await LoginAsync(tenant, address, null);
        var code = await CodeMailedToAsync(address, 1);
        // Wait until the mail's transaction has stored the code's hash, then move its expiry into the past.
        await ApiAssert.EventuallyAsync(async () =>
        {
            await using var scope = Factory.Services.CreateAsyncScope();
            var row = await scope.ServiceProvider.GetRequiredService<AdminDbContext>().SignInCodes.IgnoreQueryFilters().AsNoTracking()
                .SingleAsync(c => c.UserId == userId);
            return Features.Credentials.SecondStepCodes.HashOf(row.Id, code).SequenceEqual(row.TokenHash) ? row : null;
        });
        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AdminDbContext>().SignInCodes.IgnoreQueryFilters().Where(c => c.UserId == userId)
                .ExecuteUpdateAsync(s => s.SetProperty(c => c.ExpiresAt, DateTimeOffset.UtcNow.AddSeconds(-1)));
        }

        var expired = await LoginAsync(tenant, address, code);

        Assert.Equal(AuthenticationOutcomes.MfaInvalid, expired.Outcome);
        Assert.Equal("email", expired.MfaMethod);
    }

    [Fact]
    public async Task UserWithAnAppAndEmailCodes_MayAskForAMailedCodeInstead_AndBack()
    {
        var (tenant, userId, address) = await UserAsync(allowEmail: true, verified: true);
        using var admin = Factory.ClientFor(tenant);
        var secret = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{userId}/mfa/totp", null), 201))["data"]!["secret"]!.GetValue<string>();
        var totp = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret));
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/{userId}/mfa/totp/confirm", new { code = totp.ComputeTotp() }));
        await TurnOnAsync(tenant, userId, expectedStatus: 201);

        var app = await LoginAsync(tenant, address, null);
        Assert.Equal(("totp", "email"), (app.MfaMethod, app.MfaOtherMethod));
        Assert.Empty(fixture.Smtp.To(address, EmailKinds.MfaCode));

        var mailed = await LoginAsync(tenant, address, null, method: "email");
        Assert.Equal(("email", "totp"), (mailed.MfaMethod, mailed.MfaOtherMethod));
        var code = await CodeMailedToAsync(address, 1);
        // The app's code is not what this step asks for; the mailed one is.
        Assert.Equal(AuthenticationOutcomes.MfaInvalid, (await LoginAsync(tenant, address, totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30)), method: "email")).Outcome);
        var signedIn = await ApiAssert.EventuallyAsync(async () =>
            await LoginAsync(tenant, address, code, method: "email") is { Outcome: AuthenticationOutcomes.Success } success ? success : null);
        Assert.Contains("mfa", signedIn.AuthenticationMethods);
    }

    [Fact]
    public async Task RequiredTwoStep_WithEmailAllowed_MailsACodeWithoutAnyEnrolment()
    {
        var (tenant, _, address) = await UserAsync(allowEmail: true, verified: true, required: true);

        var asked = await LoginAsync(tenant, address, null);

        Assert.Equal(AuthenticationOutcomes.MfaRequired, asked.Outcome);
        Assert.Equal("email", asked.MfaMethod);
        Assert.Null(asked.TotpEnrolment);
        var code = await CodeMailedToAsync(address, 1);
        var signedIn = await ApiAssert.EventuallyAsync(async () =>
            await LoginAsync(tenant, address, code) is { Outcome: AuthenticationOutcomes.Success } success ? success : null);
        Assert.Contains("mfa", signedIn.AuthenticationMethods);
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public async Task EmailCodes_AreNotAvailable_WithoutTheMethodOrAVerifiedAddress(bool allowEmail, bool verified)
    {
        var (tenant, userId, address) = await UserAsync(allowEmail, verified, required: true);

        await TurnOnAsync(tenant, userId, expectedStatus: 400);

        // Required two-step verification then falls back to enrolling an authenticator app; no mail is sent.
        var asked = await LoginAsync(tenant, address, null);
        Assert.Equal(AuthenticationOutcomes.MfaEnrollmentRequired, asked.Outcome);
        Assert.NotNull(asked.TotpEnrolment);
        Assert.Empty(fixture.Smtp.To(address, EmailKinds.MfaCode));
    }

    [Fact]
    public async Task RequiredTwoStep_WithNoMethodThatCanBeSetUpAtSignIn_RefusesWithoutAnOffer()
    {
        var (tenant, _, address) = await UserAsync(allowEmail: false, verified: true, required: true, methods: ["webauthn"]);

        var asked = await LoginAsync(tenant, address, null);

        Assert.Equal(AuthenticationOutcomes.MfaEnrollmentRequired, asked.Outcome);
        Assert.Null(asked.TotpEnrolment);
    }

    [Fact]
    public async Task EmailCodes_OfAnotherTenantsUser_CannotBeTurnedOnOrOff()
    {
        var (tenant, userId, _) = await UserAsync(allowEmail: true, verified: true);
        var (other, _, _) = await UserAsync(allowEmail: true, verified: true);
        using var client = Factory.Internal();

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(MfaRoutes.EmailCodes(userId, other.Id), new { }), 404, "resource_not_found");
        await TurnOnAsync(tenant, userId, expectedStatus: 201);
        await ApiAssert.ErrorAsync(await client.DeleteAsync(MfaRoutes.EmailCodes(userId, other.Id)), 404, "resource_not_found");
        // Turning on again changes nothing and shows no new backup codes.
        Assert.Null(await TurnOnAsync(tenant, userId, expectedStatus: 200));
    }

    private async Task<(TestTenant Tenant, Guid UserId, string Address)> UserAsync(
        bool allowEmail, bool verified, bool required = false, string[]? methods = null)
    {
        var tenant = await Factory.CreateTenantAsync();
        var address = $"code@{tenant.Slug}.example.com";
        using var admin = Factory.ClientFor(tenant);
        using var created = await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = address, password = Password, emailVerified = verified });
        var userId = Guid.Parse((await ApiAssert.OkAsync(created, 201))["data"]!["id"]!.GetValue<string>());
        var allowed = methods ?? (allowEmail ? ["totp", "email"] : ["totp"]);
        var storable = !required || allowed.Contains("totp");
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings",
            new { mfaPolicy = new { required, allowedMethods = storable ? allowed : ["totp"], gracePeriodDays = 0 }, loginPolicy = new { maxFailedAttempts = 20 } }));
        if (!storable)
        {
            // The settings API refuses required MFA without TOTP now; a tenant may have stored it before.
            await using var scope = Factory.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            var settings = await LumoAuth.Admin.Features.Settings.TenantSettings.LoadAsync(db, tenant.Id, CancellationToken.None);
            settings.MfaPolicy.AllowedMethods = [.. allowed];
            await db.Tenants.Where(t => t.Id == tenant.Id).ExecuteUpdateAsync(u => u.SetProperty(t => t.Settings, settings.ToJson()));
        }

        return (tenant, userId, address);
    }

    private async Task<IReadOnlyList<string>?> TurnOnAsync(TestTenant tenant, Guid userId, int expectedStatus)
    {
        using var client = Factory.Internal();
        using var response = await client.PostAsJsonAsync(MfaRoutes.EmailCodes(userId, tenant.Id), new { });
        if (expectedStatus >= 400)
        {
            await ApiAssert.ErrorAsync(response, expectedStatus, "validation_error");
            return null;
        }

        var data = (await ApiAssert.OkAsync(response, expectedStatus))["data"]!;
        return data["backupCodes"]?.AsArray().Select(c => c!.GetValue<string>()).ToList();
    }

    private async Task<AuthenticateResponse> LoginAsync(TestTenant tenant, string address, string? code, string? method = null)
    {
        using var client = Factory.Internal();
        using var response = await client.PostAsJsonAsync(InternalRoutes.Authenticate,
            new AuthenticateRequest(tenant.Id, address, Password, code, "203.0.113.20") { OfferMfaEnrolment = true, MfaMethod = method });
        await ApiAssert.OkAsync(response);
        return (await response.Content.ReadFromJsonAsync<AuthenticateResponse>())!;
    }

    /// <summary>The code in the <paramref name="count"/>th sign-in code mailed to the address.</summary>
    private async Task<string> CodeMailedToAsync(string address, int count)
    {
        var mail = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            var mails = fixture.Smtp.To(address, EmailKinds.MfaCode);
            return mails.Count >= count ? mails[count - 1] : null;
        }, TimeSpan.FromSeconds(40));
        var match = CodePattern().Match(mail.Text);
        Assert.True(match.Success, mail.Text);
        Assert.Contains(match.Value, mail.Message.Subject, StringComparison.Ordinal);
        return match.Value;
    }

    [GeneratedRegex(@"\b[0-9]{6}\b")]
    private static partial Regex CodePattern();
}
