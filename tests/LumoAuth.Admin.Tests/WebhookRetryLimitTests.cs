using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

namespace LumoAuth.Admin.Tests;

/// <summary>An admin whose webhooks give a delivery up after two attempts, wait one second for a receiver, and stay on long.</summary>
public sealed class WebhookRetryLimitFixture() : EmailAdminFixture(new Dictionary<string, string?>
{
    ["Webhooks:AllowPrivateTargets"] = "true",
    ["Webhooks:MaxAttempts"] = "2",
    ["Webhooks:RetryBaseDelay"] = "00:00:00.300",
    ["Webhooks:PollInterval"] = "00:00:00.200",
    ["Webhooks:Timeout"] = "00:00:01",
});

/// <summary>What ends a delivery: the attempt limit, and a receiver too slow to answer within the timeout.</summary>
public sealed class WebhookRetryLimitTests(WebhookRetryLimitFixture fixture) : IClassFixture<WebhookRetryLimitFixture>
{
    private AdminFactory Factory => fixture.Admin;

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

    [Fact]
    public async Task Receiver_SlowerThanTheTimeout_HasFailedTheAttempt_AndIsTriedAgain()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var slowCalls = 0;
        receiver.DelayFor = (_, body) =>
            body.Contains("slow@example.com", StringComparison.Ordinal) && Interlocked.Increment(ref slowCalls) == 1 ? TimeSpan.FromSeconds(3) : TimeSpan.Zero;
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
