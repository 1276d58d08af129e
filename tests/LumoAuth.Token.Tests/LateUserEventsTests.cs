using System.Collections.Concurrent;
using System.Net;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Users;
using LumoAuth.Token.Data;
using LumoAuth.Token.Tests.Support;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using ApiAssert = LumoAuth.Testing.ApiAssert;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Admin's events about a user (blocked, deactivated, MFA reset) end only what existed when they happened: a delivery
/// that comes late or again (a retry while Redis was out, the relay's reordering) leaves alone the sessions, grants,
/// access tokens and trusted browsers of a sign-in made since, such as one after an unblock.
/// </summary>
public sealed class LateUserEventsTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private const string RevocationQueue = "user-revocation";
    private const string TrustedDevicesQueue = "trusted-device-cleanup";

    private sealed record SignedIn(HttpClient Browser, string RefreshToken, string AccessToken);

    private async Task<SignedIn> SignInAsync(SignInSetup setup)
    {
        var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge)))["code"];
        using var http = suite.Token.CreateClient();
        using var response = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        return new SignedIn(browser, json.GetProperty("refresh_token").GetString()!, json.GetProperty("access_token").GetString()!);
    }

    /// <summary>Refreshes; the new tokens on success, null when refused.</summary>
    private async Task<SignedIn?> RefreshAsync(SignInSetup setup, SignedIn signedIn)
    {
        using var http = suite.Token.CreateClient();
        using var response = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = signedIn.RefreshToken, ["client_id"] = setup.ClientId,
        }));
        if (response.StatusCode != HttpStatusCode.OK)
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            return null;
        }

        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        return signedIn with { RefreshToken = json.GetProperty("refresh_token").GetString()!, AccessToken = json.GetProperty("access_token").GetString()! };
    }

    private async Task<bool> AccessTokenWorksAsync(SignInSetup setup, SignedIn signedIn)
    {
        using var http = suite.Token.CreateClient();
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", signedIn.AccessToken);
        using var response = await http.GetAsync(setup.Issuer + "/oauth/userinfo");
        return response.StatusCode == HttpStatusCode.OK;
    }

    private static async Task<bool> BrowserIsSignedInAsync(SignInSetup setup, SignedIn signedIn)
    {
        var (_, challenge) = HostedFlow.Pkce();
        using var response = await signedIn.Browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));
        return HostedFlow.LocalRedirect(response) is not { } local || !local.Contains("/login", StringComparison.Ordinal);
    }

    /// <summary>A browser trusted for the user just now (the row "remember this device" writes).</summary>
    private async Task<Guid> TrustABrowserAsync(SignInSetup setup)
    {
        await using var scope = suite.Token.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
        var now = DateTimeOffset.UtcNow;
        var device = new TrustedDevice
        {
            Id = Guid.CreateVersion7(), TenantId = setup.Tenant.Id, UserId = setup.UserId, TokenHash = Convert.ToHexString(Guid.NewGuid().ToByteArray()),
            CreatedAt = now, ExpiresAt = now.AddDays(30), UserAgent = "test",
        };
        db.TrustedDevices.Add(device);
        await db.SaveChangesAsync();
        return device.Id;
    }

    private async Task<bool> IsTrustedAsync(Guid deviceId)
    {
        await using var scope = suite.Token.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<TokenDbContext>().TrustedDevices.IgnoreQueryFilters().AnyAsync(d => d.Id == deviceId);
    }

    /// <summary>Publishes the event to the token service and waits until each of the named consumers' queues has handled it.</summary>
    private async Task PublishAndAwaitAsync(IntegrationEvent message, params string[] queues)
    {
        var observer = new HandledMessages();
        var bus = suite.Token.Services.GetRequiredService<IBus>();
        using var connected = bus.ConnectConsumeObserver(observer);
        var messageId = NewId.NextGuid();
        // As its own type, which routes it (not as the base type the caller holds).
        await bus.Publish(message, message.GetType(), context => context.MessageId = messageId);
        await ApiAssert.EventuallyAsync(() => Task.FromResult(
            queues.All(queue => observer.Handled.Contains((messageId, queue))) ? "handled" : null));
    }

    /// <summary>
    /// A reset whose user asked to sign out everywhere ends the earlier sessions, grants and access tokens through its event
    /// as well, so nothing survives when the reset page's own attempt did not finish; without the wish nothing ends.
    /// </summary>
    [Fact]
    public async Task PasswordChanged_AskingToSignOutEverywhere_EndsWhatCameBefore_OtherwiseNothing()
    {
        var setup = await suite.SetUpAsync();
        var signedIn = await SignInAsync(setup);

        await PublishAndAwaitAsync(new UserPasswordChanged(setup.UserId) { TenantId = setup.Tenant.Id }, RevocationQueue);
        Assert.True(await BrowserIsSignedInAsync(setup, signedIn));
        Assert.True(await AccessTokenWorksAsync(setup, signedIn));

        await PublishAndAwaitAsync(new UserPasswordChanged(setup.UserId) { TenantId = setup.Tenant.Id, SignOutEverywhere = true }, RevocationQueue);
        Assert.False(await BrowserIsSignedInAsync(setup, signedIn));
        Assert.False(await AccessTokenWorksAsync(setup, signedIn));
        Assert.Null(await RefreshAsync(setup, signedIn));
        signedIn.Browser.Dispose();
    }

    [Theory]
    [InlineData("blocked")]
    [InlineData("deactivated")]
    public async Task UserBlockedOrDeactivated_DatedBeforeASignIn_LeavesIt_DatedAfter_EndsIt(string what)
    {
        var setup = await suite.SetUpAsync();
        IntegrationEvent At(DateTimeOffset occurredAt) => what == "blocked"
            ? new UserBlocked(setup.UserId) { TenantId = setup.Tenant.Id, OccurredAt = occurredAt }
            : new UserDeactivated(setup.UserId) { TenantId = setup.Tenant.Id, OccurredAt = occurredAt };
        var earlier = DateTimeOffset.UtcNow.AddMinutes(-1);
        var signedIn = await SignInAsync(setup);
        var device = await TrustABrowserAsync(setup);

        // What a retried or reordered event from before this sign-in (say, before an unblock) looks like.
        await PublishAndAwaitAsync(At(earlier), RevocationQueue, TrustedDevicesQueue);

        Assert.True(await BrowserIsSignedInAsync(setup, signedIn));
        Assert.True(await AccessTokenWorksAsync(setup, signedIn));
        Assert.True(await IsTrustedAsync(device));
        var refreshed = await RefreshAsync(setup, signedIn);
        Assert.NotNull(refreshed);
        Assert.True(await AccessTokenWorksAsync(setup, refreshed));

        // An event from after the sign-in ends all of it, the tokens refreshed since included.
        await PublishAndAwaitAsync(At(DateTimeOffset.UtcNow), RevocationQueue, TrustedDevicesQueue);

        Assert.False(await BrowserIsSignedInAsync(setup, signedIn));
        Assert.Null(await RefreshAsync(setup, refreshed));
        Assert.False(await AccessTokenWorksAsync(setup, signedIn));
        Assert.False(await AccessTokenWorksAsync(setup, refreshed));
        Assert.False(await IsTrustedAsync(device));
        signedIn.Browser.Dispose();
    }

    /// <summary>
    /// An access token whose index entries were never written (Redis was out when it was issued) is still ended with the
    /// user's other tokens (here by a password reset that signs out everywhere; the user stays active, so only the deny-list
    /// can refuse it): the event sets the user's cut-off, which every bearer check reads with the token's own entry.
    /// </summary>
    [Fact]
    public async Task SignOutEverywhere_EndsAnAccessTokenNoIndexNames_ByTheUsersCutOff()
    {
        var setup = await suite.SetUpAsync();
        var signedIn = await SignInAsync(setup);
        var redis = suite.Token.Services.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>();
        var server = redis.GetServers()[0];
        var lost = 0;
        await foreach (var key in server.KeysAsync(pattern: $"lumoauth:*-jtis:{setup.Tenant.Id:N}:*"))
        {
            lost += await redis.GetDatabase().KeyDeleteAsync(key) ? 1 : 0;
        }

        Assert.Equal(3, lost); // the user's, the session's and the grant's
        // What the other services' bearer check asks (the token service also finds the token's grant revoked in its store).
        var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(signedIn.AccessToken);
        var denyList = suite.Token.Services.GetRequiredService<LumoAuth.ServiceDefaults.Security.RedisAccessTokenDenyList>();
        Task<bool> DeniedAsync() => denyList.IsRevokedAsync(
            setup.Tenant.Id, new(jwt.Id, setup.ClientId, jwt.IssuedAt, jwt.Subject), CancellationToken.None).AsTask();
        Assert.True(await AccessTokenWorksAsync(setup, signedIn));
        Assert.False(await DeniedAsync());

        // The cut-off spares tokens of the event's own second (a sign-in right after must work), so the event comes a second on.
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        await PublishAndAwaitAsync(new UserPasswordChanged(setup.UserId) { TenantId = setup.Tenant.Id, SignOutEverywhere = true }, RevocationQueue);

        Assert.True(await DeniedAsync());
        Assert.False(await AccessTokenWorksAsync(setup, signedIn));
        signedIn.Browser.Dispose();
    }

    [Fact]
    public async Task UserMfaReset_DatedBeforeABrowserWasTrusted_KeepsTheTrust_DatedAfter_EndsIt()
    {
        var setup = await suite.SetUpAsync();
        var earlier = DateTimeOffset.UtcNow.AddMinutes(-1);
        var device = await TrustABrowserAsync(setup);

        // Say the user enrolled again after a reset and trusted this browser; the reset's event comes again.
        await PublishAndAwaitAsync(new UserMfaReset(setup.UserId) { TenantId = setup.Tenant.Id, OccurredAt = earlier }, TrustedDevicesQueue);
        Assert.True(await IsTrustedAsync(device));

        await PublishAndAwaitAsync(new UserMfaReset(setup.UserId) { TenantId = setup.Tenant.Id, OccurredAt = DateTimeOffset.UtcNow }, TrustedDevicesQueue);
        Assert.False(await IsTrustedAsync(device));
    }

    /// <summary>Which queue handled which message, once its consumer finished without error.</summary>
    private sealed class HandledMessages : IConsumeObserver
    {
        public ConcurrentBag<(Guid MessageId, string Queue)> Handled { get; } = [];

        public Task PreConsume<T>(ConsumeContext<T> context)
            where T : class => Task.CompletedTask;

        public Task PostConsume<T>(ConsumeContext<T> context)
            where T : class
        {
            if (context.MessageId is { } id && context.ReceiveContext.InputAddress is { } address)
            {
                var queue = address.AbsolutePath.Split('/')[^1];
                foreach (var name in new[] { RevocationQueue, TrustedDevicesQueue })
                {
                    if (queue.EndsWith("-" + name, StringComparison.Ordinal))
                    {
                        Handled.Add((id, name));
                    }
                }
            }

            return Task.CompletedTask;
        }

        public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception)
            where T : class => Task.CompletedTask;
    }
}
