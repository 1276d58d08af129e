using System.Net.Http.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OtpNet;

namespace LumoAuth.Admin.Tests;

public sealed class AuthenticateTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private const string Password = "correct horse battery 1";

    private async Task<AuthenticateResponse> LoginAsync(Guid tenantId, string email, string password, string? totp = null, bool offerEnrolment = true)
    {
        using var client = factory.Internal();
        using var response = await client.PostAsJsonAsync(InternalRoutes.Authenticate,
            new AuthenticateRequest(tenantId, email, password, totp, "203.0.113.9") { OfferMfaEnrolment = offerEnrolment });
        await ApiAssert.OkAsync(response);
        return (await response.Content.ReadFromJsonAsync<AuthenticateResponse>())!;
    }

    [Fact]
    public async Task Authenticate_RightPassword_Succeeds_AndCountsTheLogin()
    {
        var tenant = await factory.CreateTenantAsync();
        var id = await factory.CreateUserAsync(tenant, "login@example.com", Password, "Log In");
        var result = await LoginAsync(tenant.Id, "LOGIN@example.com", Password);
        Assert.Equal(AuthenticationOutcomes.Success, result.Outcome);
        Assert.Equal(id, result.UserId);
        Assert.Equal("Log In", result.Name);
        Assert.Equal(["pwd"], result.AuthenticationMethods);

        using var admin = factory.ClientFor(tenant);
        var user = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{id}")))["data"]!;
        Assert.Equal(1, user["loginCount"]!.GetValue<int>());
        var entry = await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_login_succeeded&targetId={id}")))["data"]!.AsArray().FirstOrDefault()?.AsObject());
        Assert.Equal("authentication", entry["category"]!.GetValue<string>());
        Assert.Equal("203.0.113.9", entry["ipAddress"]!.GetValue<string>());
        Assert.Equal("user", entry["actor"]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Authenticate_AHashMadeWithFewerIterations_StillSignsIn_AndIsMadeAgainWithTheCurrentCount()
    {
        var tenant = await factory.CreateTenantAsync();
        var id = await factory.CreateUserAsync(tenant, "older@example.com", Password);
        var configured = int.Parse(TestInfrastructure.PasswordHashIterations, System.Globalization.CultureInfo.InvariantCulture);
        var weaker = new LumoAuth.Admin.Security.PasswordHasher(
            Microsoft.Extensions.Options.Options.Create(new LumoAuth.Admin.Security.PasswordHashingOptions { Iterations = configured / 2 }),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<LumoAuth.Admin.Security.PasswordHasher>.Instance);
        var old = weaker.Hash(Password);
        Assert.True(factory.Services.GetRequiredService<LumoAuth.Admin.Security.PasswordHasher>().NeedsRehash(old));
        async Task<string> StoredAsync()
        {
            using var scope = factory.Services.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            return (await db.Users.IgnoreQueryFilters().AsNoTracking().SingleAsync(u => u.Id == id)).PasswordHash!;
        }

        using (var scope = factory.Services.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            await db.Users.IgnoreQueryFilters().Where(u => u.Id == id).ExecuteUpdateAsync(s => s.SetProperty(u => u.PasswordHash, old));
        }

        // A wrong password changes nothing; the right one signs in and leaves a hash of the current strength.
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, (await LoginAsync(tenant.Id, "older@example.com", "not the password")).Outcome);
        Assert.Equal(old, await StoredAsync());
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant.Id, "older@example.com", Password)).Outcome);
        var stored = await StoredAsync();
        Assert.NotEqual(old, stored);
        Assert.StartsWith($"pbkdf2-sha256${configured}$", stored, StringComparison.Ordinal);
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant.Id, "older@example.com", Password)).Outcome);
        Assert.Equal(stored, await StoredAsync());
    }

    [Fact]
    public async Task Authenticate_WrongPasswordAndUnknownUser_LookTheSame()
    {
        var tenant = await factory.CreateTenantAsync();
        await factory.CreateUserAsync(tenant, "known@example.com", Password);
        var wrong = await LoginAsync(tenant.Id, "known@example.com", "not the password");
        var unknown = await LoginAsync(tenant.Id, "nobody@example.com", "not the password");
        var noPassword = await LoginAsync(tenant.Id, "admin@" + tenant.Slug + ".example.com", "anything at all");
        static object Shape(AuthenticateResponse r) => (r.Outcome, r.UserId, r.Email, r.Name, r.EmailVerified, r.LockedUntil, r.AuthenticationMethods.Count);
        Assert.Equal(Shape(wrong), Shape(unknown));
        Assert.Equal(Shape(wrong), Shape(noPassword));
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, wrong.Outcome);
        Assert.Null(wrong.UserId);

        // Another tenant's id never finds this tenant's user.
        var other = await factory.CreateTenantAsync();
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, (await LoginAsync(other.Id, "known@example.com", Password)).Outcome);
    }

    [Fact]
    public async Task Authenticate_RepeatedFailures_LockTheAccount_PerTenantSettings()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { maxFailedAttempts = 3, lockoutDuration = 600 } }));
        var id = await factory.CreateUserAsync(tenant, "locky@example.com", Password);

        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, (await LoginAsync(tenant.Id, "locky@example.com", "bad one")).Outcome);
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, (await LoginAsync(tenant.Id, "locky@example.com", "bad two")).Outcome);
        var locked = await LoginAsync(tenant.Id, "locky@example.com", "bad three");
        Assert.Equal(AuthenticationOutcomes.Locked, locked.Outcome);
        Assert.InRange(locked.LockedUntil!.Value, DateTimeOffset.UtcNow.AddSeconds(500), DateTimeOffset.UtcNow.AddSeconds(700));

        // Locked: even the right password is refused.
        Assert.Equal(AuthenticationOutcomes.Locked, (await LoginAsync(tenant.Id, "locky@example.com", Password)).Outcome);
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_locked_out&targetId={id}"));
            return page["meta"]!["total"]!.GetValue<long>() == 1 ? page : null;
        });
        var failures = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_login_failed&outcome=failure"));
        Assert.True(failures["meta"]!["total"]!.GetValue<long>() >= 1);

        // Unblocking (or an admin password change) clears the lock.
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{id}/unblock", null));
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant.Id, "locky@example.com", Password)).Outcome);
    }

    [Fact]
    public async Task Authenticate_ParallelGuesses_LockAtTheThreshold_AndTheRightPasswordBehindThemIsLockedOut()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { maxFailedAttempts = 3, lockoutDuration = 600 } }));
        var id = await factory.CreateUserAsync(tenant, "racer@example.com", Password);

        // Every guess reads the unlocked account and checks its password; the test holds the user's row so that all their
        // writes queue behind it, the right password last, as they would behind a slow database.
        await using var scope = factory.Services.CreateAsyncScope();
        var holder = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        var transaction = await holder.Database.BeginTransactionAsync();
        await holder.Database.ExecuteSqlAsync($"SELECT 1 FROM users WHERE \"Id\" = {id} FOR NO KEY UPDATE");
        var wrong = Enumerable.Range(0, 12).Select(i => LoginAsync(tenant.Id, "racer@example.com", $"wrong guess {i}")).ToList();
        await WaitForQueuedWritersAsync(12);
        var right = LoginAsync(tenant.Id, "racer@example.com", Password);
        await WaitForQueuedWritersAsync(13);
        await transaction.RollbackAsync();

        var outcomes = (await Task.WhenAll(wrong)).Select(r => r.Outcome).ToList();
        var rightOutcome = (await right).Outcome;
        // PostgreSQL does not promise to hand a row to its waiters in the order they queued: the right password may be
        // served before the guesses that lock the account (then it signs in and starts the count afresh, so up to twice
        // the threshold's worth of guesses are told "wrong"). Behind them, it is locked out, as is every sign-in after.
        Assert.Contains(rightOutcome, new[] { AuthenticationOutcomes.Locked, AuthenticationOutcomes.Success });
        Assert.InRange(outcomes.Count(o => o == AuthenticationOutcomes.InvalidCredentials), 0, rightOutcome == AuthenticationOutcomes.Locked ? 3 : 4);
        Assert.Equal(AuthenticationOutcomes.Locked, (await LoginAsync(tenant.Id, "racer@example.com", Password)).Outcome);
    }

    /// <summary>Waits until this many sign-ins wait for the user's row (failures to count, successes to check for a lock: both ask for "LockedUntil").</summary>
    private Task WaitForQueuedWritersAsync(int count) => factory.WaitForLockWaitersAsync("%\"LockedUntil\"%", count);

    [Fact]
    public async Task Authenticate_UnverifiedAddress_IsRefusedOnlyWhereTheTenantRequiresVerification()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "unverified@example.com", Password);
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant.Id, "unverified@example.com", Password)).Outcome);

        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { emailVerificationRequired = true } }));
        Assert.Equal(AuthenticationOutcomes.EmailNotVerified, (await LoginAsync(tenant.Id, "unverified@example.com", Password)).Outcome);
        // Without the password it looks like any failure.
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, (await LoginAsync(tenant.Id, "unverified@example.com", "guess")).Outcome);

        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { emailVerified = true }));
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant.Id, "unverified@example.com", Password)).Outcome);
    }

    [Fact]
    public async Task Authenticate_BlockedOrInactiveUser_IsRefused()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var blocked = await factory.CreateUserAsync(tenant, "blocked@example.com", Password);
        var inactive = await factory.CreateUserAsync(tenant, "inactive@example.com", Password);
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{blocked}/block", null));
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{inactive}", new { isActive = false }));

        Assert.Equal(AuthenticationOutcomes.Blocked, (await LoginAsync(tenant.Id, "blocked@example.com", Password)).Outcome);
        Assert.Equal(AuthenticationOutcomes.Blocked, (await LoginAsync(tenant.Id, "inactive@example.com", Password)).Outcome);
        // Without the password, a blocked account looks like any failure.
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, (await LoginAsync(tenant.Id, "blocked@example.com", "guess")).Outcome);

        // Unblocked and active again: the same password signs in.
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{blocked}/unblock", null));
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{inactive}", new { isActive = true }));
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant.Id, "blocked@example.com", Password)).Outcome);
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant.Id, "inactive@example.com", Password)).Outcome);
    }

    [Fact]
    public async Task Totp_Enrolment_ThenLoginNeedsACode_AndACodeWorksOnce()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "otp@example.com", Password);

        var enrolment = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{id}/mfa/totp", null), 201))["data"]!;
        var secret = enrolment["secret"]!.GetValue<string>();
        Assert.StartsWith("otpauth://totp/", enrolment["otpauthUri"]!.GetValue<string>());
        // Until confirmed, the factor is not required.
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant.Id, "otp@example.com", Password)).Outcome);

        var totp = new Totp(Base32Encoding.ToBytes(secret));
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/{id}/mfa/totp/confirm", new { code = "000000" == totp.ComputeTotp() ? "111111" : "000000" }), 400, "validation_error");
        var step = DateTime.UtcNow;
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/{id}/mfa/totp/confirm", new { code = totp.ComputeTotp(step) }));
        var user = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{id}")))["data"]!;
        Assert.True(user["mfaEnabled"]!.GetValue<bool>());
        Assert.DoesNotContain(secret, (await admin.GetStringAsync($"{tenant.Api}/admin/users/{id}/mfa")));
        await ApiAssert.ErrorAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{id}/mfa/totp", null), 409, "duplicate_resource");

        Assert.Equal(AuthenticationOutcomes.MfaRequired, (await LoginAsync(tenant.Id, "otp@example.com", Password)).Outcome);
        Assert.Equal(AuthenticationOutcomes.MfaInvalid, (await LoginAsync(tenant.Id, "otp@example.com", Password, "12345x")).Outcome);
        // The code used to confirm enrolment (same time step) is spent; the next step's code works once.
        var next = totp.ComputeTotp(step.AddSeconds(30));
        var ok = await LoginAsync(tenant.Id, "otp@example.com", Password, next);
        Assert.Equal(AuthenticationOutcomes.Success, ok.Outcome);
        Assert.Contains("otp", ok.AuthenticationMethods);
        Assert.Equal(AuthenticationOutcomes.MfaInvalid, (await LoginAsync(tenant.Id, "otp@example.com", Password, next)).Outcome);

        // An admin MFA reset removes the factor.
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{id}/mfa/reset", null));
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant.Id, "otp@example.com", Password)).Outcome);

        // Both are security events in the audit log, about the user.
        foreach (var action in new[] { "user_mfa_enrolled", "user_mfa_reset" })
        {
            var entry = await ApiAssert.EventuallyAsync(async () =>
                (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action={action}&targetId={id}")))["data"]!.AsArray().FirstOrDefault());
            Assert.Equal("authentication", entry!["category"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task MfaPolicyRequired_UserWithoutFactor_EnrolsOnceGraceIsOver_AndTheGraceStartsWhenThePolicyDoes()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var userId = await factory.CreateUserAsync(tenant, "enrol@example.com", Password);
        var settings = (await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/settings",
            new { mfaPolicy = new { required = true, gracePeriodDays = 3 } })))["data"]!;
        var since = settings["mfaPolicy"]!["requiredSince"]!.GetValue<DateTimeOffset>();
        Assert.InRange(since, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5));
        // Within the grace period the password alone still signs in; a settings object read back is accepted as it is.
        var withinGrace = await LoginAsync(tenant.Id, "enrol@example.com", Password);
        Assert.Equal(AuthenticationOutcomes.Success, withinGrace.Outcome);
        Assert.Equal(since.AddDays(3), withinGrace.MfaEnrolmentDueAt);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = settings["mfaPolicy"] }));
        Assert.Equal(since, (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/settings")))["data"]!["mfaPolicy"]!["requiredSince"]!.GetValue<DateTimeOffset>());

        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { gracePeriodDays = 0 } }));
        // A caller that cannot show a secret (SCIM Basic, links) learns only that enrolment is required; nothing is made.
        var notOffered = await LoginAsync(tenant.Id, "enrol@example.com", Password, offerEnrolment: false);
        Assert.Equal(AuthenticationOutcomes.MfaEnrollmentRequired, notOffered.Outcome);
        Assert.Null(notOffered.TotpEnrolment);
        Assert.Empty((await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}/mfa")))["data"]!.AsArray());
        var offered = await LoginAsync(tenant.Id, "enrol@example.com", Password);
        Assert.Equal(AuthenticationOutcomes.MfaEnrollmentRequired, offered.Outcome);
        Assert.Null(offered.UserId);
        var totp = new Totp(Base32Encoding.ToBytes(offered.TotpEnrolment!.Secret));
        Assert.StartsWith("otpauth://totp/", offered.TotpEnrolment.OtpauthUri, StringComparison.Ordinal);
        Assert.Equal(AuthenticationOutcomes.MfaInvalid, (await LoginAsync(tenant.Id, "enrol@example.com", Password, "12345")).Outcome);

        var enrolled = await LoginAsync(tenant.Id, "enrol@example.com", Password, totp.ComputeTotp());
        Assert.Equal(AuthenticationOutcomes.Success, enrolled.Outcome);
        Assert.Contains("mfa", enrolled.AuthenticationMethods);
        Assert.Equal(10, enrolled.BackupCodes!.Count);
        // From now on an ordinary TOTP user; switching the policy off clears its start.
        Assert.Equal(AuthenticationOutcomes.MfaRequired, (await LoginAsync(tenant.Id, "enrol@example.com", Password)).Outcome);
        var off = (await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { required = false } })))["data"]!;
        Assert.Null(off["mfaPolicy"]!["requiredSince"]);
    }

    [Fact]
    public async Task BackupCodes_ShownAtEnrolment_EachWorksOnce_ANewSetReplacesTheOld_AndResetRemovesThem()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "backup@example.com", Password);
        await ApiAssert.ErrorAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{id}/mfa/backup-codes", null), 404, "resource_not_found");

        var secret = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{id}/mfa/totp", null), 201))["data"]!["secret"]!.GetValue<string>();
        var confirmed = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/{id}/mfa/totp/confirm",
            new { code = new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp() })))["data"]!;
        var codes = confirmed["backupCodes"]!.AsArray().Select(c => c!.GetValue<string>()).ToList();
        Assert.Equal(10, codes.Distinct().Count());
        Assert.All(codes, c => Assert.Matches("^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$", c));
        Assert.DoesNotContain(codes[0], await admin.GetStringAsync($"{tenant.Api}/admin/users/{id}/mfa"));

        // Typed in lower case without dashes, it still counts; once.
        var typed = codes[0].Replace("-", string.Empty, StringComparison.Ordinal).ToLowerInvariant();
        var ok = await LoginAsync(tenant.Id, "backup@example.com", Password, typed);
        Assert.Equal(AuthenticationOutcomes.Success, ok.Outcome);
        Assert.Contains("mfa", ok.AuthenticationMethods);
        Assert.Equal(AuthenticationOutcomes.MfaInvalid, (await LoginAsync(tenant.Id, "backup@example.com", Password, codes[0])).Outcome);
        Assert.Equal(9, (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{id}/mfa/backup-codes")))["data"]!["remaining"]!.GetValue<int>());

        var renewed = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{id}/mfa/backup-codes", null), 201))["data"]!["backupCodes"]!
            .AsArray().Select(c => c!.GetValue<string>()).ToList();
        Assert.Equal(AuthenticationOutcomes.MfaInvalid, (await LoginAsync(tenant.Id, "backup@example.com", Password, codes[1])).Outcome);
        Assert.Equal(AuthenticationOutcomes.Success, (await LoginAsync(tenant.Id, "backup@example.com", Password, renewed[0])).Outcome);

        // Another user's code is nobody else's.
        var otherId = await factory.CreateUserAsync(tenant, "other@example.com", Password);
        var otherSecret = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{otherId}/mfa/totp", null), 201))["data"]!["secret"]!.GetValue<string>();
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/{otherId}/mfa/totp/confirm", new { code = new Totp(Base32Encoding.ToBytes(otherSecret)).ComputeTotp() }));
        Assert.Equal(AuthenticationOutcomes.MfaInvalid, (await LoginAsync(tenant.Id, "other@example.com", Password, renewed[1])).Outcome);

        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{id}/mfa/reset", null));
        Assert.Equal(0, (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{id}/mfa/backup-codes")))["data"]!["remaining"]!.GetValue<int>());
    }

    [Fact]
    public async Task Totp_EnrolmentByTheTokenService_ForItsSignedInUser()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        var id = await factory.CreateUserAsync(tenant, "self@example.com", Password);
        using var client = factory.Internal();
        await ApiAssert.ErrorAsync(await client.PostAsync($"{InternalRoutes.Prefix}/users/{id}/mfa/totp?tenantId={other.Id}", null), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.PostAsync($"{InternalRoutes.Prefix}/users/{id}/mfa/totp", null), 404, "resource_not_found");

        var enrolment = (await ApiAssert.OkAsync(await client.PostAsync($"{InternalRoutes.Prefix}/users/{id}/mfa/totp?tenantId={tenant.Id}", null), 201))["data"]!;
        Assert.Contains("Tenant%20" + tenant.Slug, enrolment["otpauthUri"]!.GetValue<string>());
        var code = new Totp(Base32Encoding.ToBytes(enrolment["secret"]!.GetValue<string>())).ComputeTotp();
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{InternalRoutes.Prefix}/users/{id}/mfa/totp/confirm?tenantId={tenant.Id}", new { code }));
        Assert.Equal(AuthenticationOutcomes.MfaRequired, (await LoginAsync(tenant.Id, "self@example.com", Password)).Outcome);
    }

    [Fact]
    public async Task Totp_Confirm_WithoutEnrolment_Returns404()
    {
        var tenant = await factory.CreateTenantAsync();
        using var admin = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "none@example.com");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/{id}/mfa/totp/confirm", new { code = "123456" }), 404, "resource_not_found");
    }

    [Fact]
    public async Task InternalUserProfile_GroupsAndAddress_OnlyWhatTheTenantAndTheAttributesHold()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        var id = await factory.CreateUserAsync(tenant, "groups@example.com");
        using var admin = factory.ClientFor(tenant);
        using var internalClient = factory.Internal();
        async Task<UserProfile> ProfileAsync() =>
            (await internalClient.GetFromJsonAsync<UserProfile>($"{InternalRoutes.Prefix}/users/{id}?tenantId={tenant.Id}"))!;

        // Nothing yet: no groups, no address.
        var bare = await ProfileAsync();
        Assert.Empty(bare.Groups);
        Assert.Null(bare.Address);

        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name = "Ops", slug = "ops" }), 201);
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups/ops/members", new { userId = id.ToString() }));
        // Another tenant's group of the same slug is not this user's.
        using var otherAdmin = factory.ClientFor(other);
        await ApiAssert.OkAsync(await otherAdmin.PostAsJsonAsync($"{other.Api}/admin/groups", new { name = "Sales", slug = "sales" }), 201);

        // An address that is not an object, then one whose members are blank or not strings: no address.
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/attributes", new { address = "1 Main St" }));
        Assert.Null((await ProfileAsync()).Address);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/attributes", new { address = new { locality = " ", country = 42 } }));
        var grouped = await ProfileAsync();
        Assert.Null(grouped.Address);
        Assert.Equal(["ops"], grouped.Groups);
    }

    [Fact]
    public async Task InternalUserProfile_ReturnsClaims_ScopedByTenant()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        var id = await factory.CreateUserAsync(tenant, "claims@example.com", name: "Claims Person");
        using var client = factory.Internal();
        var profile = await client.GetFromJsonAsync<UserProfile>($"{InternalRoutes.Prefix}/users/{id}?tenantId={tenant.Id}");
        Assert.Equal("claims@example.com", profile!.Email);
        Assert.Equal("Claims Person", profile.Name);
        Assert.True(profile.IsActive);

        await ApiAssert.ErrorAsync(await client.GetAsync($"{InternalRoutes.Prefix}/users/{id}?tenantId={other.Id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.GetAsync($"{InternalRoutes.Prefix}/users/{id}"), 400, "validation_error");
    }

    [Fact]
    public async Task InternalCredentialRoutes_RequireTheInternalKey()
    {
        var tenant = await factory.CreateTenantAsync();
        using var anonymous = factory.CreateDirectClient();
        await ApiAssert.ErrorAsync(await anonymous.PostAsJsonAsync(InternalRoutes.Authenticate, new AuthenticateRequest(tenant.Id, "a@b.example.com", "x", null, null)), 401, "unauthorized");
        using var tenantKey = factory.CreateDirectClient();
        tenantKey.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        await ApiAssert.ErrorAsync(await tenantKey.PostAsJsonAsync(InternalRoutes.Authenticate, new AuthenticateRequest(tenant.Id, "a@b.example.com", "x", null, null)), 401, "unauthorized");
        await ApiAssert.ErrorAsync(await anonymous.GetAsync($"{InternalRoutes.Prefix}/users/{Guid.NewGuid()}?tenantId={tenant.Id}"), 401, "unauthorized");
    }
}
