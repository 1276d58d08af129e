using LumoAuth.ServiceDefaults.Security;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Features.Scim;
using LumoAuth.Testing;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// SCIM's HTTP Basic is a password sign-in: it shares the hosted login's per-address failed sign-in count (the token
/// service's Redis key) and is refused where the tenant takes no passwords.
/// </summary>
public sealed class ScimBasicSignInTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private static HttpClient Basic(AdminFactory factory, string email, string password)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{email}:{password}")));
        return client;
    }

    private static async Task<JsonObject> ScimErrorAsync(HttpResponseMessage response, int status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode}: {body}");
        var error = JsonNode.Parse(body)!.AsObject();
        Assert.Equal("urn:ietf:params:scim:api:messages:2.0:Error", error["schemas"]![0]!.GetValue<string>());
        Assert.Equal(status.ToString(System.Globalization.CultureInfo.InvariantCulture), error["status"]!.GetValue<string>());
        return error;
    }

    [Fact]
    public void TheCount_IsTheTokenServicesKey()
    {
        var tenant = Guid.Parse("0195f3a4-0000-7000-8000-000000000001");
        // One FailedSignInThrottle for SCIM and the hosted login: one count for both paths.
        Assert.Equal("lumo:signin-failures:0195f3a4000070008000000000000001:203.0.113.7", FailedSignInThrottle.KeyFor(tenant, "203.0.113.7"));
    }

    [Fact]
    public async Task BasicFailures_CountForTheAddress_AndTheHostedLoginsCount_MakesBasicWait429()
    {
        var tenant = await factory.CreateTenantAsync();
        await factory.CreateUserAsync(tenant, "basic@example.com", "the right password 1");
        var redis = factory.Services.GetRequiredService<IConnectionMultiplexer>();

        for (var i = 0; i < 2; i++)
        {
            // Unknown accounts: the per-account lockout never sees these, the address count does.
            using var wrong = Basic(factory, $"nobody-{i}@example.com", "wrong password 1");
            await ScimErrorAsync(await wrong.GetAsync($"{tenant.Api}/scim/v2/Me"), 401);
        }

        var key = redis.GetServers()[0].Keys(pattern: FailedSignInThrottle.KeyFor(tenant.Id, "*")).Single();
        Assert.Equal(2, (long)await redis.GetDatabase().HashGetAsync(key, "n"));

        // Failures the hosted login counted for the same address (its fields): Basic must now wait, even with the right password.
        await redis.GetDatabase().HashSetAsync(key, [new("n", FailedSignInThrottle.FreeFailures), new("last", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())]);
        using var right = Basic(factory, "basic@example.com", "the right password 1");
        using var throttled = await right.GetAsync($"{tenant.Api}/scim/v2/Me");
        var error = await ScimErrorAsync(throttled, 429);
        Assert.Null(error["scimType"]);
        Assert.True(throttled.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));

        // Blocked after a hundred, for as long as the count lives.
        await redis.GetDatabase().HashSetAsync(key, "n", FailedSignInThrottle.BlockAfter);
        using var blocked = await right.GetAsync($"{tenant.Api}/scim/v2/Me");
        await ScimErrorAsync(blocked, 429);
        Assert.True(blocked.Headers.RetryAfter?.Delta > TimeSpan.FromMinutes(10));

        // Once the count is gone the right password signs in again.
        await redis.GetDatabase().KeyDeleteAsync(key);
        using var after = await right.GetAsync($"{tenant.Api}/scim/v2/Me");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    /// <summary>The count is the forwarded client's (X-Forwarded-For from a trusted proxy), as at the hosted login.</summary>
    [Fact]
    public async Task BasicFailures_CountForTheForwardedClientAddress()
    {
        var tenant = await factory.CreateTenantAsync();
        var redis = factory.Services.GetRequiredService<IConnectionMultiplexer>();
        using var direct = factory.CreateDirectClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"{tenant.Api}/scim/v2/Me");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("nobody@example.com:wrong password 1")));
        request.Headers.Add("X-Forwarded-For", "198.51.100.23");
        await ScimErrorAsync(await direct.SendAsync(request), 401);

        Assert.Equal(1, (long)await redis.GetDatabase().HashGetAsync(FailedSignInThrottle.KeyFor(tenant.Id, "198.51.100.23"), "n"));
    }

    [Fact]
    public async Task Basic_IsRefused_WhenTheTenantIsMagicLinkOnly_AndCountsNothing()
    {
        var tenant = await factory.CreateTenantAsync();
        await factory.CreateUserAsync(tenant, "linkonly@example.com", "the right password 1");
        using var basic = Basic(factory, "linkonly@example.com", "the right password 1");
        using (var before = await basic.GetAsync($"{tenant.Api}/scim/v2/Me"))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new { loginPolicy = new { magicLinkOnly = true } }));
        await ScimErrorAsync(await basic.GetAsync($"{tenant.Api}/scim/v2/Me"), 403);
        using var wrong = Basic(factory, "linkonly@example.com", "wrong password 1");
        await ScimErrorAsync(await wrong.GetAsync($"{tenant.Api}/scim/v2/Me"), 403);

        // No password was checked, so none failed; an API key is unaffected.
        var redis = factory.Services.GetRequiredService<IConnectionMultiplexer>();
        Assert.Empty(redis.GetServers()[0].Keys(pattern: FailedSignInThrottle.KeyFor(tenant.Id, "*")));
        using var key = factory.CreateClient();
        key.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tenant.ApiKey);
        Assert.Equal(HttpStatusCode.OK, (await key.GetAsync($"{tenant.Api}/scim/v2/Users")).StatusCode);
    }
}
