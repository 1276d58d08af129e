using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace LumoAuth.Token.Tests;

/// <summary>
/// While Redis is unreachable, bearer validation decides from its copy of the deny-list (DenyListMirror): revocations
/// made before the outage are still enforced, and nothing else is refused. While it answers, the copy still adds what
/// Redis may have lost. Writes go to the real Redis; the outage
/// is a real unreachable endpoint (nothing listens on port 1).
/// </summary>
public sealed class DenyListOutageTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    [Fact]
    public async Task WhileRedisIsUnreachable_RevocationsMadeBeforeStayEnforced()
    {
        var live = factory.Services.GetRequiredService<RedisAccessTokenDenyList>();
        var tenantId = Guid.NewGuid();
        var revokedJti = Guid.NewGuid().ToString();
        await live.RevokeAsync(tenantId, revokedJti, DateTimeOffset.UtcNow.AddMinutes(5));
        await live.RevokeClientTokensAsync(tenantId, "cut-off-client", TimeSpan.FromMinutes(5));

        var mirror = new DenyListMirror(factory.Services.GetRequiredService<IConnectionMultiplexer>(), TimeProvider.System);
        await mirror.RefreshAsync();
        Assert.NotNull(mirror.RefreshedAt);

        await using var down = await UnreachableRedisAsync();
        var duringOutage = new RedisAccessTokenDenyList(down, mirror, TimeProvider.System, NullLogger<RedisAccessTokenDenyList>.Instance);
        var now = DateTimeOffset.UtcNow;

        Assert.True(await Revoked(new(revokedJti, "some-client", now)));
        Assert.True(await Revoked(new(Guid.NewGuid().ToString(), "cut-off-client", now.AddMinutes(-1))));
        Assert.True(await Revoked(new(Guid.NewGuid().ToString(), "cut-off-client", null)));
        Assert.False(await Revoked(new(Guid.NewGuid().ToString(), "cut-off-client", now.AddMinutes(1))));
        Assert.False(await Revoked(new(Guid.NewGuid().ToString(), "some-client", now)));
        Assert.False(await duringOutage.IsRevokedAsync(Guid.NewGuid(), new(revokedJti, "cut-off-client", now.AddMinutes(-1)), CancellationToken.None));

        // And the writer refuses rather than pretending: a revocation cannot be made during the outage.
        await Assert.ThrowsAnyAsync<RedisException>(() => duringOutage.RevokeAsync(tenantId, Guid.NewGuid().ToString(), now.AddMinutes(5)));

        Task<bool> Revoked(AccessTokenFacts token) => duringOutage.IsRevokedAsync(tenantId, token, CancellationToken.None).AsTask();
    }

    /// <summary>
    /// Redis restarted from a file older than some revocations (a crash between its writes to disk) and answers "not
    /// revoked" for them: the copy, which saw them, still denies. Only this test's own keys are deleted.
    /// </summary>
    [Fact]
    public async Task AfterRedisLostItsEntries_RevocationsTheCopySaw_StayEnforced()
    {
        var redis = factory.Services.GetRequiredService<IConnectionMultiplexer>();
        var mirror = new DenyListMirror(redis, TimeProvider.System);
        var denyList = new RedisAccessTokenDenyList(redis, mirror, TimeProvider.System, NullLogger<RedisAccessTokenDenyList>.Instance);
        var tenantId = Guid.NewGuid();
        var revokedJti = Guid.NewGuid().ToString();
        var clientId = Guid.NewGuid().ToString();
        await denyList.RevokeAsync(tenantId, revokedJti, DateTimeOffset.UtcNow.AddMinutes(5));
        await denyList.RevokeClientTokensAsync(tenantId, clientId, TimeSpan.FromMinutes(5));
        await mirror.RefreshAsync();

        Assert.Equal(2, await redis.GetDatabase().KeyDeleteAsync(
            [RedisAccessTokenDenyList.KeyFor(tenantId, revokedJti), RedisAccessTokenDenyList.ClientKeyFor(tenantId, clientId)]));
        var now = DateTimeOffset.UtcNow;

        Assert.True(await Revoked(new(revokedJti, "some-client", now)));
        Assert.True(await Revoked(new(Guid.NewGuid().ToString(), clientId, now.AddMinutes(-1))));
        Assert.False(await Revoked(new(Guid.NewGuid().ToString(), clientId, now.AddMinutes(1))));
        Assert.False(await Revoked(new(Guid.NewGuid().ToString(), "some-client", now)));

        // A copy that had not seen them (a process started after the loss) cannot help: Redis alone decides there.
        var blank = new RedisAccessTokenDenyList(redis, new DenyListMirror(redis, TimeProvider.System), TimeProvider.System, NullLogger<RedisAccessTokenDenyList>.Instance);
        Assert.False(await blank.IsRevokedAsync(tenantId, new(revokedJti, "some-client", now), CancellationToken.None));

        Task<bool> Revoked(AccessTokenFacts token) => denyList.IsRevokedAsync(tenantId, token, CancellationToken.None).AsTask();
    }

    /// <summary>
    /// A user's cut-off voids their tokens issued before its second, whichever client holds them, and not those of that
    /// second or later, nor a client's own tokens; an earlier cut-off coming late leaves the later one. The copy agrees while
    /// Redis is out.
    /// </summary>
    [Fact]
    public async Task UsersCutOff_VoidsTheirEarlierTokens_KeepsTheLaterOne_AndHoldsDuringAnOutage()
    {
        var redis = factory.Services.GetRequiredService<IConnectionMultiplexer>();
        var mirror = new DenyListMirror(redis, TimeProvider.System);
        var denyList = new RedisAccessTokenDenyList(redis, mirror, TimeProvider.System, NullLogger<RedisAccessTokenDenyList>.Instance);
        var tenantId = Guid.NewGuid();
        var user = Guid.NewGuid().ToString();
        var cutOff = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        await denyList.RevokeUserTokensAsync(tenantId, user, cutOff, TimeSpan.FromMinutes(5));
        await denyList.RevokeUserTokensAsync(tenantId, user, cutOff.AddMinutes(-2), TimeSpan.FromMinutes(5));

        AccessTokenFacts Token(DateTimeOffset? issuedAt, string subject = "", string client = "some-client") =>
            new(Guid.NewGuid().ToString(), client, issuedAt, subject.Length == 0 ? user : subject);
        async Task AssertVerdicts(Func<AccessTokenFacts, Task<bool>> revoked)
        {
            Assert.True(await revoked(Token(cutOff.AddSeconds(-1))));
            Assert.True(await revoked(Token(cutOff.AddMinutes(-1), client: "another-client")));
            Assert.True(await revoked(Token(null)));
            Assert.False(await revoked(Token(cutOff)));
            Assert.False(await revoked(Token(cutOff.AddSeconds(1))));
            Assert.False(await revoked(Token(cutOff.AddSeconds(-1), subject: Guid.NewGuid().ToString())));
            // A client's own token names the client as subject: no user's cut-off applies to it.
            Assert.False(await revoked(new AccessTokenFacts(Guid.NewGuid().ToString(), user, cutOff.AddSeconds(-1), user)));
        }

        await AssertVerdicts(token => denyList.IsRevokedAsync(tenantId, token, CancellationToken.None).AsTask());
        Assert.False(await denyList.IsRevokedAsync(Guid.NewGuid(), Token(cutOff.AddSeconds(-1)), CancellationToken.None));

        await mirror.RefreshAsync();
        await using var down = await UnreachableRedisAsync();
        var duringOutage = new RedisAccessTokenDenyList(down, mirror, TimeProvider.System, NullLogger<RedisAccessTokenDenyList>.Instance);
        await AssertVerdicts(token => duringOutage.IsRevokedAsync(tenantId, token, CancellationToken.None).AsTask());
    }

    [Fact]
    public async Task TheCopy_ReadsOnlyNewLines_AndForgetsWhatExpired()
    {
        var live = factory.Services.GetRequiredService<RedisAccessTokenDenyList>();
        var redis = factory.Services.GetRequiredService<IConnectionMultiplexer>();
        var clock = new MovableClock();
        var mirror = new DenyListMirror(redis, clock);
        await mirror.RefreshAsync();

        var tenantId = Guid.NewGuid();
        var shortLived = Guid.NewGuid().ToString();
        var longLived = Guid.NewGuid().ToString();
        await live.RevokeAsync(tenantId, shortLived, DateTimeOffset.UtcNow.AddMinutes(1));
        await live.RevokeAsync(tenantId, longLived, DateTimeOffset.UtcNow.AddHours(1));
        await live.RevokeClientTokensAsync(tenantId, "cut-client", TimeSpan.FromMinutes(5));
        var issuedBefore = DateTimeOffset.UtcNow.AddMinutes(-1);

        Assert.False(mirror.IsRevoked(tenantId, new(shortLived, "c", null)));
        await mirror.RefreshAsync();
        Assert.True(mirror.IsRevoked(tenantId, new(shortLived, "c", null)));
        Assert.True(mirror.IsRevoked(tenantId, new(longLived, "c", null)));
        Assert.True(mirror.IsRevoked(tenantId, new(Guid.NewGuid().ToString(), "cut-client", issuedBefore)));
        Assert.False(mirror.IsRevoked(Guid.NewGuid(), new(longLived, "cut-client", issuedBefore)));

        // Another read brings nothing twice; the stream keeps each line once.
        var lines = await redis.GetDatabase().StreamRangeAsync(DenyListMirror.LogKey);
        Assert.Single(lines, l => l["m"].ToString().EndsWith(longLived, StringComparison.Ordinal));
        await mirror.RefreshAsync();
        Assert.True(mirror.IsRevoked(tenantId, new(longLived, "c", null)));

        // Past the short entry's life (its token's expiry plus a minute of skew) and the client's cut-off window.
        clock.Advance(TimeSpan.FromMinutes(10));
        await mirror.RefreshAsync();
        Assert.False(mirror.IsRevoked(tenantId, new(shortLived, "c", null)));
        Assert.False(mirror.IsRevoked(tenantId, new(Guid.NewGuid().ToString(), "cut-client", issuedBefore)));
        Assert.True(mirror.IsRevoked(tenantId, new(longLived, "c", null)));
    }

    /// <summary>
    /// The log is trimmed by Redis's clock, which gave its lines their ids: a writer whose clock runs far ahead (skew, or a
    /// test's moved clock) does not drop the lines other writers just added.
    /// </summary>
    [Fact]
    public async Task AWriterWithAClockFarAhead_DoesNotTrimLinesStillAlive()
    {
        var live = factory.Services.GetRequiredService<RedisAccessTokenDenyList>();
        var redis = factory.Services.GetRequiredService<IConnectionMultiplexer>();
        var mirror = factory.Services.GetRequiredService<DenyListMirror>();
        var ahead = new MovableClock();
        ahead.Advance(TimeSpan.FromDays(3));
        var writerAhead = new RedisAccessTokenDenyList(redis, mirror, ahead, NullLogger<RedisAccessTokenDenyList>.Instance);

        var tenantId = Guid.NewGuid();
        var jti = Guid.NewGuid().ToString();
        await live.RevokeAsync(tenantId, jti, DateTimeOffset.UtcNow.AddHours(1));
        // Trimming is approximate (whole nodes of the stream, 100 lines each by default): fill a few nodes after the line.
        for (var i = 0; i < 250; i++)
        {
            await live.RevokeAsync(tenantId, Guid.NewGuid().ToString(), DateTimeOffset.UtcNow.AddHours(1));
        }

        await writerAhead.RevokeAsync(Guid.NewGuid(), Guid.NewGuid().ToString(), ahead.GetUtcNow().AddHours(1));

        var lines = await redis.GetDatabase().StreamRangeAsync(DenyListMirror.LogKey);
        Assert.Single(lines, l => l["m"].ToString().EndsWith(jti, StringComparison.Ordinal));
    }

    [Fact]
    public async Task WhileRedisIsUnreachable_DPoPProofsAreStillCheckedOnce_InThisProcess()
    {
        await using var down = await UnreachableRedisAsync();
        var validator = new DPoPProofValidator(down, TimeProvider.System, NullLogger<DPoPProofValidator>.Instance);
        using var key = new LumoAuth.Testing.DPoPKey();
        const string url = "https://id.example.com/t/acme/api/v1/oauth/token";
        var proof = key.Proof("POST", url);
        Microsoft.AspNetCore.Http.HttpRequest Request()
        {
            var http = new Microsoft.AspNetCore.Http.DefaultHttpContext();
            http.Request.Method = "POST";
            http.Request.Headers["DPoP"] = proof;
            return http.Request;
        }

        var tenantId = Guid.NewGuid();
        var once = await validator.CheckAsync(Request(), tenantId, new LumoAuth.ServiceDefaults.Http.PublicTarget(url, null), accessToken: null, CancellationToken.None);
        var replay = await validator.CheckAsync(Request(), tenantId, new LumoAuth.ServiceDefaults.Http.PublicTarget(url, null), accessToken: null, CancellationToken.None);

        Assert.Equal(key.Thumbprint, once.Thumbprint);
        Assert.Equal("invalid_dpop_proof", replay.Error);
    }

    /// <summary>A Redis connection that never answers (nothing listens on port 1): an outage, without stopping the shared server.</summary>
    private static async Task<ConnectionMultiplexer> UnreachableRedisAsync()
    {
        var unreachable = ConfigurationOptions.Parse("127.0.0.1:1");
        unreachable.AbortOnConnectFail = false;
        unreachable.BacklogPolicy = BacklogPolicy.FailFast;
        unreachable.ConnectTimeout = 200;
        return await ConnectionMultiplexer.ConnectAsync(unreachable);
    }
}
