using System.Net.Http.Json;
using System.Text;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

/// <summary>An admin whose text messages go to a local <see cref="SmsReceiver"/>.</summary>
public sealed class SmsAdminFixture : IAsyncLifetime
{
    public SmsAdminFixture() => Admin = new AdminFactory { ExtraSettings = Sms.AdminSettings() };

    public SmsReceiver Sms { get; } = SmsReceiver.Start();

    public AdminFactory Admin { get; }

    public Task InitializeAsync() => Admin.InitializeAsync();

    public async Task DisposeAsync()
    {
        await Admin.DisposeAsync();
        await Sms.DisposeAsync();
    }
}

public sealed class SmsCodeTests(SmsAdminFixture fixture) : IClassFixture<SmsAdminFixture>
{
    private const string Password = "correct horse battery 1";

    private AdminFactory Factory => fixture.Admin;

    private Task<string> TextedCodeAsync(string phone, int nth) => fixture.Sms.CodeAsync(phone, nth);

    private async Task<AuthenticateResponse> SignInAsync(TestTenant tenant, string email, string? code = null, string? method = null)
    {
        using var client = Factory.Internal();
        using var response = await client.PostAsJsonAsync(InternalRoutes.Authenticate,
            new AuthenticateRequest(tenant.Id, email, Password, code, "192.0.2.44") { MfaMethod = method });
        return (await response.Content.ReadFromJsonAsync<AuthenticateResponse>())!;
    }

    [Fact]
    public async Task APhoneConfirmedByItsFirstCode_GetsATextedCodeAtEachSignIn()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { allowedMethods = new[] { "totp", "sms", "webauthn" } } }));
        var userId = await Factory.CreateUserAsync(tenant, "texter@example.com", Password);
        const string phone = "+14155550123";
        using var internalApi = Factory.Internal();

        await ApiAssert.ErrorAsync(await internalApi.PostAsJsonAsync(MfaRoutes.SmsCodes(userId, tenant.Id), new BeginSmsRequest("0415 555 0123")), 400, "validation_error");
        var started = await ApiAssert.OkAsync(await internalApi.PostAsJsonAsync(MfaRoutes.SmsCodes(userId, tenant.Id), new BeginSmsRequest(phone)), 201);
        Assert.Equal("•••0123", started["data"]!["phoneHint"]!.GetValue<string>());
        var first = await TextedCodeAsync(phone, 1);
        var text = fixture.Sms.To(phone)[0];
        Assert.Equal($"/2010-04-01/Accounts/{SmsReceiver.AccountSid}/Messages.json", text.Path);
        Assert.Equal("Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{SmsReceiver.AccountSid}:{SmsReceiver.AuthToken}")), text.Authorization);
        Assert.Equal(SmsReceiver.From, text.From);

        // The number is kept encrypted; a wrong code does not confirm it, the texted one does (first factor: backup codes).
        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            var factor = await scope.ServiceProvider.GetRequiredService<AdminDbContext>().MfaFactors.IgnoreQueryFilters().SingleAsync(f => f.UserId == userId);
            Assert.DoesNotContain("4155550123", factor.ProtectedSecret, StringComparison.Ordinal);
            Assert.False(factor.Confirmed);
        }

        // The profile holds the same number, written the way people write it: proven once the texted code comes back.
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{userId}", new { phoneNumber = "+1 (415) 555-0123" }));
        async Task<bool> ProvenAsync() =>
            (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}")))["data"]!["phoneNumberVerified"]!.GetValue<bool>();
        Assert.False(await ProvenAsync());

        await ApiAssert.ErrorAsync(await internalApi.PostAsJsonAsync(MfaRoutes.ConfirmSms(userId, tenant.Id), new ConfirmSmsRequest(first == "000000" ? "111111" : "000000")), 400, "validation_error");
        var confirmed = await ApiAssert.OkAsync(await internalApi.PostAsJsonAsync(MfaRoutes.ConfirmSms(userId, tenant.Id), new ConfirmSmsRequest(first)));
        Assert.Equal(10, confirmed["data"]!["backupCodes"]!.AsArray().Count);
        Assert.True(await ProvenAsync());
        var profile = await internalApi.GetFromJsonAsync<UserProfile>($"{InternalRoutes.Prefix}/users/{userId}?tenantId={tenant.Id}");
        Assert.True(profile!.PhoneNumberVerified);
        await ApiAssert.ErrorAsync(await internalApi.PostAsJsonAsync(MfaRoutes.SmsCodes(userId, tenant.Id), new BeginSmsRequest("+14155550199")), 409, "duplicate_resource");

        // Sign-in: the second step is a texted code (amr sms), which works once.
        var asked = await SignInAsync(tenant, "texter@example.com");
        Assert.Equal((AuthenticationOutcomes.MfaRequired, "sms", "•••0123"), (asked.Outcome, asked.MfaMethod, asked.MfaCodeHint));
        var code = await TextedCodeAsync(phone, 2);
        var signedIn = await SignInAsync(tenant, "texter@example.com", code);
        Assert.Equal(AuthenticationOutcomes.Success, signedIn.Outcome);
        Assert.Contains("sms", signedIn.AuthenticationMethods);
        Assert.Contains("mfa", signedIn.AuthenticationMethods);
        Assert.Equal(AuthenticationOutcomes.MfaInvalid, (await SignInAsync(tenant, "texter@example.com", code)).Outcome);

        // Removed: sign-ins take the password alone again.
        using (var removed = await internalApi.DeleteAsync(MfaRoutes.SmsCodes(userId, tenant.Id)))
        {
            Assert.Equal(System.Net.HttpStatusCode.NoContent, removed.StatusCode);
        }

        Assert.Equal(AuthenticationOutcomes.Success, (await SignInAsync(tenant, "texter@example.com")).Outcome);

        // The number stays proven without the factor; a new number is not, unless an administrator vouches for it (an import).
        Assert.True(await ProvenAsync());
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{userId}", new { phoneNumber = "+1 415 555 0199" }));
        Assert.False(await ProvenAsync());
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{userId}", new { phoneNumberVerified = true }));
        Assert.True(await ProvenAsync());
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{userId}", new { phoneNumber = "+1 415 555 0100", phoneNumberVerified = true }));
        Assert.True(await ProvenAsync());
        await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{userId}", new { phoneNumber = "", phoneNumberVerified = true }), 400, "validation_error");
        var imported = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users",
            new { email = "imported@example.com", phoneNumber = "+44 20 7946 0000", phoneNumberVerified = true }), 201))["data"]!;
        Assert.True(imported["phoneNumberVerified"]!.GetValue<bool>());
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "nophone@example.com", phoneNumberVerified = true }), 400, "validation_error");
    }

    [Fact]
    public async Task AUserWithAnAppAndAPhone_MayAskForATextInstead()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { allowedMethods = new[] { "totp", "sms" } } }));
        var userId = await Factory.CreateUserAsync(tenant, "both@example.com", Password);
        var secret = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{userId}/mfa/totp", null), 201))["data"]!["secret"]!.GetValue<string>();
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/{userId}/mfa/totp/confirm",
            new { code = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret)).ComputeTotp() }));
        const string phone = "+447700900123";
        using var internalApi = Factory.Internal();
        await ApiAssert.OkAsync(await internalApi.PostAsJsonAsync(MfaRoutes.SmsCodes(userId, tenant.Id), new BeginSmsRequest(phone)), 201);
        var confirmed = await ApiAssert.OkAsync(await internalApi.PostAsJsonAsync(MfaRoutes.ConfirmSms(userId, tenant.Id), new ConfirmSmsRequest(await TextedCodeAsync(phone, 1))));
        Assert.Empty(confirmed["data"]!["backupCodes"]!.AsArray());
        // A user without a number in their profile gains none by adding a phone for codes.
        var user = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}")))["data"]!;
        Assert.Null(user["phoneNumber"]);
        Assert.False(user["phoneNumberVerified"]!.GetValue<bool>());

        var app = await SignInAsync(tenant, "both@example.com");
        Assert.Equal(("totp", "sms"), (app.MfaMethod, app.MfaOtherMethod));
        var text = await SignInAsync(tenant, "both@example.com", method: "sms");
        Assert.Equal(("sms", "totp"), (text.MfaMethod, text.MfaOtherMethod));
        Assert.Equal(AuthenticationOutcomes.Success, (await SignInAsync(tenant, "both@example.com", await TextedCodeAsync(phone, 2), "sms")).Outcome);
    }

    [Fact]
    public async Task TextedCodes_NeedTheTenantToAllowThem()
    {
        var tenant = await Factory.CreateTenantAsync();
        var userId = await Factory.CreateUserAsync(tenant, "notallowed@example.com", Password);
        using var internalApi = Factory.Internal();
        await ApiAssert.ErrorAsync(await internalApi.PostAsJsonAsync(MfaRoutes.SmsCodes(userId, tenant.Id), new BeginSmsRequest("+14155550100")), 400, "validation_error");
        Assert.Empty(fixture.Sms.To("+14155550100"));

        // Another tenant's user is not found from here.
        var other = await Factory.CreateTenantAsync();
        await ApiAssert.ErrorAsync(await internalApi.PostAsJsonAsync(MfaRoutes.SmsCodes(userId, other.Id), new BeginSmsRequest("+14155550100")), 404, "resource_not_found");
    }

    [Fact]
    public async Task ANewNumberWhileTheLastCodeIsFresh_IsRefused_AndTheCodeConfirmsOnlyThePhoneItWentTo()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { allowedMethods = new[] { "totp", "sms" } } }));
        var userId = await Factory.CreateUserAsync(tenant, "switcher@example.com", Password);
        const string texted = "+14155550142";
        const string other = "+14155550199";
        using var internalApi = Factory.Internal();
        await ApiAssert.OkAsync(await internalApi.PostAsJsonAsync(MfaRoutes.SmsCodes(userId, tenant.Id), new BeginSmsRequest(texted)), 201);
        var code = await TextedCodeAsync(texted, 1);

        // Nothing goes to the second number moments later, and the caller hears so rather than "Code texted".
        await ApiAssert.ErrorAsync(await internalApi.PostAsJsonAsync(MfaRoutes.SmsCodes(userId, tenant.Id), new BeginSmsRequest(other)), 429, "rate_limit_exceeded");
        Assert.Empty(fixture.Sms.To(other));

        // The code confirms the phone it reached, not the number asked for afterwards.
        await ApiAssert.OkAsync(await internalApi.PostAsJsonAsync(MfaRoutes.ConfirmSms(userId, tenant.Id), new ConfirmSmsRequest(code)));
        var asked = await SignInAsync(tenant, "switcher@example.com");
        Assert.Equal(("sms", "•••0142"), (asked.MfaMethod, asked.MfaCodeHint));
    }

    [Fact]
    public async Task ACodeForAnotherFactor_DoesNotConfirmThePendingPhone()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { allowedMethods = new[] { "totp", "sms" } } }));
        var userId = await Factory.CreateUserAsync(tenant, "bound@example.com", Password);
        const string phone = "+14155550143";
        using var internalApi = Factory.Internal();
        await ApiAssert.OkAsync(await internalApi.PostAsJsonAsync(MfaRoutes.SmsCodes(userId, tenant.Id), new BeginSmsRequest(phone)), 201);
        var code = await TextedCodeAsync(phone, 1);
        // As if the code had gone elsewhere (an earlier phone, or the mailbox).
        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
            await db.SignInCodes.IgnoreQueryFilters().Where(c => c.UserId == userId).ExecuteUpdateAsync(s => s.SetProperty(c => c.FactorId, (Guid?)null));
        }

        await ApiAssert.ErrorAsync(await internalApi.PostAsJsonAsync(MfaRoutes.ConfirmSms(userId, tenant.Id), new ConfirmSmsRequest(code)), 400, "validation_error");
    }

    [Fact]
    public async Task TheLastSecondFactor_CannotBeRemoved_WhileTheTenantRequiresOne()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { allowedMethods = new[] { "totp", "sms" } } }));
        var userId = await Factory.CreateUserAsync(tenant, "required@example.com", Password);
        const string phone = "+14155550144";
        using var internalApi = Factory.Internal();
        await ApiAssert.OkAsync(await internalApi.PostAsJsonAsync(MfaRoutes.SmsCodes(userId, tenant.Id), new BeginSmsRequest(phone)), 201);
        await ApiAssert.OkAsync(await internalApi.PostAsJsonAsync(MfaRoutes.ConfirmSms(userId, tenant.Id), new ConfirmSmsRequest(await TextedCodeAsync(phone, 1))));
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { mfaPolicy = new { required = true } }));

        await ApiAssert.ErrorAsync(await internalApi.DeleteAsync(MfaRoutes.SmsCodes(userId, tenant.Id)), 409, "invalid_request");

        // With an app as well, the phone may go.
        var secret = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{userId}/mfa/totp", null), 201))["data"]!["secret"]!.GetValue<string>();
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users/{userId}/mfa/totp/confirm",
            new { code = new OtpNet.Totp(OtpNet.Base32Encoding.ToBytes(secret)).ComputeTotp() }));
        using var removed = await internalApi.DeleteAsync(MfaRoutes.SmsCodes(userId, tenant.Id));
        Assert.Equal(System.Net.HttpStatusCode.NoContent, removed.StatusCode);
    }
}
