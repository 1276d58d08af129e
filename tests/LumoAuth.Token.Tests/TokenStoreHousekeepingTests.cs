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

        Assert.True(await TokenStoreHousekeeping.PruneAsync(db, now, CancellationToken.None) >= 5);

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
}
