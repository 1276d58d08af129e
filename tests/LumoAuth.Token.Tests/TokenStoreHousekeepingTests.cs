using System.Net;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Housekeeping;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Tests;

/// <summary>The token store forgets what can no longer be used, and keeps what reuse detection and consent still need.</summary>
public sealed class TokenStoreHousekeepingTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    [Fact]
    public async Task Prune_DeletesExpiredTokensFinishedGrantsOldCibaRequestsAndSessions_KeepsLiveGrantsAndConsents()
    {
        var setup = await suite.SetUpAsync();
        var tenantId = setup.Tenant.Id;
        var now = DateTimeOffset.UtcNow;
        var liveRefreshToken = (await suite.SignInOnNewDeviceAsync(setup)).GetProperty("refresh_token").GetString()!;

        await using var scope = suite.Token.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
        TokenAuthorization Authorization(string type, string status, TimeSpan age) => new()
        {
            TenantId = tenantId, Subject = setup.UserId.ToString(), Type = type, Status = status, CreationDate = (now - age).UtcDateTime,
        };
        TokenToken Token(TokenAuthorization? authorization, string status, TimeSpan expiresIn) => new()
        {
            TenantId = tenantId, Authorization = authorization, Subject = setup.UserId.ToString(), Type = TokenTypeHints.RefreshToken,
            Status = status, CreationDate = (now - TimeSpan.FromDays(60)).UtcDateTime, ExpirationDate = (now + expiresIn).UtcDateTime,
        };
        BrowserSession Session(TimeSpan expiresIn) => new()
        {
            Id = "sess_" + Guid.NewGuid().ToString("N"), TenantId = tenantId, TenantSlug = setup.Tenant.Slug, UserId = setup.UserId,
            CreatedAt = now - TimeSpan.FromDays(90), LastActiveAt = now - TimeSpan.FromDays(90), ExpiresAt = now + expiresIn,
        };

        var finishedGrant = Authorization(AuthorizationTypes.AdHoc, Statuses.Valid, TimeSpan.FromDays(40));
        var grantWithRedeemedToken = Authorization(AuthorizationTypes.AdHoc, Statuses.Valid, TimeSpan.FromDays(40));
        var freshGrant = Authorization(AuthorizationTypes.AdHoc, Statuses.Valid, TimeSpan.FromMinutes(1));
        var consent = Authorization(AuthorizationTypes.Permanent, Statuses.Valid, TimeSpan.FromDays(400));
        var revokedConsent = Authorization(AuthorizationTypes.Permanent, Statuses.Revoked, TimeSpan.FromDays(400));
        var expiredToken = Token(finishedGrant, Statuses.Redeemed, -TimeSpan.FromDays(2));
        // Redeemed but not expired: a replay of it must still be recognised as reuse.
        var redeemedToken = Token(grantWithRedeemedToken, Statuses.Redeemed, TimeSpan.FromDays(10));
        var justExpiredToken = Token(null, Statuses.Valid, -TimeSpan.FromHours(1));
        var oldSession = Session(-TimeSpan.FromDays(31));
        var recentSession = Session(-TimeSpan.FromDays(29));
        var oldDevice = new TrustedDevice
        {
            Id = Guid.NewGuid(), TenantId = tenantId, UserId = setup.UserId, TokenHash = Guid.NewGuid().ToString("N"),
            CreatedAt = now - TimeSpan.FromDays(90), ExpiresAt = now - TimeSpan.FromDays(31),
        };
        BackchannelAuthentication Ciba(TimeSpan expiresIn) => new()
        {
            Id = Guid.NewGuid(), TenantId = tenantId, AuthReqIdHash = Guid.NewGuid().ToString("N"), ClientId = setup.ClientId,
            UserId = setup.UserId, Scopes = "openid", CreatedAt = now - TimeSpan.FromDays(3), ExpiresAt = now + expiresIn,
        };
        var oldCiba = Ciba(-TimeSpan.FromDays(2));
        var recentCiba = Ciba(-TimeSpan.FromHours(1));
        db.AddRange(oldCiba, recentCiba);
        db.AddRange(finishedGrant, grantWithRedeemedToken, freshGrant, consent, revokedConsent, expiredToken, redeemedToken, justExpiredToken,
            oldSession, recentSession, oldDevice);
        await db.SaveChangesAsync();

        Assert.True(await TokenStoreHousekeeping.PruneAsync(db, now, new TokenStoreHousekeeping.GrantSweep(), CancellationToken.None) >= 5);

        var tokenIds = await db.Set<TokenToken>().IgnoreQueryFilters().Where(t => t.TenantId == tenantId).Select(t => t.Id).ToListAsync();
        Assert.DoesNotContain(expiredToken.Id, tokenIds);
        Assert.Contains(redeemedToken.Id, tokenIds);
        Assert.Contains(justExpiredToken.Id, tokenIds);
        var authorizationIds = await db.Set<TokenAuthorization>().IgnoreQueryFilters().Where(a => a.TenantId == tenantId).Select(a => a.Id).ToListAsync();
        Assert.DoesNotContain(finishedGrant.Id, authorizationIds);
        Assert.DoesNotContain(revokedConsent.Id, authorizationIds);
        Assert.Contains(grantWithRedeemedToken.Id, authorizationIds);
        Assert.Contains(freshGrant.Id, authorizationIds);
        Assert.Contains(consent.Id, authorizationIds);
        var sessionIds = await db.Sessions.IgnoreQueryFilters().Where(s => s.TenantId == tenantId).Select(s => s.Id).ToListAsync();
        Assert.DoesNotContain(oldSession.Id, sessionIds);
        Assert.Contains(recentSession.Id, sessionIds);
        Assert.False(await db.TrustedDevices.IgnoreQueryFilters().AnyAsync(d => d.Id == oldDevice.Id));
        var cibaIds = await db.BackchannelAuthentications.IgnoreQueryFilters().Where(b => b.TenantId == tenantId).Select(b => b.Id).ToListAsync();
        Assert.Equal([recentCiba.Id], cibaIds);

        // The grant in use (its code, its refresh token, the session it hangs off) is untouched.
        using var http = suite.Token.CreateClient();
        using var refreshed = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = liveRefreshToken, ["client_id"] = setup.ClientId,
        }));
        await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK);
    }

    [Fact]
    public async Task GrantSweep_LooksAtABoundedSliceARound_GoesOnWhereItStopped_AndStartsOverAtTheEnd()
    {
        var setup = await suite.SetUpAsync();
        var now = DateTimeOffset.UtcNow;
        await using var scope = suite.Token.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
        // Keys that sort after (ffffffff-…) or before (00000000-…) every random key of the shared store, in this order. The
        // grants are an hour old, so the housekeeping of the suites sharing the store (a day's grace) leaves them alone.
        var run = Guid.NewGuid().ToString("N")[..12];
        Guid Key(string prefix, int n) => Guid.Parse($"{prefix}-{n:x4}-{run}");
        TokenAuthorization Grant(Guid id, string type, string status) => new()
        {
            Id = id, TenantId = setup.Tenant.Id, Subject = setup.UserId.ToString(), Type = type, Status = status,
            CreationDate = (now - TimeSpan.FromHours(1)).UtcDateTime,
        };
        var finished = Enumerable.Range(1, 6).Select(n => Grant(Key("ffffffff-ffff-ffff", n * 2), AuthorizationTypes.AdHoc, Statuses.Valid)).ToList();
        var consent = Grant(Key("ffffffff-ffff-ffff", 7), AuthorizationTypes.Permanent, Statuses.Valid);
        db.AddRange(finished);
        db.Add(consent);
        await db.SaveChangesAsync();

        var sweep = new TokenStoreHousekeeping.GrantSweep(sliceSize: 3, slicesPerRound: 1);
        // Half an hour: this test's grants are older, everything the other suites create while it runs is younger.
        var grantsBefore = (now - TimeSpan.FromMinutes(30)).UtcDateTime;
        async Task<int> LeftAsync(IEnumerable<Guid> ids)
        {
            var keys = ids.ToList();
            return await db.Set<TokenAuthorization>().IgnoreQueryFilters().CountAsync(a => keys.Contains(a.Id));
        }

        // Walk to this test's grants: a round looks at three grants, so it finishes three of them at most…
        var rounds = 0;
        var bound = await db.Set<TokenAuthorization>().IgnoreQueryFilters().CountAsync() + 10;
        while (await LeftAsync(finished.Select(g => g.Id)) == finished.Count)
        {
            Assert.True(++rounds < bound, "the walk never reached the grants at its end");
            Assert.True(await sweep.DeleteFinishedAsync(db, grantsBefore, CancellationToken.None) <= 3);
        }

        Assert.InRange(await LeftAsync(finished.Select(g => g.Id)), 3, 5);
        // …and the next rounds go on from there to the end.
        await sweep.DeleteFinishedAsync(db, grantsBefore, CancellationToken.None);
        await sweep.DeleteFinishedAsync(db, grantsBefore, CancellationToken.None);
        Assert.Equal(0, await LeftAsync(finished.Select(g => g.Id)));
        Assert.Equal(1, await LeftAsync([consent.Id]));

        // A grant at the very start of the key order is reached after the walk starts over.
        var first = Grant(Key("00000000-0000-0000", 1), AuthorizationTypes.Permanent, Statuses.Revoked);
        db.Add(first);
        await db.SaveChangesAsync();
        rounds = 0;
        while (await LeftAsync([first.Id]) == 1)
        {
            Assert.True(++rounds < bound, "the walk never started over");
            await sweep.DeleteFinishedAsync(db, grantsBefore, CancellationToken.None);
        }

        Assert.Equal(1, await LeftAsync([consent.Id]));
        await db.Set<TokenAuthorization>().Where(a => a.Id == consent.Id).ExecuteDeleteAsync();
    }
}
