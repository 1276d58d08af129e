using LumoAuth.ServiceDefaults.Security;
using System.Net;
using LumoAuth.Testing;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace LumoAuth.Token.Tests;

/// <summary>
/// FEATURES "Repeated failures from one IP trigger progressive delay and temporary IP block": failed hosted sign-ins of
/// one address at a tenant, counted in Redis across accounts (known or not), make the next attempt wait, then block.
/// </summary>
public sealed class FailedSignInThrottleTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    [Fact]
    public async Task FailuresFromOneAddress_MakeTheNextAttemptWait_ThenBlock_OnlyAtThatTenant()
    {
        var setup = await suite.SetUpAsync();
        var other = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var login = $"/t/{setup.Tenant.Slug}/login";
        for (var i = 0; i < FailedSignInThrottle.FreeFailures; i++)
        {
            // Unknown accounts: the per-account lockout never sees these.
            using var failed = await HostedFlow.SubmitLoginAsync(browser, login, $"nobody-{i}@example.com", "wrong-password-1");
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }

        // Three failures more make the wait eight seconds from now, so the next attempt lands within it however slow the run.
        var redis = suite.Token.Services.GetRequiredService<IConnectionMultiplexer>();
        var key = redis.GetServers()[0].Keys(pattern: FailedSignInThrottle.KeyFor(setup.Tenant.Id, "*")).Single();
        Assert.Equal(FailedSignInThrottle.FreeFailures, (long)await redis.GetDatabase().HashGetAsync(key, "n"));
        await redis.GetDatabase().HashSetAsync(key, [new("n", FailedSignInThrottle.FreeFailures + 3), new("last", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())]);

        // The next attempt must wait (even with the right password, which is not checked meanwhile).
        using (var early = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, early.StatusCode);
            Assert.True(early.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
            Assert.True(early.Headers.RetryAfter?.Delta <= TimeSpan.FromSeconds(8));
            Assert.Contains("Too many failed sign-ins from your network", await early.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Another tenant's sign-in is not affected.
        using (var elsewhere = await HostedFlow.SubmitLoginAsync(suite.Browser(), $"/t/{other.Tenant.Slug}/login", other.Email, other.Password))
        {
            Assert.Equal(HttpStatusCode.OK, elsewhere.StatusCode);
        }

        // After the wait (here moved into the past rather than waited out) the right password signs in.
        await redis.GetDatabase().HashSetAsync(key, "last", DateTimeOffset.UtcNow.AddSeconds(-9).ToUnixTimeMilliseconds());
        var signedIn = await ApiAssert.EventuallyAsync(async () =>
        {
            var response = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return response;
            }

            response.Dispose();
            return null;
        }, TimeSpan.FromSeconds(10));
        signedIn.Dispose();

        // A hundred failures block the address until fifteen minutes pass without one.
        await redis.GetDatabase().HashSetAsync(key, "n", FailedSignInThrottle.BlockAfter - 1);
        using (var fiftieth = await HostedFlow.SubmitLoginAsync(suite.Browser(), login, "nobody-else@example.com", "wrong-password-1"))
        {
            // The 99th failure's wait (capped at five minutes) comes first.
            Assert.Equal(HttpStatusCode.TooManyRequests, fiftieth.StatusCode);
        }

        await redis.GetDatabase().HashSetAsync(key, "n", FailedSignInThrottle.BlockAfter);
        using var blocked = await HostedFlow.SubmitLoginAsync(suite.Browser(), login, setup.Email, setup.Password);
        Assert.Equal(HttpStatusCode.TooManyRequests, blocked.StatusCode);
        Assert.True(blocked.Headers.RetryAfter?.Delta > TimeSpan.FromMinutes(10));
        Assert.Contains("minutes", await blocked.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
