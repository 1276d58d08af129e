using System.ComponentModel.DataAnnotations;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Admin.Features.Email;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

/// <summary>An admin whose mails go to a local <see cref="SmtpReceiver"/> (a subclass adds settings of its own).</summary>
public class EmailAdminFixture : IAsyncLifetime
{
    public EmailAdminFixture()
        : this(new Dictionary<string, string?>())
    {
    }

    protected EmailAdminFixture(IReadOnlyDictionary<string, string?> settings)
    {
        Admin = new AdminFactory
        {
            ExtraServices = services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(Logs),
            ExtraSettings = new Dictionary<string, string?>(Smtp.AdminSettings().Concat(settings)),
        };
    }

    public AdminFactory Admin { get; }

    public SmtpReceiver Smtp { get; } = SmtpReceiver.Start();

    public RecordingLoggerProvider Logs { get; } = new();

    /// <summary>The first mail of the kind to the address, once it has come.</summary>
    public Task<ReceivedMail> MailToAsync(string address, string kind) =>
        ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            var mails = Smtp.To(address, kind);
            return mails.Count > 0 ? mails[0] : null;
        }, TimeSpan.FromSeconds(40));

    public Task InitializeAsync() => Admin.InitializeAsync();

    public virtual async Task DisposeAsync()
    {
        await Admin.DisposeAsync();
        await Smtp.DisposeAsync();
    }
}

public sealed partial class EmailDeliveryTests(EmailAdminFixture fixture) : IClassFixture<EmailAdminFixture>
{
    private AdminFactory Factory => fixture.Admin;

    private static string TokenIn(ReceivedMail mail, TestTenant tenant, string path, string publicBaseUrl)
    {
        var match = LinkPattern().Match(mail.Text);
        Assert.True(match.Success, mail.Text);
        Assert.Equal($"{publicBaseUrl}/t/{tenant.Slug}{path}", match.Groups["page"].Value);
        return match.Groups["token"].Value;
    }

    /// <summary>
    /// The mail leaves inside the transaction that stores its token's hash (a failed send rolls it back), so
    /// a link starts working a moment after its mail arrived: redeem until the link is no longer refused.
    /// </summary>
    private static Task<JsonObject> RedeemAsync(HttpClient client, string route, object request, int status = 200) =>
        ApiAssert.EventuallyAsync(async () =>
        {
            using var response = await client.PostAsJsonAsync(route, request);
            return (int)response.StatusCode == 400 ? null : await ApiAssert.OkAsync(response, status);
        });

    [GeneratedRegex(@"(?<page>https?://\S+?)\?token=(?<token>[A-Za-z0-9_-]+)")]
    private static partial Regex LinkPattern();

    [Fact]
    public async Task MagicLink_MailsALinkThatSignsInOnce_AndVerifiesTheAddress()
    {
        var tenant = await Factory.CreateTenantAsync();
        var address = $"link@{tenant.Slug}.example.com";
        var userId = await Factory.CreateUserAsync(tenant, address, "some password 123", "Lin Link");
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true, magicLinkExpiryMinutes = 10 } }));
        using var client = Factory.Internal();
        using var watch = new BusWatch(Factory.Services.GetRequiredService<MassTransit.IBus>());
        const string returnUrl = "/t/x/api/v1/oauth/authorize?client_id=c";
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestMagicLink, new RequestMagicLink(tenant.Id, address.ToUpperInvariant(), returnUrl)), 202);
        // Unknown addresses get the same answer and no mail.
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestMagicLink, new RequestMagicLink(tenant.Id, $"nobody@{tenant.Slug}.example.com", null)), 202);

        var mail = await fixture.MailToAsync(address, EmailKinds.MagicLink);
        Assert.Contains("expires at", mail.Text, StringComparison.Ordinal);
        var token = TokenIn(mail, tenant, EmailLinkPaths.MagicLink, Factory.PublicBaseUrl);
        // As for RedeemAsync: the link works once the mail's transaction has committed.
        var signIn = await ApiAssert.EventuallyAsync(async () =>
        {
            using var response = await client.PostAsJsonAsync(EmailLinkPaths.CompleteMagicLink, new CompleteMagicLink(tenant.Id, token, null, "192.0.2.7"));
            var answer = await ApiAssert.OkAsync(response);
            return answer["verdict"]!["outcome"]!.GetValue<string>() == AuthenticationOutcomes.InvalidCredentials ? null : answer;
        });
        Assert.Equal(AuthenticationOutcomes.Success, signIn["verdict"]!["outcome"]!.GetValue<string>());
        Assert.Equal(userId.ToString(), signIn["verdict"]!["userId"]!.GetValue<string>());
        Assert.Equal(["email"], signIn["verdict"]!["authenticationMethods"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.True(signIn["verdict"]!["emailVerified"]!.GetValue<bool>());
        Assert.Equal(returnUrl, signIn["returnUrl"]!.GetValue<string>());

        using var again = await client.PostAsJsonAsync(EmailLinkPaths.CompleteMagicLink, new CompleteMagicLink(tenant.Id, token, null, null));
        Assert.Equal(AuthenticationOutcomes.InvalidCredentials, (await ApiAssert.OkAsync(again))["verdict"]!["outcome"]!.GetValue<string>());
        await watch.WaitForHandledAsync<AddressLinkRequested>(m => m.TenantId == tenant.Id, count: 2);
        await Factory.WaitForOutboxAsync(tenant);
        Assert.Single(watch.Published<UserMagicLinkRequested>(e => e.TenantId == tenant.Id));
        Assert.Empty(fixture.Smtp.To($"nobody@{tenant.Slug}.example.com", EmailKinds.MagicLink));
    }

    [Fact]
    public async Task PasswordReset_RequestedByAnAdmin_MailsExactlyOneWorkingLink()
    {
        var tenant = await Factory.CreateTenantAsync();
        var address = $"reset@{tenant.Slug}.example.com";
        var userId = await Factory.CreateUserAsync(tenant, address, "old password 123", "Rita Reset");
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{userId}/password-reset", null), 202);

        var mail = await fixture.MailToAsync(address, EmailKinds.PasswordReset);
        Assert.Equal("no-reply@lumoauth.test", mail.From);
        Assert.Contains($"Tenant {tenant.Slug}", mail.Message.Subject, StringComparison.Ordinal);
        Assert.Contains("Rita Reset", mail.Text, StringComparison.Ordinal);
        var token = TokenIn(mail, tenant, EmailLinkPaths.PasswordReset, Factory.PublicBaseUrl);
        Assert.Contains($"?token={token}", mail.Html, StringComparison.Ordinal);

        using var client = Factory.Internal();
        await RedeemAsync(client, TokenRedemptionEndpoints.CompletePasswordReset, new CompletePasswordResetRequest(tenant.Id, token, "brand new password 1"));
        using var login = await client.PostAsJsonAsync(InternalRoutes.Authenticate, new AuthenticateRequest(tenant.Id, address, "brand new password 1", null, null));
        Assert.Equal(AuthenticationOutcomes.Success, (await login.Content.ReadFromJsonAsync<AuthenticateResponse>())!.Outcome);

        // The link worked, so the send committed with its inbox row: a redelivery can no longer mail again.
        Assert.Single(fixture.Smtp.To(address, EmailKinds.PasswordReset));
        var audit = await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_password_reset_requested")))["data"]!.AsArray().FirstOrDefault()?.AsObject());
        Assert.DoesNotContain(token, audit.ToJsonString(), StringComparison.Ordinal);
        Assert.DoesNotContain(fixture.Logs.Lines, l => l.Message.Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task PasswordReset_ForgotPasswordPage_AnswersTheSameForUnknownAddresses_AndMailsOnlyRealUsers()
    {
        var tenant = await Factory.CreateTenantAsync();
        var known = $"known@{tenant.Slug}.example.com";
        var blocked = $"blocked@{tenant.Slug}.example.com";
        var unknown = $"nobody@{tenant.Slug}.example.com";
        await Factory.CreateUserAsync(tenant, known, "old password 123");
        var blockedId = await Factory.CreateUserAsync(tenant, blocked, "old password 123");
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{blockedId}/block", null));
        using var client = Factory.Internal();
        using var watch = new BusWatch(Factory.Services.GetRequiredService<MassTransit.IBus>());

        var answers = new List<string>();
        // The known address twice in a row: the second click is answered alike but neither mails nor replaces the first link.
        foreach (var address in new[] { unknown, blocked, known.ToUpperInvariant(), known })
        {
            using var response = await client.PostAsJsonAsync(EmailLinkPaths.RequestPasswordReset, new RequestPasswordResetByEmail(tenant.Id, address));
            var body = await ApiAssert.OkAsync(response, 202);
            body.Remove("correlationId");
            answers.Add(body.ToJsonString());
        }

        Assert.Single(answers.Distinct());
        var mail = await fixture.MailToAsync(known, EmailKinds.PasswordReset);
        var token = TokenIn(mail, tenant, EmailLinkPaths.PasswordReset, Factory.PublicBaseUrl);
        await RedeemAsync(client, TokenRedemptionEndpoints.CompletePasswordReset, new CompletePasswordResetRequest(tenant.Id, token, "brand new password 1"));
        // Every request handled and all it staged sent: one reset, so one mail.
        await watch.WaitForHandledAsync<AddressLinkRequested>(m => m.TenantId == tenant.Id, count: 4);
        await Factory.WaitForOutboxAsync(tenant);
        Assert.Single(watch.Published<UserPasswordResetRequested>(e => e.TenantId == tenant.Id));
        Assert.Empty(fixture.Smtp.To(unknown));
        Assert.Empty(fixture.Smtp.To(blocked));
        Assert.Single(fixture.Smtp.To(known, EmailKinds.PasswordReset));

        await using var scope = Factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        Assert.Equal(1, await db.PasswordResetTokens.IgnoreQueryFilters().CountAsync(t => t.TenantId == tenant.Id));
    }

    [Fact]
    public async Task PasswordReset_ForgotPasswordPage_BadInput_IsRefused()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.Internal();
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestPasswordReset,
            new RequestPasswordResetByEmail(tenant.Id, "not an address")), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestPasswordReset,
            new RequestPasswordResetByEmail(tenant.Id, null)), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestPasswordReset,
            new RequestPasswordResetByEmail(Guid.NewGuid(), "someone@example.com")), 404, "tenant_not_found");

        using var anonymous = Factory.CreateDirectClient();
        await ApiAssert.ErrorAsync(await anonymous.PostAsJsonAsync(EmailLinkPaths.RequestPasswordReset,
            new RequestPasswordResetByEmail(tenant.Id, "someone@example.com")), 401, "unauthorized");
        using var throughGateway = Factory.CreateClient();
        throughGateway.DefaultRequestHeaders.Add(InternalRoutes.InternalKeyHeader, TestInfrastructure.InternalKey);
        using var refused = await throughGateway.PostAsJsonAsync(EmailLinkPaths.RequestPasswordReset, new RequestPasswordResetByEmail(tenant.Id, "someone@example.com"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, refused.StatusCode);
    }

    [Fact]
    public async Task PasswordReset_OfAnotherTenantsUser_IsNotFound_AndSendsNothing()
    {
        var tenant = await Factory.CreateTenantAsync();
        var other = await Factory.CreateTenantAsync();
        var address = $"mine@{tenant.Slug}.example.com";
        var userId = await Factory.CreateUserAsync(tenant, address);
        using var otherAdmin = Factory.ClientFor(other);
        await ApiAssert.ErrorAsync(await otherAdmin.PostAsync($"{other.Api}/admin/users/{userId}/password-reset", null), 404, "resource_not_found");

        using var client = Factory.Internal();
        using var watch = new BusWatch(Factory.Services.GetRequiredService<MassTransit.IBus>());
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestPasswordReset, new RequestPasswordResetByEmail(other.Id, address)), 202);
        await watch.WaitForHandledAsync<AddressLinkRequested>(m => m.TenantId == other.Id);
        await using var scope = Factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        Assert.Equal(0, await db.PasswordResetTokens.IgnoreQueryFilters().CountAsync(t => t.UserId == userId));
    }

    [Fact]
    public async Task Invitation_Created_MailsALinkThatAcceptsIt_WithValuesHtmlEncoded()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { branding = new { displayName = "Acme <R&D>" } }));
        var address = $"joiner@{tenant.Slug}.example.com";
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = address, roles = new[] { "editor" } }), 201);

        var mail = await fixture.MailToAsync(address, EmailKinds.Invitation);
        Assert.Equal("You are invited to Acme <R&D>", mail.Message.Subject);
        Assert.Contains("Acme &lt;R&amp;D&gt;", mail.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("Acme <R&D>", mail.Html, StringComparison.Ordinal);
        Assert.Contains("Acme <R&D>", mail.Text, StringComparison.Ordinal);
        var token = TokenIn(mail, tenant, EmailLinkPaths.Invitation, Factory.PublicBaseUrl);

        using var client = Factory.Internal();
        var accepted = (await RedeemAsync(client, TokenRedemptionEndpoints.AcceptInvitation,
            new AcceptInvitationRequest(tenant.Id, token, "a good password 1", "Joiner"), 201))["data"]!;
        Assert.Equal(address, accepted["email"]!.GetValue<string>());
        Assert.Single(fixture.Smtp.To(address, EmailKinds.Invitation));
        Assert.DoesNotContain(fixture.Logs.Lines, l => l.Message.Contains(token, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Invitation_Resent_MailsANewLink_AndTheOldOneStopsWorking()
    {
        var tenant = await Factory.CreateTenantAsync();
        var other = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        var address = $"again@{tenant.Slug}.example.com";
        var invitationId = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = address }), 201))["data"]!["id"]!.GetValue<string>();
        var first = TokenIn(await fixture.MailToAsync(address, EmailKinds.Invitation), tenant, EmailLinkPaths.Invitation, Factory.PublicBaseUrl);

        using var otherAdmin = Factory.ClientFor(other);
        await ApiAssert.ErrorAsync(await otherAdmin.PostAsync($"{other.Api}/invitations/{invitationId}/resend", null), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await admin.PostAsync($"{tenant.Api}/invitations/{Guid.NewGuid()}/resend", null), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await admin.PostAsync($"{tenant.Api}/invitations/not-an-id/resend", null), 404, "resource_not_found");
        var resent = await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/invitations/{invitationId}/resend", null), 202);
        Assert.Equal("pending", resent["data"]!["status"]!.GetValue<string>());

        var mails = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            var all = fixture.Smtp.To(address, EmailKinds.Invitation);
            return all.Count >= 2 ? all : null;
        }, TimeSpan.FromSeconds(40));
        var second = TokenIn(mails[1], tenant, EmailLinkPaths.Invitation, Factory.PublicBaseUrl);
        Assert.NotEqual(first, second);
        using var client = Factory.Internal();
        await RedeemAsync(client, TokenRedemptionEndpoints.AcceptInvitation, new AcceptInvitationRequest(tenant.Id, second, "a good password 1", null), 201);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(TokenRedemptionEndpoints.AcceptInvitation,
            new AcceptInvitationRequest(tenant.Id, first, "a good password 1", null)), 400, "invalid_token");

        // Accepted, it can no longer be resent.
        await ApiAssert.ErrorAsync(await admin.PostAsync($"{tenant.Api}/invitations/{invitationId}/resend", null), 404, "resource_not_found");
    }

    [Fact]
    public async Task Mail_ReceiverFailingOnce_IsRetried_AndDeliversExactlyOne()
    {
        var tenant = await Factory.CreateTenantAsync();
        var address = $"flaky@{tenant.Slug}.example.com";
        var userId = await Factory.CreateUserAsync(tenant, address, "old password 123");
        fixture.Smtp.FailDataFor(address, 1);
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/users/{userId}/password-reset", null), 202);

        var mail = await fixture.MailToAsync(address, EmailKinds.PasswordReset);
        Assert.Equal(1, fixture.Smtp.RejectedFor(address));
        var token = TokenIn(mail, tenant, EmailLinkPaths.PasswordReset, Factory.PublicBaseUrl);
        using var client = Factory.Internal();
        await RedeemAsync(client, TokenRedemptionEndpoints.CompletePasswordReset, new CompletePasswordResetRequest(tenant.Id, token, "brand new password 1"));
        Assert.Single(fixture.Smtp.To(address, EmailKinds.PasswordReset));
        Assert.DoesNotContain(fixture.Logs.Lines, l => l.Message.Contains(token, StringComparison.Ordinal));
        // The refusal was logged (MassTransit's retry) without the server's words, which named the recipient.
        Assert.Contains(fixture.Logs.Lines, l => l.Message.Contains(nameof(MailRefusedException), StringComparison.Ordinal));
        Assert.DoesNotContain(fixture.Logs.Lines, l => l.Message.Contains(address, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task EmailVerification_RequiredByTheTenant_NewUserGetsALinkThatVerifies()
    {
        var tenant = await Factory.CreateTenantAsync();
        var other = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { emailVerificationRequired = true } }));
        var address = $"vera@{tenant.Slug}.example.com";
        var userId = await Factory.CreateUserAsync(tenant, address, "a password 1234", "Vera Verify");

        var mail = await fixture.MailToAsync(address, EmailKinds.EmailVerification);
        var token = TokenIn(mail, tenant, EmailLinkPaths.EmailVerification, Factory.PublicBaseUrl);
        using var client = Factory.Internal();
        var tampered = token[..^2] + (token[^2] == 'A' ? "BB" : "AA");
        foreach (var (tenantId, attempt) in new[] { (other.Id, token), (tenant.Id, tampered), (tenant.Id, "not-a-token"), (tenant.Id, "") })
        {
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(EmailLinkPaths.CompleteEmailVerification,
                new CompleteEmailVerification(tenantId, attempt)), 400, "invalid_token");
        }

        Assert.False((await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}")))["data"]!["emailVerified"]!.GetValue<bool>());
        for (var click = 0; click < 2; click++)
        {
            var verified = (await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.CompleteEmailVerification,
                new CompleteEmailVerification(tenant.Id, token))))["data"]!;
            Assert.Equal(userId.ToString(), verified["userId"]!.GetValue<string>());
        }

        Assert.True((await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}")))["data"]!["emailVerified"]!.GetValue<bool>());
        Assert.Single(fixture.Smtp.To(address, EmailKinds.EmailVerification));
    }

    [Fact]
    public async Task EmailVerification_LinkForAnAddressThatChanged_IsInvalid()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { emailVerificationRequired = true } }));
        var address = $"mover@{tenant.Slug}.example.com";
        var userId = await Factory.CreateUserAsync(tenant, address, "a password 1234");
        var token = TokenIn(await fixture.MailToAsync(address, EmailKinds.EmailVerification), tenant, EmailLinkPaths.EmailVerification, Factory.PublicBaseUrl);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}", new { email = $"moved@{tenant.Slug}.example.com" }));

        using var client = Factory.Internal();
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(EmailLinkPaths.CompleteEmailVerification,
            new CompleteEmailVerification(tenant.Id, token)), 400, "invalid_token");
    }

    [Fact]
    public async Task EmailVerification_OnRequest_AnswersTheSameForEveryAddress_AndMailsOnlyTheUnverified()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        var unverified = $"pending@{tenant.Slug}.example.com";
        var verified = $"done@{tenant.Slug}.example.com";
        var unknown = $"ghost@{tenant.Slug}.example.com";
        var userId = await Factory.CreateUserAsync(tenant, unverified, "a password 1234");
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = verified, password = "a password 1234", emailVerified = true }), 201);
        using var client = Factory.Internal();
        using var watch = new BusWatch(Factory.Services.GetRequiredService<MassTransit.IBus>());

        var answers = new List<string>();
        foreach (var address in new[] { unknown, verified, unverified })
        {
            var body = await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestEmailVerification, new RequestEmailVerification(tenant.Id, address)), 202);
            body.Remove("correlationId");
            answers.Add(body.ToJsonString());
        }

        Assert.Single(answers.Distinct());
        var token = TokenIn(await fixture.MailToAsync(unverified, EmailKinds.EmailVerification), tenant, EmailLinkPaths.EmailVerification, Factory.PublicBaseUrl);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.CompleteEmailVerification, new CompleteEmailVerification(tenant.Id, token)));
        Assert.True((await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}")))["data"]!["emailVerified"]!.GetValue<bool>());
        await watch.WaitForHandledAsync<AddressLinkRequested>(m => m.TenantId == tenant.Id, count: 3);
        await Factory.WaitForOutboxAsync(tenant);
        Assert.Single(watch.Published<UserEmailVerificationRequested>(e => e.TenantId == tenant.Id));
        Assert.Empty(fixture.Smtp.To(verified));
        Assert.Empty(fixture.Smtp.To(unknown));

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestEmailVerification,
            new RequestEmailVerification(tenant.Id, "not an address")), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestEmailVerification,
            new RequestEmailVerification(Guid.NewGuid(), unverified)), 404, "tenant_not_found");
        using var anonymous = Factory.CreateDirectClient();
        await ApiAssert.ErrorAsync(await anonymous.PostAsJsonAsync(EmailLinkPaths.CompleteEmailVerification,
            new CompleteEmailVerification(tenant.Id, token)), 401, "unauthorized");
    }

    [Fact]
    public async Task EmailVerification_RepeatedRequests_WithinTheSpacing_MailOnce()
    {
        var tenant = await Factory.CreateTenantAsync();
        var address = $"flooded@{tenant.Slug}.example.com";
        await Factory.CreateUserAsync(tenant, address, "a password 1234");
        using var client = Factory.Internal();
        using var watch = new BusWatch(Factory.Services.GetRequiredService<MassTransit.IBus>());

        var requests = Enumerable.Range(0, 6).Select(_ =>
            client.PostAsJsonAsync(EmailLinkPaths.RequestEmailVerification, new RequestEmailVerification(tenant.Id, address)));
        foreach (var response in await Task.WhenAll(requests))
        {
            await ApiAssert.OkAsync(response, 202);
        }

        await fixture.MailToAsync(address, EmailKinds.EmailVerification);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestEmailVerification, new RequestEmailVerification(tenant.Id, address)), 202);
        // All seven handled and what they staged sent: one verification event, so one mail.
        await watch.WaitForHandledAsync<AddressLinkRequested>(m => m.TenantId == tenant.Id, count: 7);
        await Factory.WaitForOutboxAsync(tenant);
        Assert.Single(watch.Published<UserEmailVerificationRequested>(e => e.TenantId == tenant.Id));
        Assert.Single(fixture.Smtp.To(address, EmailKinds.EmailVerification));
    }

    [Fact]
    public async Task AccountLocked_AfterTooManyFailedLogins_MailsTheUser()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { maxFailedAttempts = 2 } }));
        var address = $"locked@{tenant.Slug}.example.com";
        await Factory.CreateUserAsync(tenant, address, "right password 123", "Lou Locked");
        using var client = Factory.Internal();
        AuthenticateResponse? last = null;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            using var login = await client.PostAsJsonAsync(InternalRoutes.Authenticate, new AuthenticateRequest(tenant.Id, address, "wrong password 123", null, null));
            last = await login.Content.ReadFromJsonAsync<AuthenticateResponse>();
        }

        Assert.Equal(AuthenticationOutcomes.Locked, last!.Outcome);
        var mail = await fixture.MailToAsync(address, EmailKinds.AccountLocked);
        Assert.Contains("Lou Locked", mail.Text, StringComparison.Ordinal);
        Assert.Contains(last.LockedUntil!.Value.UtcDateTime.ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture), mail.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("?token=", mail.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PasswordChanged_ByAnAdmin_MailsANotice_WithTheNameEncoded()
    {
        var tenant = await Factory.CreateTenantAsync();
        var address = $"changed@{tenant.Slug}.example.com";
        var userId = await Factory.CreateUserAsync(tenant, address, "old password 123", "<i>Chang</i>");
        using var admin = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/password", new { password = "new password 456" }));

        var mail = await fixture.MailToAsync(address, EmailKinds.PasswordChanged);
        Assert.Contains("&lt;i&gt;Chang&lt;/i&gt;", mail.Html, StringComparison.Ordinal);
        Assert.DoesNotContain("<i>Chang</i>", mail.Html, StringComparison.Ordinal);
        Assert.Contains("<i>Chang</i>", mail.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void EmailOptions_NeedASenderWhenAHostIsSet_AndAUserForAPassword()
    {
        static IReadOnlyList<ValidationResult> Validate(EmailOptions options)
        {
            var results = new List<ValidationResult>();
            Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
            return results;
        }

        Assert.Empty(Validate(new EmailOptions()));
        Assert.Empty(Validate(new EmailOptions { Host = "smtp.example.com", Sender = "LumoAuth <no-reply@example.com>" }));
        Assert.NotEmpty(Validate(new EmailOptions { Host = "smtp.example.com" }));
        Assert.NotEmpty(Validate(new EmailOptions { Host = "smtp.example.com", Sender = "not a mailbox" }));
        Assert.NotEmpty(Validate(new EmailOptions { Host = "smtp.example.com", Sender = "a@example.com", Password = "secret" }));
        Assert.NotEmpty(Validate(new EmailOptions { Host = "smtp.example.com", Sender = "a@example.com", Port = 0 }));
    }
}
