using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.AuditLogs;
using LumoAuth.Admin.Features.Gdpr;
using LumoAuth.Admin.Features.Webhooks;
using LumoAuth.Contracts.Clients;
using LumoAuth.Contracts.Webhooks;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

/// <summary>An admin allowed to reach a receiver on loopback, with fast retries, a low disable threshold, and mail to a local receiver.</summary>
public sealed class WebhookAdminFixture() : EmailAdminFixture(new Dictionary<string, string?>
{
    ["Webhooks:AllowPrivateTargets"] = "true",
    ["Webhooks:RetryBaseDelay"] = "00:00:00.300",
    ["Webhooks:PollInterval"] = "00:00:00.200",
    ["Webhooks:DisableAfterConsecutiveFailures"] = "3",
    ["Webhooks:Timeout"] = "00:00:30",
    ["Webhooks:MaxConcurrentPerTenant"] = "3",
    ["Webhooks:MaxConcurrentPerWebhook"] = "2",
});

[RunsLong(70)]
public sealed class WebhookTests(WebhookAdminFixture fixture) : IClassFixture<WebhookAdminFixture>
{
    private AdminFactory Factory => fixture.Admin;

    private static string Hmac(string secret, string content) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(content)));

    [Fact]
    public async Task WebhooksInvitationsAndApiKeys_AreSearchedAndSorted()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        static async Task<IReadOnlyList<string>> ListAsync(HttpClient client, string url, Func<JsonNode, string> field) =>
            [.. (await ApiAssert.OkAsync(await client.GetAsync(url)))["data"]!.AsArray().Select(e => field(e!))];

        foreach (var host in new[] { "b-hooks", "a-hooks", "c-other" })
        {
            await CreateWebhookAsync(client, tenant, $"https://{host}.example.com/in", "user.created");
        }

        var hooks = $"{tenant.Api}/admin/webhooks";
        Assert.Equal(["https://b-hooks.example.com/in", "https://a-hooks.example.com/in"], await ListAsync(client, hooks + "?search=HOOKS", h => h["url"]!.GetValue<string>()));
        Assert.Equal(["https://c-other.example.com/in", "https://b-hooks.example.com/in", "https://a-hooks.example.com/in"],
            await ListAsync(client, hooks + "?sortBy=url&sortDir=DESC", h => h["url"]!.GetValue<string>()));

        foreach (var email in new[] { "bea@example.com", "al@example.com", "cy@example.org" })
        {
            await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/invitations", new { email }), 201);
        }

        var invitations = $"{tenant.Api}/admin/invitations";
        Assert.Equal(["cy@example.org", "al@example.com", "bea@example.com"], await ListAsync(client, invitations, i => i["email"]!.GetValue<string>()));
        Assert.Equal(["al@example.com", "bea@example.com"], await ListAsync(client, invitations + "?search=example.com&sortBy=email", i => i["email"]!.GetValue<string>()));
        Assert.Equal(3, (await ListAsync(client, invitations + "?status=pending", i => i["email"]!.GetValue<string>())).Count);
        Assert.Empty(await ListAsync(client, invitations + "?status=accepted", i => i["email"]!.GetValue<string>()));
        Assert.Empty(await ListAsync(client, invitations + "?status=expired", i => i["email"]!.GetValue<string>()));
        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>().Invitations.IgnoreQueryFilters()
                .Where(i => i.TenantId == tenant.Id && i.NormalizedEmail == "cy@example.org")
                .ExecuteUpdateAsync(u => u.SetProperty(i => i.ExpiresAt, DateTimeOffset.UtcNow.AddMinutes(-1)));
        }

        Assert.Equal(["cy@example.org"], await ListAsync(client, invitations + "?status=expired", i => i["email"]!.GetValue<string>()));
        Assert.Equal(2, (await ListAsync(client, invitations + "?status=pending", i => i["email"]!.GetValue<string>())).Count);

        foreach (var name in new[] { "deploy bot", "audit reader" })
        {
            await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name, scopes = new[] { "admin:read" } }), 201);
        }

        var keys = $"{tenant.Api}/admin/api-keys";
        Assert.Equal(["deploy bot"], await ListAsync(client, keys + "?search=Deploy", k => k["name"]!.GetValue<string>()));
        var byName = await ListAsync(client, keys + "?sortBy=name", k => k["name"]!.GetValue<string>());
        Assert.Equal(byName.Order(StringComparer.Ordinal), byName);

        foreach (var url in new[] { hooks + "?sortBy=secret", invitations + "?sortDir=up", invitations + "?status=gone", keys + "?sortBy=keyHash" })
        {
            await ApiAssert.ErrorAsync(await client.GetAsync(url), 400, "validation_error");
        }
    }

    private static async Task<(string Id, string Secret)> CreateWebhookAsync(HttpClient client, TestTenant tenant, string url, params string[] events)
    {
        var data = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/webhooks", new { url, events }), 201))["data"]!;
        return (data["webhook"]!["id"]!.GetValue<string>(), data["secret"]!.GetValue<string>());
    }

    private static async Task<JsonObject> DeliveryAsync(HttpClient client, TestTenant tenant, string webhookId, Func<JsonObject, bool> done)
    {
        var summary = await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{webhookId}/deliveries"));
            return page["data"]!.AsArray().Select(d => d!.AsObject()).FirstOrDefault(done);
        }, TimeSpan.FromSeconds(30));
        return (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{webhookId}/deliveries/{summary["id"]!.GetValue<string>()}")))["data"]!.AsObject();
    }

    /// <summary>
    /// Stored deliveries name the user (user.created carries the address) and can be replayed: erasing the user's data
    /// deletes them, also where the address is escaped in the stored JSON (a "+" is).
    /// </summary>
    [Fact]
    public async Task GdprErasure_DeletesTheStoredDeliveriesThatNameTheUser()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var (webhookId, _) = await CreateWebhookAsync(client, tenant, receiver.Url, "user.created");
        var email = $"forget+{Guid.NewGuid():N}@example.com";
        var userId = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email }), 201))["data"]!["id"]!.GetValue<string>();
        // Another user whose address contains the erased one's keeps their deliveries.
        var other = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "big" + email }), 201))["data"]!["id"]!.GetValue<string>();
        var delivery = await DeliveryAsync(client, tenant, webhookId, d => d["status"]!.GetValue<string>() == "succeeded");
        // The payloads as stored (the API shows a delivery's outcome, not its body).
        async Task<List<string>> PayloadsAsync()
        {
            await using var scope = Factory.Services.CreateAsyncScope();
            var hook = Guid.Parse(webhookId);
            return await scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>().WebhookDeliveries.IgnoreQueryFilters()
                .Where(d => d.WebhookId == hook).Select(d => d.Payload).ToListAsync();
        }

        await ApiAssert.EventuallyAsync(async () =>
        {
            var payloads = await PayloadsAsync();
            return payloads.Any(p => p.Contains(userId, StringComparison.Ordinal)) && payloads.Any(p => p.Contains(other, StringComparison.Ordinal)) ? payloads : null;
        }, TimeSpan.FromSeconds(30));

        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/gdpr/data-deletion", new { userId }));

        var left = await PayloadsAsync();
        Assert.DoesNotContain(left, p => p.Contains(userId, StringComparison.Ordinal));
        Assert.Single(left, p => p.Contains("forget", StringComparison.Ordinal));
        Assert.Contains(left, p => p.Contains(other, StringComparison.Ordinal));
        Assert.NotNull(delivery);
    }

    /// <summary>
    /// An event naming the user that reaches webhooks after the erasure (in flight at it, or raised by a service acting on the
    /// deletion) is delivered as the audit log keeps it: the user's id replaced by the pseudonym, the address struck out. The
    /// deletion's own user.deleted still names the user: it tells receivers whom to forget.
    /// </summary>
    [Fact]
    public async Task GdprErasure_LateEventsNamingTheUser_AreDeliveredPseudonymised()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var (webhookId, _) = await CreateWebhookAsync(client, tenant, "https://late-events.example.com/in", "user.login", "user.deleted");
        var email = $"late+{Guid.NewGuid():N}@example.com";
        var userId = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email }), 201))["data"]!["id"]!.GetValue<string>();
        var signedInAt = DateTimeOffset.UtcNow;

        var erasure = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/gdpr/data-deletion", new { userId }));
        var erasedAs = erasure["data"]!["erasedAs"]!.GetValue<string>();
        var late = new LumoAuth.Contracts.Users.UserLoginSucceeded(Guid.Parse(userId), ["pwd"])
        {
            TenantId = tenant.Id, OccurredAt = signedInAt, Actor = new LumoAuth.Contracts.EventActor(LumoAuth.Contracts.ActorTypes.User, userId, email),
        };
        await Factory.Services.GetRequiredService<IBus>().Publish(late);

        var hook = Guid.Parse(webhookId);
        var payloads = await ApiAssert.EventuallyAsync(async () =>
        {
            await using var scope = Factory.Services.CreateAsyncScope();
            var stored = await scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>().WebhookDeliveries.IgnoreQueryFilters()
                .Where(d => d.WebhookId == hook).ToDictionaryAsync(d => d.EventType, d => d.Payload);
            return stored.Count == 2 ? stored : null;
        }, TimeSpan.FromSeconds(30));

        var login = payloads["user.login"];
        Assert.Contains(erasedAs, login, StringComparison.Ordinal);
        Assert.DoesNotContain(userId, login, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("late", login, StringComparison.Ordinal);
        Assert.Contains(DataErasure.StruckOut, login, StringComparison.Ordinal);
        Assert.Contains(userId, payloads["user.deleted"], StringComparison.Ordinal);
    }

    /// <summary>
    /// While an erasure of the tenant is under way (its transaction holds the tenant's erasure lock), deliveries of the tenant
    /// wait for it: an event naming the user that arrives meanwhile is written once the erasure has committed, pseudonymised,
    /// rather than just before and past the erasure's delete of the stored deliveries.
    /// </summary>
    [Fact]
    public async Task GdprErasure_UnderWay_HoldsBackTheTenantsDeliveries_UntilItIsCommitted()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var (webhookId, _) = await CreateWebhookAsync(client, tenant, "https://held-back.example.com/in", "user.login");
        var email = $"held+{Guid.NewGuid():N}@example.com";
        var userId = Guid.Parse((await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email }), 201))["data"]!["id"]!.GetValue<string>());
        var hook = Guid.Parse(webhookId);
        async Task<List<string>> PayloadsAsync()
        {
            await using var scope = Factory.Services.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<AdminDbContext>().WebhookDeliveries.IgnoreQueryFilters()
                .Where(d => d.WebhookId == hook).Select(d => d.Payload).ToListAsync();
        }

        await using (var erasing = Factory.Services.CreateAsyncScope())
        {
            var db = erasing.ServiceProvider.GetRequiredService<AdminDbContext>();
            await using var transaction = await db.Database.BeginTransactionAsync();
            await DataErasure.LockTenantErasuresAsync(db, tenant.Id, shared: false, CancellationToken.None);

            await Factory.Services.GetRequiredService<IBus>().Publish(new LumoAuth.Contracts.Users.UserLoginSucceeded(userId, ["pwd"])
            {
                TenantId = tenant.Id, Actor = new LumoAuth.Contracts.EventActor(LumoAuth.Contracts.ActorTypes.User, userId.ToString(), email),
            });
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.Empty(await PayloadsAsync());

            db.ErasedSubjects.Add(new ErasedSubject
            {
                Id = Guid.CreateVersion7(), TenantId = tenant.Id, UserId = userId, Email = email, ErasedAs = "erased_heldback", ErasedAt = DateTimeOffset.UtcNow,
                PseudonymisedFrom = DateTimeOffset.UtcNow,
            });
            await db.SaveChangesAsync();
            await transaction.CommitAsync();
        }

        var payload = (await ApiAssert.EventuallyAsync(async () => await PayloadsAsync() is [var one] ? one : null, TimeSpan.FromSeconds(30)))!;
        Assert.Contains("erased_heldback", payload, StringComparison.Ordinal);
        Assert.DoesNotContain(userId.ToString(), payload, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(email, payload, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Finished deliveries are kept 30 days for inspection and replay, then purged; pending ones stay however old.</summary>
    [Fact]
    public async Task FinishedDeliveries_OlderThanTheRetention_ArePurged()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var (webhookId, _) = await CreateWebhookAsync(client, tenant, "https://retention.example.com/in", "user.created");
        var hook = Guid.Parse(webhookId);
        var now = DateTimeOffset.UtcNow;
        WebhookDelivery Delivery(string status, DateTimeOffset? completedAt) => new()
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.Id, WebhookId = hook, EventId = "evt_" + Guid.NewGuid().ToString("N"), EventType = "user.created",
            Payload = "{}", Status = status, NextAttemptAt = now.AddYears(1), CreatedAt = now.AddDays(-60), CompletedAt = completedAt,
        };
        var old = Delivery(WebhookDeliveryStatuses.Succeeded, now.AddDays(-31));
        var recent = Delivery(WebhookDeliveryStatuses.Failed, now.AddDays(-29));
        var pending = Delivery(WebhookDeliveryStatuses.Pending, null);
        await using var scope = Factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>();
        db.WebhookDeliveries.AddRange(old, recent, pending);
        await db.SaveChangesAsync();

        var purged = await LumoAuth.Admin.Features.AuditLogs.AuditHousekeeping.PurgeDeliveriesAsync(db, now, CancellationToken.None);

        // Only these three: the tenant's own admin may have been delivered to the hook meanwhile.
        Guid[] planted = [old.Id, recent.Id, pending.Id];
        var left = await db.WebhookDeliveries.IgnoreQueryFilters().AsNoTracking().Where(d => planted.Contains(d.Id)).Select(d => d.Id).ToListAsync();
        Assert.True(purged >= 1);
        Assert.Equal(new[] { recent.Id, pending.Id }.Order(), left.Order());
    }

    [Fact]
    public async Task AccountLockout_IsDeliveredAsSecurityAccountLockout()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        await CreateWebhookAsync(client, tenant, receiver.Url, "security.account_lockout");
        var userId = await Factory.CreateUserAsync(tenant, "target@example.com", "the right password 1");

        using var internalApi = Factory.Internal();
        for (var attempt = 0; attempt < 5; attempt++)
        {
            using var failed = await internalApi.PostAsJsonAsync(LumoAuth.Contracts.Internal.InternalRoutes.Authenticate,
                new LumoAuth.Contracts.Internal.AuthenticateRequest(tenant.Id, "target@example.com", "a wrong guess", null, "198.51.100.4"));
            Assert.True(failed.IsSuccessStatusCode, await failed.Content.ReadAsStringAsync());
        }

        var received = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            return receiver.Received.FirstOrDefault();
        }, TimeSpan.FromSeconds(30));
        var body = JsonNode.Parse(received.Body)!;
        Assert.Equal("security.account_lockout", body["type"]!.GetValue<string>());
        Assert.Contains(userId.ToString(), received.Body, StringComparison.Ordinal);
        Assert.Single(receiver.Received);
    }

    [Fact]
    public async Task AdaptiveAuthVerdicts_AreDeliveredUnderTheirDocumentedNames()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { adaptiveAuth = new { enabled = true, trustedIpRanges = new[] { "192.0.2.0/24" } } }));
        await CreateWebhookAsync(client, tenant, receiver.Url, "adaptive_auth.low_risk", "adaptive_auth.medium_risk", "adaptive_auth.high_risk");
        var userId = await Factory.CreateUserAsync(tenant, "risky@example.com", "the right password 1");

        using var internalApi = Factory.Internal();
        async Task SignInAsync(string password, string device, string address)
        {
            using var response = await internalApi.PostAsJsonAsync(LumoAuth.Contracts.Internal.InternalRoutes.Authenticate,
                new LumoAuth.Contracts.Internal.AuthenticateRequest(tenant.Id, "risky@example.com", password, null, address) { DeviceId = device });
            Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        }

        await SignInAsync("the right password 1", "low-device-id-00000000000000001", "192.0.2.10");
        await SignInAsync("the right password 1", "mid-device-id-00000000000000002", "203.0.113.20");
        await SignInAsync("a wrong guess", "bad-device-id-00000000000000003", "198.51.100.66");
        await SignInAsync("another guess", "bad-device-id-00000000000000003", "198.51.100.66");
        await SignInAsync("the right password 1", "bad-device-id-00000000000000003", "198.51.100.66");

        var bodies = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            var received = receiver.Received.Select(r => JsonNode.Parse(r.Body)!).ToList();
            // Deliveries go out in parallel: wait for each kind, not for the last one sent.
            return received.Select(b => b["type"]!.GetValue<string>()).Distinct().Count() == 3 ? received : null;
        }, TimeSpan.FromSeconds(30));
        var byType = bodies.ToLookup(b => b["type"]!.GetValue<string>(), b => b["data"]!);
        Assert.Equal(["adaptive_auth.high_risk", "adaptive_auth.low_risk", "adaptive_auth.medium_risk"], byType.Select(g => g.Key).Order(StringComparer.Ordinal));
        Assert.All(bodies, body => Assert.Equal(userId.ToString(), body["data"]!["userId"]!.GetValue<string>()));
        Assert.Equal(["trusted_ip"], byType["adaptive_auth.low_risk"].Single()["signals"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Contains(byType["adaptive_auth.medium_risk"], data => data["challenge"]!.GetValue<string>() == "none_available");
        Assert.True(byType["adaptive_auth.high_risk"].Single()["riskScore"]!.GetValue<int>() > 70);
    }

    [Fact]
    public async Task UserCreation_ReachesTheReceiver_CorrectlySigned()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var (webhookId, secret) = await CreateWebhookAsync(client, tenant, receiver.Url, "user.created");
        Assert.StartsWith("whsec_", secret);

        // The tenant's own admin (created with the tenant) may be delivered too, if its event arrives after
        // the webhook exists: look for this user's delivery.
        var userId = await Factory.CreateUserAsync(tenant, "hooked@example.com");
        var received = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            return receiver.Received.FirstOrDefault(r => r.Body.Contains(userId.ToString(), StringComparison.Ordinal));
        });
        Assert.Equal(Hmac(secret, received.Body), received.Headers["X-Lumo-Signature"]);
        var timestamp = received.Headers["X-Lumo-Timestamp"];
        Assert.Equal($"t={timestamp},v1={Hmac(secret, timestamp + "." + received.Body)}", received.Headers["X-Lumo-Signature-256"]);
        Assert.InRange(long.Parse(timestamp), DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeSeconds());

        var body = JsonNode.Parse(received.Body)!;
        Assert.Equal("user.created", body["type"]!.GetValue<string>());
        Assert.StartsWith("evt_", body["id"]!.GetValue<string>());
        Assert.Equal(tenant.Slug, body["tenant"]!.GetValue<string>());
        var occurred = DateTimeOffset.Parse(body["timestamp"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.Zero, occurred.Offset);
        Assert.InRange(occurred, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
        Assert.Equal(userId.ToString(), body["data"]!["userId"]!.GetValue<string>());
        // The docs' shape beside the flat members: data.user, from what the event carries.
        Assert.Equal(userId.ToString(), body["data"]!["user"]!["id"]!.GetValue<string>());
        Assert.Equal("hooked@example.com", body["data"]!["user"]!["email"]!.GetValue<string>());
        Assert.Equal(body["id"]!.GetValue<string>(), received.Headers["X-Lumo-Event-Id"]);
        var delivery = await DeliveryAsync(client, tenant, webhookId, d => d["eventId"]!.GetValue<string>() == body["id"]!.GetValue<string>());
        Assert.Equal("succeeded", delivery["status"]!.GetValue<string>());
        Assert.Equal("user.created", delivery["eventType"]!.GetValue<string>());

        var hook = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{webhookId}")))["data"]!;
        Assert.NotNull(hook["lastDeliveredAt"]);
        Assert.DoesNotContain(secret, hook.ToJsonString());
        Assert.DoesNotContain("whsec_", (await client.GetStringAsync($"{tenant.Api}/admin/webhooks")));
    }

    [Fact]
    public void UserEventData_CarriesTheUserObject_OnlyFromWhatTheEventHolds()
    {
        var userId = Guid.NewGuid();
        var self = new LumoAuth.Contracts.EventActor(LumoAuth.Contracts.ActorTypes.User, userId.ToString(), "self@example.com");
        var login = JsonNode.Parse(WebhookPayloads.DataOf(new LumoAuth.Contracts.Users.UserLoginSucceeded(userId, ["pwd"]) { Actor = self }, "user.login"))!;
        Assert.Equal(userId.ToString(), login["userId"]!.GetValue<string>());
        Assert.Equal(userId.ToString(), login["user"]!["id"]!.GetValue<string>());
        Assert.Equal("self@example.com", login["user"]!["email"]!.GetValue<string>());

        // Another actor's address is not the user's; an event with no user id has no user object.
        var byAdmin = new LumoAuth.Contracts.EventActor(LumoAuth.Contracts.ActorTypes.User, Guid.NewGuid().ToString(), "admin@example.com");
        var blocked = JsonNode.Parse(WebhookPayloads.DataOf(new LumoAuth.Contracts.Users.UserBlocked(userId) { Actor = byAdmin }, "user.blocked"))!;
        Assert.Equal(["id"], blocked["user"]!.AsObject().Select(p => p.Key));
        Assert.Null(JsonNode.Parse(WebhookPayloads.DataOf(new LumoAuth.Contracts.Users.UserLoginFailed(null, "unknown_user"), "user.login_failed"))!["user"]);
        var invited = new LumoAuth.Contracts.Users.UserInvited(Guid.NewGuid(), "new@example.com", [], [], DateTimeOffset.UtcNow);
        Assert.Null(JsonNode.Parse(WebhookPayloads.DataOf(invited, "user.invited"))!["user"]);
    }

    [Fact]
    public async Task BatchedTokenIssuance_IsOneTokenIssuedDeliveryPerToken()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var (webhookId, _) = await CreateWebhookAsync(client, tenant, receiver.Url, "token.issued");
        var tokenIds = Enumerable.Range(0, 2).Select(_ => Guid.NewGuid().ToString()).ToList();
        var batch = new AccessTokensIssued(
            [.. tokenIds.Select(id => new IssuedAccessToken("m2m", "client_credentials", null, id, ["orders.read"], DateTimeOffset.UtcNow))])
        { TenantId = tenant.Id };
        var messageId = Guid.NewGuid();
        var bus = Factory.Services.GetRequiredService<IBus>();
        await bus.Publish(batch, ctx => ctx.MessageId = messageId);
        await bus.Publish(batch, ctx => ctx.MessageId = messageId);

        var bodies = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            var received = receiver.Received.Select(r => JsonNode.Parse(r.Body)!).ToList();
            return received.Count >= 2 ? received : null;
        });
        await Task.Delay(1000);
        Assert.Equal(2, receiver.Received.Count);
        Assert.All(bodies, b => Assert.Equal("token.issued", b["type"]!.GetValue<string>()));
        Assert.Equal(tokenIds.Order(), bodies.Select(b => b["data"]!["tokenId"]!.GetValue<string>()).Order());
        Assert.Equal(2, bodies.Select(b => b["id"]!.GetValue<string>()).Distinct().Count());
        var deliveries = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{webhookId}/deliveries"));
        Assert.Equal(2, deliveries["data"]!.AsArray().Count);
    }

    /// <summary>
    /// One tenant's slow receivers hold at most its caps of sending slots (per webhook, per tenant), so another tenant's
    /// delivery leaves at once instead of waiting behind them, and the slow backlog still drains.
    /// </summary>
    [Fact]
    public async Task SlowReceiversOfOneTenant_DoNotHoldBackAnotherTenantsDeliveries()
    {
        await using var slowOne = await WebhookReceiver.StartAsync();
        await using var slowTwo = await WebhookReceiver.StartAsync();
        await using var fast = await WebhookReceiver.StartAsync();
        // Each slow receiver's first two calls take 20 s (inside the 30 s timeout; the fast delivery must come within them,
        // on a loaded run too), the rest half a second.
        slowOne.DelayFor = slowTwo.DelayFor = (call, _) => TimeSpan.FromMilliseconds(call <= 2 ? 20_000 : 500);
        var slowTenant = await Factory.CreateTenantAsync();
        var fastTenant = await Factory.CreateTenantAsync();
        using (var client = Factory.ClientFor(slowTenant))
        {
            await CreateWebhookAsync(client, slowTenant, slowOne.Url, "token.issued");
            await CreateWebhookAsync(client, slowTenant, slowTwo.Url, "token.issued");
        }

        using (var client = Factory.ClientFor(fastTenant))
        {
            await CreateWebhookAsync(client, fastTenant, fast.Url, "token.issued");
        }

        static AccessTokensIssued Tokens(TestTenant tenant, int count) => new(
            [.. Enumerable.Range(0, count).Select(_ => new IssuedAccessToken("m2m", "client_credentials", null, Guid.NewGuid().ToString(), ["orders.read"], DateTimeOffset.UtcNow))])
        { TenantId = tenant.Id };
        var bus = Factory.Services.GetRequiredService<IBus>();
        await bus.Publish(Tokens(slowTenant, 3)); // three deliveries to each slow webhook
        await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            return slowOne.Started + slowTwo.Started > 0 ? "sending" : null;
        });

        await bus.Publish(Tokens(fastTenant, 1));
        await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            return fast.Received.IsEmpty ? null : "delivered";
        });
        // The fast delivery left while the first slow calls were still being answered, and no more than the tenant's cap
        // of them had been started.
        Assert.InRange(slowOne.Started + slowTwo.Started, 1, 3);

        await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            return slowOne.Received.Count + slowTwo.Received.Count == 6 ? "drained" : null;
        }, TimeSpan.FromSeconds(90));
        Assert.InRange(slowOne.MostInFlight, 1, 2);
        Assert.InRange(slowTwo.MostInFlight, 1, 2);
    }

    [Fact]
    public async Task FailingReceiver_GetsRetries_AndExactlyOneSuccessIsRecorded()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var (webhookId, _) = await CreateWebhookAsync(client, tenant, receiver.Url, "user.created");

        // Only this user's delivery is failed twice: the tenant's own admin may be delivered too.
        var calls = 0;
        receiver.StatusFor = (_, body) =>
            body.Contains("retry@example.com", StringComparison.Ordinal) && Interlocked.Increment(ref calls) <= 2 ? 500 : 200;
        await Factory.CreateUserAsync(tenant, "retry@example.com");
        var delivery = await DeliveryAsync(client, tenant, webhookId, d => d["status"]!.GetValue<string>() != "pending" && d["attempts"]!.GetValue<int>() == 3);
        Assert.Equal("succeeded", delivery["status"]!.GetValue<string>());
        Assert.Equal(3, delivery["attempts"]!.GetValue<int>());
        Assert.Equal([500, 500, 200], delivery["attemptLog"]!.AsArray().Select(a => a!["statusCode"]!.GetValue<int>()).ToList());

        await Task.Delay(1500); // a stray extra attempt would show up within the retry delay
        var forUser = receiver.Received.Where(r => r.Body.Contains("retry@example.com", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, forUser.Count);
        Assert.Single(forUser, r => r.AnsweredStatus == 200);
        Assert.Single(forUser.Select(r => r.Body).Distinct());
        var all = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{webhookId}/deliveries"));
        Assert.Single(all["data"]!.AsArray(), d => d!["eventId"]!.GetValue<string>() == delivery["eventId"]!.GetValue<string>());
        Assert.Equal(0, (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{webhookId}")))["data"]!["failureCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task ReceiverThatKeepsFailing_GetsTheWebhookDisabled()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.StatusFor = (_, _) => 503;
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var (webhookId, _) = await CreateWebhookAsync(client, tenant, receiver.Url, "*");

        await Factory.CreateUserAsync(tenant, "doomed@example.com");
        var hook = await ApiAssert.EventuallyAsync(async () =>
        {
            var data = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{webhookId}")))["data"]!;
            return data["isActive"]!.GetValue<bool>() ? null : data.AsObject();
        }, TimeSpan.FromSeconds(30));
        Assert.True(hook["failureCount"]!.GetValue<int>() >= 3);
        Assert.NotNull(hook["disabledAt"]);
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=webhook_disabled&targetId={webhookId}"));
            return page["meta"]!["total"]!.GetValue<long>() == 1 ? page : null;
        });

        // The tenant's administrator is told by mail.
        var notice = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            var mails = fixture.Smtp.To($"admin@{tenant.Slug}.example.com", "webhook_disabled");
            return mails.Count > 0 ? mails[0] : null;
        });
        // Only the URL's origin travels in the WebhookDisabled event (hence the mail and the audit entry), not its path.
        Assert.Contains(WebhookUrls.OriginOf(receiver.Url), notice.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(receiver.Url, notice.Text, StringComparison.Ordinal);
        var disabledEntry = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=webhook_disabled&targetId={webhookId}")))["data"]![0]!;
        Assert.Equal(WebhookUrls.OriginOf(receiver.Url), disabledEntry["metadata"]!["url"]!.GetValue<string>());
        Assert.Contains("failed 3 deliveries in a row", notice.Text, StringComparison.Ordinal);

        // Re-enabling starts afresh.
        var enabled = (await ApiAssert.OkAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/webhooks/{webhookId}", new { isActive = true })))["data"]!;
        Assert.Equal(0, enabled["failureCount"]!.GetValue<int>());
    }

    /// <summary>
    /// A failed connection reads the same whatever the cause (no such name, nothing listening, a forbidden address), so
    /// the test endpoint cannot be used to learn which internal names exist.
    /// </summary>
    [Fact]
    public async Task TestEvent_ConnectionFailures_ReadTheSame()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        using var closedPort = LoopbackApp.ClosedPort();
        var errors = new List<string>();
        foreach (var url in new[] { $"http://127.0.0.1:{closedPort.Port}/hook", "https://no-such-host.invalid/hook" })
        {
            var (webhookId, _) = await CreateWebhookAsync(client, tenant, url, "user.updated");
            var test = (await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/admin/webhooks/{webhookId}/test", null)))["data"]!;
            Assert.False(test["success"]!.GetValue<bool>());
            errors.Add(test["error"]!.GetValue<string>());
        }

        Assert.Single(errors.Distinct());
        Assert.Equal("The endpoint could not be reached, or is not an allowed target", errors[0]);
    }

    [Fact]
    public async Task TestRotateAndReplay_WorkAgainstTheReceiver()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var (webhookId, secret) = await CreateWebhookAsync(client, tenant, receiver.Url, "user.updated");

        var test = (await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/admin/webhooks/{webhookId}/test", null)))["data"]!;
        Assert.True(test["success"]!.GetValue<bool>());
        Assert.Equal(200, test["statusCode"]!.GetValue<int>());
        var first = Assert.Single(receiver.Received);
        Assert.Equal("webhook.test", JsonNode.Parse(first.Body)!["type"]!.GetValue<string>());
        Assert.Equal(Hmac(secret, first.Body), first.Headers["X-Lumo-Signature"]);

        var rotated = (await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/admin/webhooks/{webhookId}/rotate-secret", null)))["data"]!;
        var newSecret = rotated["secret"]!.GetValue<string>();
        Assert.NotEqual(secret, newSecret);
        Assert.StartsWith("whsec_", newSecret);

        var replay = (await ApiAssert.OkAsync(await client.PostAsync(
            $"{tenant.Api}/admin/webhooks/{webhookId}/deliveries/{test["deliveryId"]!.GetValue<string>()}/replay", null), 202))["data"]!;
        Assert.Equal(test["eventId"]!.GetValue<string>(), replay["eventId"]!.GetValue<string>());
        await ApiAssert.EventuallyAsync(async () => { await Task.Yield(); return receiver.Received.Count == 2 ? receiver : null; });
        var second = receiver.Received.Last();
        Assert.Equal(first.Body, second.Body);
        Assert.Equal(Hmac(newSecret, second.Body), second.Headers["X-Lumo-Signature"]);
    }

    /// <summary>The <c>v1</c> values of an <c>X-Lumo-Signature-256</c> header (<c>t=…,v1=…[,v1=…]</c>), with its timestamp.</summary>
    private static (string Timestamp, IReadOnlyList<string> V1) SignaturesOf(ReceivedWebhook received)
    {
        var parts = received.Headers["X-Lumo-Signature-256"].Split(',');
        var timestamp = Assert.Single(parts, p => p.StartsWith("t=", StringComparison.Ordinal))[2..];
        Assert.Equal(received.Headers["X-Lumo-Timestamp"], timestamp);
        Assert.All(parts, p => Assert.True(p.StartsWith("t=", StringComparison.Ordinal) || p.StartsWith("v1=", StringComparison.Ordinal), p));
        return (timestamp, [.. parts.Where(p => p.StartsWith("v1=", StringComparison.Ordinal)).Select(p => p[3..])]);
    }

    /// <summary>
    /// After a rotation every attempt (a replay of an older delivery, a new one) carries a v1 signature under the new secret and
    /// one under the previous, for the overlap (24 h); once it is over, only the new one, and the old secret is no longer kept.
    /// </summary>
    [Fact]
    public async Task RotatedSecret_KeepsSigningForTheOverlap_ThenOnlyTheNewOne()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var (webhookId, oldSecret) = await CreateWebhookAsync(client, tenant, receiver.Url, "user.updated");
        var test = (await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/admin/webhooks/{webhookId}/test", null)))["data"]!;
        Assert.True(test["success"]!.GetValue<bool>());
        var first = Assert.Single(receiver.Received);
        var (t0, before) = SignaturesOf(first);
        Assert.Equal([Hmac(oldSecret, t0 + "." + first.Body)], before);

        var rotatedAt = DateTimeOffset.UtcNow;
        var newSecret = (await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/admin/webhooks/{webhookId}/rotate-secret", null)))["data"]!["secret"]!.GetValue<string>();
        Assert.NotEqual(oldSecret, newSecret);
        var hookId = Guid.Parse(webhookId);
        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            var stored = await scope.ServiceProvider.GetRequiredService<AdminDbContext>().Webhooks.IgnoreQueryFilters().AsNoTracking().SingleAsync(w => w.Id == hookId);
            // Encrypted at rest like the current one.
            Assert.NotNull(stored.PreviousProtectedSecret);
            Assert.DoesNotContain(oldSecret, stored.PreviousProtectedSecret);
            Assert.Equal(oldSecret, scope.ServiceProvider.GetRequiredService<WebhookSecrets>().Reveal(stored.PreviousProtectedSecret));
            Assert.InRange(stored.PreviousSecretExpiresAt!.Value, rotatedAt.AddHours(24).AddMinutes(-1), rotatedAt.AddHours(24).AddMinutes(1));
        }

        // A replay of the delivery made before the rotation goes out through the dispatcher, signed with both.
        await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/admin/webhooks/{webhookId}/deliveries/{test["deliveryId"]!.GetValue<string>()}/replay", null), 202);
        await ApiAssert.EventuallyAsync(async () => { await Task.Yield(); return receiver.Received.Count == 2 ? receiver : null; });
        var replayed = receiver.Received.Last();
        var (t1, during) = SignaturesOf(replayed);
        Assert.Equal(2, during.Count);
        Assert.Contains(Hmac(newSecret, t1 + "." + replayed.Body), during);
        Assert.Contains(Hmac(oldSecret, t1 + "." + replayed.Body), during);
        // The single-valued header is the current secret's.
        Assert.Equal(Hmac(newSecret, replayed.Body), replayed.Headers["X-Lumo-Signature"]);

        // The overlap ends (no movable clock here: the stored expiry is moved into the past).
        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AdminDbContext>().Webhooks.IgnoreQueryFilters().Where(w => w.Id == hookId)
                .ExecuteUpdateAsync(u => u.SetProperty(w => w.PreviousSecretExpiresAt, DateTimeOffset.UtcNow.AddSeconds(-1)));
        }

        Assert.True((await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/admin/webhooks/{webhookId}/test", null)))["data"]!["success"]!.GetValue<bool>());
        var after = receiver.Received.Last();
        Assert.Equal(3, receiver.Received.Count);
        var (t2, only) = SignaturesOf(after);
        Assert.Equal([Hmac(newSecret, t2 + "." + after.Body)], only);
        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            var stored = await scope.ServiceProvider.GetRequiredService<AdminDbContext>().Webhooks.IgnoreQueryFilters().AsNoTracking().SingleAsync(w => w.Id == hookId);
            Assert.Null(stored.PreviousProtectedSecret);
            Assert.Null(stored.PreviousSecretExpiresAt);
        }
    }

    /// <summary>
    /// A webhook URL's path and query are often the receiver's credential: its events (the audit entry, other webhooks'
    /// payloads) carry only the origin, while the webhook's own API answer keeps the full URL.
    /// </summary>
    [Fact]
    public async Task WebhookCreated_CarriesOnlyTheUrlsOrigin()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        await CreateWebhookAsync(client, tenant, receiver.Url, "*");
        const string url = "https://hooks.example.com:8443/services/T0/B0/S3cr3tT0k3n?token=Qu3ryS3cr3t";
        var (webhookId, _) = await CreateWebhookAsync(client, tenant, url, "user.created");
        Assert.Equal(url, (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{webhookId}")))["data"]!["url"]!.GetValue<string>());

        string[] secretParts = ["S3cr3tT0k3n", "Qu3ryS3cr3t", "services", "T0/B0", "token="];
        var entry = await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=webhook_created&targetId={webhookId}"));
            return page["data"]!.AsArray().FirstOrDefault();
        });
        var metadata = entry["metadata"]!.ToJsonString();
        Assert.Equal("https://hooks.example.com:8443", entry["metadata"]!["url"]!.GetValue<string>());
        Assert.All(secretParts, part => Assert.DoesNotContain(part, metadata, StringComparison.Ordinal));

        // Another webhook subscribed to everything hears of it without the path or query.
        var delivered = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            return receiver.Received.FirstOrDefault(r => r.Body.Contains(webhookId, StringComparison.Ordinal));
        });
        Assert.Equal("webhook.created", JsonNode.Parse(delivered.Body)!["type"]!.GetValue<string>());
        Assert.Equal("https://hooks.example.com:8443", JsonNode.Parse(delivered.Body)!["data"]!["url"]!.GetValue<string>());
        Assert.All(secretParts, part => Assert.DoesNotContain(part, delivered.Body, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("https://hooks.example.com/services/T0/B0/S3cr3t", "https://hooks.example.com")]
    [InlineData("https://hooks.example.com:443/x?token=abc", "https://hooks.example.com")]
    [InlineData("https://HOOKS.example.com:8443/x?token=abc#f", "https://hooks.example.com:8443")]
    [InlineData("https://u:p@hooks.example.com/x", "https://hooks.example.com")]
    [InlineData("http://127.0.0.1:5000/hook", "http://127.0.0.1:5000")]
    [InlineData("https://[2001:db8::1]:8443/hook?k=v", "https://[2001:db8::1]:8443")]
    [InlineData("not a url", "")]
    public void WebhookUrlOrigin_DropsUserInfoPathQueryAndFragment(string url, string origin) =>
        Assert.Equal(origin, WebhookUrls.OriginOf(url));

    /// <summary>Entries written before events carried only the origin are cut to it by the WebhookAuditUrlOrigins migration.</summary>
    [Fact]
    public async Task WebhookAuditUrlOriginsMigration_LeavesOldEntriesTheOriginNewOnesHave()
    {
        var tenant = await Factory.CreateTenantAsync();
        string[] urls =
        [
            "https://hooks.example.com/services/T0/B0/S3cr3t", "https://hooks.example.com:443/x?token=abc",
            "https://HOOKS.example.com:8443/x?token=abc#f", "https://u:p@hooks.example.com/x", "http://127.0.0.1:5000/hook",
            "http://hooks.example.com:80/x", "https://[2001:db8::1]:8443/hook?k=v", "https://hooks.example.com",
            " \thttps://hooks.example.com/services/S3cr3t", "not a url",
        ];
        var entries = urls.Select((url, i) => AuditMapping.ToEntry(
                i % 2 == 0 ? new WebhookCreated(Guid.NewGuid(), url, ["*"]) : new WebhookDisabled(Guid.NewGuid(), url, 10),
                tenant.Id, Guid.NewGuid()))
            .ToList();
        var other = AuditMapping.ToEntry(new WebhookUpdated(Guid.NewGuid(), ["url"]), tenant.Id, Guid.NewGuid());
        other.Metadata = """{"url":"https://kept.example.com/path?q=1"}""";
        // Another webhook's delivery of such an event, failed and due again tomorrow: a retry would send the URL again.
        using var client = Factory.ClientFor(tenant);
        var (subscriberId, _) = await CreateWebhookAsync(client, tenant, "https://receiver.example.com/all", "*");
        var delivery = new WebhookDelivery
        {
            Id = Guid.NewGuid(), TenantId = tenant.Id, WebhookId = Guid.Parse(subscriberId), EventId = "evt_old", EventType = "webhook.created",
            Payload = """{"id":"evt_old","type":"webhook.created","data":{"webhookId":"x","url":"https://hooks.example.com/services/S3cr3t?token=abc"}}""",
            Status = WebhookDeliveryStatuses.Failed, NextAttemptAt = DateTimeOffset.UtcNow.AddDays(1), CreatedAt = DateTimeOffset.UtcNow,
        };
        await using var scope = Factory.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        db.AuditLogs.AddRange([.. entries, other]);
        db.WebhookDeliveries.Add(delivery);
        await db.SaveChangesAsync();

        await db.Database.ExecuteSqlRawAsync(LumoAuth.Admin.Data.Migrations.WebhookAuditUrlOrigins.Sql);
        var payload = JsonNode.Parse((await db.WebhookDeliveries.IgnoreQueryFilters().AsNoTracking().SingleAsync(d => d.Id == delivery.Id)).Payload)!;
        Assert.Equal("https://hooks.example.com", payload["data"]!["url"]!.GetValue<string>());
        Assert.Equal("x", payload["data"]!["webhookId"]!.GetValue<string>());

        var ids = entries.Select(e => e.Id).Append(other.Id).ToList();
        var stored = await db.AuditLogs.IgnoreQueryFilters().AsNoTracking().Where(e => ids.Contains(e.Id)).ToDictionaryAsync(e => e.Id, e => e.Metadata);
        foreach (var (entry, url) in entries.Zip(urls))
        {
            Assert.Equal(WebhookUrls.OriginOf(url), JsonNode.Parse(stored[entry.Id])!["url"]!.GetValue<string>());
        }

        Assert.Equal("https://kept.example.com/path?q=1", JsonNode.Parse(stored[other.Id])!["url"]!.GetValue<string>());
    }

    [Fact]
    public async Task Webhooks_Crud_Validation_AndCatalogue()
    {
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var events = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/events")))["data"]!.AsArray().Select(e => e!.GetValue<string>()).ToList();
        foreach (var name in new[] { "*", "user.created", "user.updated", "user.deleted", "user.blocked", "user.login", "user.login_failed", "group.membership_changed", "token.issued" })
        {
            Assert.Contains(name, events);
        }

        var (id, _) = await CreateWebhookAsync(client, tenant, "https://hooks.example.com/lumo", "user.created");
        var updated = (await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/webhooks/{id}", new { events = new[] { "*" }, description = "all" })))["data"]!;
        Assert.Equal(["*"], updated["events"]!.AsArray().Select(e => e!.GetValue<string>()).ToList());
        Assert.Equal(1, (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks")))["meta"]!["total"]!.GetValue<long>());

        var error = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/webhooks", new { url = "not a url", events = new[] { "user.exploded" } }), 400, "validation_error");
        Assert.NotNull(error["details"]!["url"]);
        Assert.NotNull(error["details"]!["events"]);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/webhooks", new { url = "https://x.example.com", events = Array.Empty<string>() }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/webhooks", new { url = "https://x.example.com", events = new[] { "*" }, secret = "mine" }), 400, "invalid_request");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/webhooks/{id}", new { url = "ftp://x.example.com" }), 400, "validation_error");

        using var deleted = await client.DeleteAsync($"{tenant.Api}/admin/webhooks/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/not-a-guid"), 404, "resource_not_found");
    }

    [Fact]
    public async Task Webhooks_OfAnotherTenant_AreNotFound_AndGetNoEventsOfIt()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var a = await Factory.CreateTenantAsync();
        var b = await Factory.CreateTenantAsync();
        using var clientB = Factory.ClientFor(b);
        var (foreign, _) = await CreateWebhookAsync(clientB, b, receiver.Url, "*");
        using var clientA = Factory.ClientFor(a);
        await ApiAssert.ErrorAsync(await clientA.GetAsync($"{a.Api}/admin/webhooks/{foreign}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await clientA.PutAsJsonAsync($"{a.Api}/admin/webhooks/{foreign}", new { description = "x" }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await clientA.DeleteAsync($"{a.Api}/admin/webhooks/{foreign}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await clientA.PostAsync($"{a.Api}/admin/webhooks/{foreign}/test", null), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await clientA.PostAsync($"{a.Api}/admin/webhooks/{foreign}/rotate-secret", null), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await clientA.GetAsync($"{a.Api}/admin/webhooks/{foreign}/deliveries"), 404, "resource_not_found");

        await Factory.CreateUserAsync(a, "only-a@example.com");
        var userB = await Factory.CreateUserAsync(b, "only-b@example.com");
        await ApiAssert.EventuallyAsync(async () => { await Task.Yield(); return receiver.Received.Any(r => r.Body.Contains(userB.ToString(), StringComparison.Ordinal)) ? receiver : null; });
        Assert.DoesNotContain(receiver.Received, r => r.Body.Contains("only-a@example.com", StringComparison.Ordinal) || r.Body.Contains($"\"{a.Slug}\"", StringComparison.Ordinal));
    }
}

public sealed class WebhookSsrfTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    [Theory]
    [InlineData("http://hooks.example.com/x")]
    [InlineData("https://127.0.0.1/x")]
    [InlineData("https://10.1.2.3/x")]
    [InlineData("https://169.254.169.254/latest/meta-data")]
    [InlineData("https://192.168.1.10/x")]
    [InlineData("https://[::1]/x")]
    [InlineData("https://[::ffff:127.0.0.1]/x")]
    [InlineData("https://localhost/x")]
    [InlineData("https://admin/x")]
    [InlineData("https://token./x")]
    [InlineData("https://user:pass@hooks.example.com/x")]
    public async Task CreateWebhook_PrivateOrUnsafeTarget_IsRefused(string url)
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var error = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/webhooks", new { url, events = new[] { "*" } }), 400, "validation_error");
        Assert.NotNull(error["details"]!["url"]);
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("10.0.0.1", true)]
    [InlineData("172.31.255.255", true)]
    [InlineData("100.64.0.1", true)]
    [InlineData("169.254.169.254", true)]
    [InlineData("::ffff:192.168.0.1", true)]
    [InlineData("64:ff9b::a00:1", true)]
    [InlineData("64:ff9b:1::a9fe:a9fe", true)]
    [InlineData("::a00:1", true)]
    [InlineData("2002:7f00:1::1", true)]
    [InlineData("2002:5db8:d822::1", false)]
    [InlineData("fd00::1", true)]
    [InlineData("fe80::1", true)]
    [InlineData("93.184.216.34", false)]
    [InlineData("172.32.0.1", false)]
    [InlineData("2606:4700::1111", false)]
    public void SsrfGuard_ClassifiesAddresses(string address, bool forbidden) =>
        Assert.Equal(forbidden, SsrfGuard.IsForbidden(IPAddress.Parse(address)));
}
