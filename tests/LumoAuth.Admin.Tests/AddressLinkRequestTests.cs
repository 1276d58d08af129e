using System.Net.Http.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Admin.Features.Email;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// Forgot password, sign-in link and new verification link by address: the request records one
/// <see cref="AddressLinkRequested"/> whatever the address and answers at once; admin's consumer looks the address up and
/// stages the link later. So the answer (body and the work behind it) is the same for an account and for nobody.
/// </summary>
public sealed class AddressLinkRequestTests(EmailAdminFixture fixture) : IClassFixture<EmailAdminFixture>
{
    private AdminFactory Factory => fixture.Admin;

    public static TheoryData<string> Kinds => [AddressLinkKinds.PasswordReset, AddressLinkKinds.MagicLink, AddressLinkKinds.EmailVerification];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Request_KnownAndUnknownAddress_AnswerAlike_EachRecordingOneRequest_BeforeAnyLookup(string kind)
    {
        var (tenant, known, userId) = await TenantWithUserAsync(kind);
        var unknown = $"nobody@{tenant.Slug}.example.com";
        using var watch = Watch();
        // Nothing consumes this tenant's requests until released: whatever is there before is the request's own doing.
        watch.Hold<AddressLinkRequested>(m => m.TenantId == tenant.Id);
        using var client = Factory.Internal();

        var answers = new List<string>();
        foreach (var address in new[] { known, unknown })
        {
            using var response = await client.PostAsJsonAsync(PathOf(kind), RequestOf(kind, tenant.Id, address.ToUpperInvariant(), "/continue"));
            var body = await ApiAssert.OkAsync(response, 202);
            body.Remove("correlationId");
            answers.Add(body.ToJsonString());
        }

        Assert.Single(answers.Distinct());
        await Factory.WaitForOutboxAsync(tenant);
        var recorded = watch.Published<AddressLinkRequested>(m => m.TenantId == tenant.Id);
        Assert.Equal(new[] { known, unknown }.Order(), recorded.Select(m => m.Email).Order());
        Assert.All(recorded, m => Assert.Equal(kind, m.Kind));
        Assert.All(recorded, m => Assert.Equal(kind == AddressLinkKinds.MagicLink ? "/continue" : null, m.ReturnUrl));
        Assert.Equal(0, await StagedAsync(kind, userId));
        Assert.Empty(LinkEvents(watch, tenant));

        watch.Release();
        await watch.WaitForHandledAsync<AddressLinkRequested>(m => m.TenantId == tenant.Id, count: 2);
        Assert.Equal(1, await StagedAsync(kind, userId));
        await fixture.MailToAsync(known, MailKindOf(kind));
        Assert.Empty(fixture.Smtp.To(unknown));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Consumer_KnownUser_StagesTheLink_AndMailsIt(string kind)
    {
        var (tenant, address, userId) = await TenantWithUserAsync(kind);
        using var watch = Watch();

        await PublishAsync(new AddressLinkRequested(kind, address) { TenantId = tenant.Id, ReturnUrl = "/t/x/continue" }, Guid.NewGuid());

        var mail = await fixture.MailToAsync(address, MailKindOf(kind));
        Assert.Contains($"/t/{tenant.Slug}", mail.Text, StringComparison.Ordinal);
        Assert.Equal(1, await StagedAsync(kind, userId));
        if (kind == AddressLinkKinds.MagicLink)
        {
            await using var scope = Factory.Services.CreateAsyncScope();
            var link = await scope.ServiceProvider.GetRequiredService<AdminDbContext>().MagicLinkTokens.IgnoreQueryFilters().SingleAsync(t => t.UserId == userId);
            Assert.Equal("/t/x/continue", link.ReturnUrl);
        }

        // The message carried the address; no log line does.
        fixture.Logs.AssertNeverLogged(address);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Consumer_SameMessageDeliveredTwice_StagesOnce_AndMailsOnce(string kind)
    {
        var (tenant, address, userId) = await TenantWithUserAsync(kind);
        using var watch = Watch();
        var message = new AddressLinkRequested(kind, address) { TenantId = tenant.Id };
        var messageId = Guid.NewGuid();

        await PublishAsync(message, messageId);
        await PublishAsync(message, messageId);
        await watch.WaitForHandledAsync<AddressLinkRequested>(m => m.TenantId == tenant.Id, count: 2, messageId);

        // Everything either delivery staged has left by now: one link event, so one mail.
        await Factory.WaitForOutboxAsync(tenant);
        Assert.Single(LinkEvents(watch, tenant));
        Assert.Equal(1, await StagedAsync(kind, userId));
        await fixture.MailToAsync(address, MailKindOf(kind));
        Assert.Single(fixture.Smtp.To(address, MailKindOf(kind)));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Consumer_UnknownAddress_StagesNothing_AndMailsNothing(string kind)
    {
        var (tenant, _, _) = await TenantWithUserAsync(kind);
        var unknown = $"ghost@{tenant.Slug}.example.com";
        using var watch = Watch();

        await PublishAsync(new AddressLinkRequested(kind, unknown) { TenantId = tenant.Id }, Guid.NewGuid());
        await watch.WaitForHandledAsync<AddressLinkRequested>(m => m.TenantId == tenant.Id);

        await Factory.WaitForOutboxAsync(tenant);
        Assert.Empty(LinkEvents(watch, tenant));
        await using var scope = Factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        Assert.False(await db.PasswordResetTokens.IgnoreQueryFilters().AnyAsync(t => t.TenantId == tenant.Id));
        Assert.False(await db.MagicLinkTokens.IgnoreQueryFilters().AnyAsync(t => t.TenantId == tenant.Id));
        Assert.False(await db.Users.IgnoreQueryFilters().AnyAsync(u => u.TenantId == tenant.Id && u.EmailVerificationRequestedAt != null));
        Assert.Empty(fixture.Smtp.To(unknown));
    }

    /// <summary>A request that waited out an outage past the consumer's limit is dropped: nobody is still waiting for its mail.</summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Consumer_RequestOlderThanItsMaxAge_StagesNothing(string kind)
    {
        var (tenant, address, userId) = await TenantWithUserAsync(kind);
        using var watch = Watch();
        var late = new AddressLinkRequested(kind, address)
        {
            TenantId = tenant.Id, OccurredAt = DateTimeOffset.UtcNow - AddressLinkRequestConsumer.MaxAge - TimeSpan.FromMinutes(1),
        };

        await PublishAsync(late, Guid.NewGuid());
        await watch.WaitForHandledAsync<AddressLinkRequested>(m => m.TenantId == tenant.Id);

        await Factory.WaitForOutboxAsync(tenant);
        Assert.Empty(LinkEvents(watch, tenant));
        Assert.Equal(0, await StagedAsync(kind, userId));
    }

    /// <summary>A password reset is a way to sign in: an account that may not sign in gets no link, as with sign-in links.</summary>
    [Theory]
    [InlineData("deactivated")]
    [InlineData("deleted")]
    public async Task Consumer_PasswordReset_ForAnAccountThatMayNotSignIn_StagesNothing(string state)
    {
        var (tenant, address, userId) = await TenantWithUserAsync(AddressLinkKinds.PasswordReset);
        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<AdminDbContext>().Users.IgnoreQueryFilters().Where(u => u.Id == userId);
            _ = state == "deactivated"
                ? await users.ExecuteUpdateAsync(s => s.SetProperty(u => u.IsActive, false))
                : await users.ExecuteUpdateAsync(s => s.SetProperty(u => u.SoftDeletedAt, DateTimeOffset.UtcNow));
        }

        using var watch = Watch();
        await PublishAsync(new AddressLinkRequested(AddressLinkKinds.PasswordReset, address) { TenantId = tenant.Id }, Guid.NewGuid());
        await watch.WaitForHandledAsync<AddressLinkRequested>(m => m.TenantId == tenant.Id);

        await Factory.WaitForOutboxAsync(tenant);
        Assert.Empty(LinkEvents(watch, tenant));
        Assert.Equal(0, await StagedAsync(AddressLinkKinds.PasswordReset, userId));
    }

    [Fact]
    public async Task AddressLinkRequested_IsNeitherAWebhookEvent_NorAudited()
    {
        var (tenant, address, _) = await TenantWithUserAsync(AddressLinkKinds.PasswordReset);
        using var admin = Factory.ClientFor(tenant);
        var events = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/webhooks/events")))["data"]!.AsArray().Select(e => e!.GetValue<string>());
        Assert.DoesNotContain(events, e => e.StartsWith("address", StringComparison.Ordinal));

        // The request's own audit trail is the link's event, once the consumer has staged it.
        using var client = Factory.Internal();
        await ApiAssert.OkAsync(await client.PostAsJsonAsync(EmailLinkPaths.RequestPasswordReset, new RequestPasswordResetByEmail(tenant.Id, address)), 202);
        await ApiAssert.EventuallyAsync(async () =>
            (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_password_reset_requested")))["data"]!.AsArray().FirstOrDefault());
        // Not an action of the log at all: the filter refuses the name, and the table holds no such entry.
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action=address_link_requested"), 400, "validation_error");
        await using var scope = Factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        Assert.False(await db.AuditLogs.IgnoreQueryFilters().AnyAsync(a => a.TenantId == tenant.Id && a.Action == "address_link_requested"));
    }

    private BusWatch Watch() => new(Factory.Services.GetRequiredService<IBus>());

    private Task PublishAsync(AddressLinkRequested message, Guid messageId) =>
        Factory.Services.GetRequiredService<IBus>().Publish(message, context => context.MessageId = messageId);

    /// <summary>A tenant (sign-in links on for that kind) with a user who may get a link of the kind: active, unverified.</summary>
    private async Task<(TestTenant Tenant, string Address, Guid UserId)> TenantWithUserAsync(string kind)
    {
        var tenant = await Factory.CreateTenantAsync();
        var address = $"someone@{tenant.Slug}.example.com";
        var userId = await Factory.CreateUserAsync(tenant, address, "a password 1234", "Sam Someone");
        if (kind == AddressLinkKinds.MagicLink)
        {
            using var admin = Factory.ClientFor(tenant);
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkEnabled = true } }));
        }

        return (tenant, address, userId);
    }

    private static string PathOf(string kind) => kind switch
    {
        AddressLinkKinds.PasswordReset => EmailLinkPaths.RequestPasswordReset,
        AddressLinkKinds.MagicLink => EmailLinkPaths.RequestMagicLink,
        _ => EmailLinkPaths.RequestEmailVerification,
    };

    private static object RequestOf(string kind, Guid tenantId, string address, string returnUrl) => kind switch
    {
        AddressLinkKinds.PasswordReset => new RequestPasswordResetByEmail(tenantId, address),
        AddressLinkKinds.MagicLink => new RequestMagicLink(tenantId, address, returnUrl),
        _ => new RequestEmailVerification(tenantId, address),
    };

    private static string MailKindOf(string kind) => kind switch
    {
        AddressLinkKinds.PasswordReset => EmailKinds.PasswordReset,
        AddressLinkKinds.MagicLink => EmailKinds.MagicLink,
        _ => EmailKinds.EmailVerification,
    };

    /// <summary>The events that lead to a link's mail, published for the tenant.</summary>
    private static IReadOnlyList<IntegrationEvent> LinkEvents(BusWatch watch, TestTenant tenant) =>
        watch.Published<IntegrationEvent>(e => e.TenantId == tenant.Id
            && e is UserPasswordResetRequested or UserMagicLinkRequested or UserEmailVerificationRequested);

    /// <summary>What the consumer staged for the user: reset or sign-in links, or 1 once a verification mail was claimed.</summary>
    private async Task<int> StagedAsync(string kind, Guid userId)
    {
        await using var scope = Factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        return kind switch
        {
            AddressLinkKinds.PasswordReset => await db.PasswordResetTokens.IgnoreQueryFilters().CountAsync(t => t.UserId == userId),
            AddressLinkKinds.MagicLink => await db.MagicLinkTokens.IgnoreQueryFilters().CountAsync(t => t.UserId == userId),
            _ => await db.Users.IgnoreQueryFilters().CountAsync(u => u.Id == userId && u.EmailVerificationRequestedAt != null),
        };
    }
}
