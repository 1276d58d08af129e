using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Webhooks;
using LumoAuth.Testing;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// An admin whose webhooks give a delivery up after two attempts, wait five seconds for a receiver (a loaded two-core run can
/// take over a second for a loopback call), and stay on long.
/// </summary>
public sealed class WebhookRetryLimitFixture() : EmailAdminFixture(new Dictionary<string, string?>
{
    ["Webhooks:AllowPrivateTargets"] = "true",
    ["Webhooks:MaxAttempts"] = "2",
    ["Webhooks:RetryBaseDelay"] = "00:00:00.300",
    ["Webhooks:PollInterval"] = "00:00:00.200",
    ["Webhooks:Timeout"] = "00:00:05",
});

/// <summary>What ends a delivery: the attempt limit, and a receiver too slow to answer within the timeout.</summary>
public sealed class WebhookRetryLimitTests(WebhookRetryLimitFixture fixture) : IClassFixture<WebhookRetryLimitFixture>
{
    private AdminFactory Factory => fixture.Admin;

    private static string Hmac(string secret, string content) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(content)));

    private static async Task<string> CreateWebhookAsync(HttpClient client, TestTenant tenant, string url) =>
        (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/webhooks", new { url, events = new[] { "user.created" } }), 201))
            ["data"]!["webhook"]!["id"]!.GetValue<string>();

    /// <summary>The first delivery <paramref name="done"/> accepts (the tenant's own first user may be delivered too).</summary>
    private static async Task<JsonObject> DeliveryAsync(HttpClient client, TestTenant tenant, string webhookId, Func<JsonObject, bool> done)
    {
        var summary = await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{webhookId}/deliveries"));
            return page["data"]!.AsArray().Select(d => d!.AsObject()).FirstOrDefault(done);
        }, TimeSpan.FromSeconds(30));
        return (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{webhookId}/deliveries/{summary["id"]!.GetValue<string>()}")))["data"]!.AsObject();
    }

    [Fact]
    public async Task Delivery_FailingEveryAttempt_IsGivenUpAtTheLimit_AndNotTriedAgain()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.StatusFor = (_, _) => 500;
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var webhookId = await CreateWebhookAsync(client, tenant, receiver.Url);

        await Factory.CreateUserAsync(tenant, "unlucky@example.com");

        var delivery = await DeliveryAsync(client, tenant, webhookId, d => d["status"]!.GetValue<string>() == "failed");
        Assert.Equal(2, delivery["attempts"]!.GetValue<int>());
        Assert.Equal([500, 500], delivery["attemptLog"]!.AsArray().Select(a => a!["statusCode"]!.GetValue<int>()).ToList());
        await Task.Delay(2000); // a third attempt would have come 1.2 s after the second
        Assert.Equal(2, receiver.Received.Count(r => r.Body.Contains("unlucky@example.com", StringComparison.Ordinal)));
        // Two failures are far from switching the webhook off (20 in a row by default).
        Assert.True((await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{webhookId}")))["data"]!["isActive"]!.GetValue<bool>());
    }

    /// <summary>
    /// A secret sealed under a key the service cannot read (a lost or unshared key ring key) fails each attempt without
    /// sending, so the delivery backs off and is given up at the limit instead of being claimed again for ever. Rotating the
    /// secret mends the webhook; the unreadable secret it replaces only loses its second signature.
    /// </summary>
    [Fact]
    public async Task Delivery_WhoseSecretCannotBeRead_FailsItsAttempts_AndIsGivenUpAtTheLimit()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var webhookId = await CreateWebhookAsync(client, tenant, receiver.Url);
        await using (var scope = Factory.Services.CreateAsyncScope())
        {
            // Sealed for another purpose: it does not unprotect as a webhook secret, as if its key were gone.
            var unreadable = scope.ServiceProvider.GetRequiredService<IDataProtectionProvider>().CreateProtector("not the webhook secret").Protect("whsec_lost");
            await scope.ServiceProvider.GetRequiredService<AdminDbContext>().Webhooks.IgnoreQueryFilters()
                .Where(w => w.Id == Guid.Parse(webhookId))
                .ExecuteUpdateAsync(u => u.SetProperty(w => w.ProtectedSecret, unreadable));
        }

        var lostId = await Factory.CreateUserAsync(tenant, "unsigned@example.com");

        var delivery = await DeliveryAsync(client, tenant, webhookId, d => d["status"]!.GetValue<string>() == "failed");
        Assert.Equal(2, delivery["attempts"]!.GetValue<int>());
        Assert.Equal(WebhookDispatcher.SecretUnreadable, delivery["lastError"]!.GetValue<string>());
        var attempts = delivery["attemptLog"]!.AsArray().Select(a => a!.AsObject()).ToList();
        Assert.Equal(2, attempts.Count);
        Assert.All(attempts, a => Assert.Null(a["statusCode"]?.GetValue<int?>()));
        Assert.All(attempts, a => Assert.Equal(WebhookDispatcher.SecretUnreadable, a["error"]!.GetValue<string>()));
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/webhooks/{webhookId}/deliveries"));
            return page["data"]!.AsArray().All(d => d!["status"]!.GetValue<string>() != "pending") ? page : null;
        }, TimeSpan.FromSeconds(30));
        Assert.DoesNotContain(receiver.Received, r => r.Body.Contains(lostId.ToString(), StringComparison.Ordinal));

        var secret = (await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/admin/webhooks/{webhookId}/rotate-secret", null)))["data"]!["secret"]!.GetValue<string>();
        var mendedId = await Factory.CreateUserAsync(tenant, "mended@example.com");
        var received = await ApiAssert.EventuallyAsync(async () =>
        {
            await Task.Yield();
            return receiver.Received.FirstOrDefault(r => r.Body.Contains(mendedId.ToString(), StringComparison.Ordinal));
        }, TimeSpan.FromSeconds(30));
        var timestamp = received.Headers["X-Lumo-Timestamp"];
        Assert.Equal(Hmac(secret, received.Body), received.Headers["X-Lumo-Signature"]);
        Assert.Equal($"t={timestamp},v1={Hmac(secret, timestamp + "." + received.Body)}", received.Headers["X-Lumo-Signature-256"]);
        Assert.DoesNotContain(receiver.Received, r => r.Body.Contains(lostId.ToString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Receiver_SlowerThanTheTimeout_HasFailedTheAttempt_AndIsTriedAgain()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var slowCalls = 0;
        receiver.DelayFor = (_, body) =>
            body.Contains("slow@example.com", StringComparison.Ordinal) && Interlocked.Increment(ref slowCalls) == 1 ? TimeSpan.FromSeconds(8) : TimeSpan.Zero;
        var tenant = await Factory.CreateTenantAsync();
        using var client = Factory.ClientFor(tenant);
        var webhookId = await CreateWebhookAsync(client, tenant, receiver.Url);

        await Factory.CreateUserAsync(tenant, "slow@example.com");

        var delivery = await DeliveryAsync(client, tenant, webhookId, d => d["status"]!.GetValue<string>() != "pending" && d["attempts"]!.GetValue<int>() == 2);
        Assert.Equal("succeeded", delivery["status"]!.GetValue<string>());
        var attempts = delivery["attemptLog"]!.AsArray().Select(a => a!.AsObject()).ToList();
        Assert.Equal(2, attempts.Count);
        Assert.Null(attempts[0]["statusCode"]?.GetValue<int?>());
        Assert.False(string.IsNullOrEmpty(attempts[0]["error"]?.GetValue<string>()));
        Assert.Equal(200, attempts[1]["statusCode"]!.GetValue<int>());
    }
}

/// <summary>The delivery schedule the docs give, without waiting for it: five attempts, a 30 s receiver timeout, retries four times further apart.</summary>
public sealed class WebhookScheduleTests
{
    [Fact]
    public void Defaults_RetryFiveTimes_OverAboutAnHour()
    {
        var options = new LumoAuth.Admin.Features.Webhooks.WebhookOptions();

        Assert.Equal(5, options.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Timeout);
        Assert.Equal(
            [TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(8), TimeSpan.FromMinutes(32)],
            Enumerable.Range(1, options.MaxAttempts - 1).Select(options.RetryDelayAfter));
        Assert.Equal(20, options.DisableAfterConsecutiveFailures);
    }

    /// <summary>The most attempts the settings allow (20): later retries wait a day, never a span the calendar cannot hold.</summary>
    [Fact]
    public void ManyAttempts_WaitAtMostADay()
    {
        var options = new LumoAuth.Admin.Features.Webhooks.WebhookOptions { MaxAttempts = 20 };

        var delays = Enumerable.Range(1, 40).Select(options.RetryDelayAfter).ToList();

        Assert.Equal(TimeSpan.FromMinutes(32), delays[3]);
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.FromSeconds(30), TimeSpan.FromHours(24)));
        Assert.Equal(TimeSpan.FromHours(24), delays[^1]);
        _ = DateTimeOffset.UtcNow + delays[^1];
    }
}
