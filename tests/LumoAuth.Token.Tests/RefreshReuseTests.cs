using System.Net.Http.Json;
using System.Net;
using LumoAuth.Token.Data;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Tests;

/// <summary>A token service with no reuse leeway, so a second use of a rotated refresh token is plain reuse.</summary>
public sealed class NoLeewaySuite : TokenSuite
{
    protected override IDictionary<string, string?> TokenSettings => new Dictionary<string, string?> { ["Token:RefreshTokenReuseLeewaySeconds"] = "0" };
}

/// <summary>Refresh token rotation with reuse detection (RFC 9700 §4.14.2): reuse revokes the whole grant.</summary>
public sealed class RefreshReuseTests(NoLeewaySuite suite) : IClassFixture<NoLeewaySuite>
{
    [Fact]
    public async Task Refresh_ReusedAfterRotation_InvalidGrant_AndRevokesTheNewTokenToo_ButNotTheUsersOtherGrants()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();
        var first = (await suite.SignInOnNewDeviceAsync(setup)).GetProperty("refresh_token").GetString()!;
        var otherDevice = (await suite.SignInOnNewDeviceAsync(setup)).GetProperty("refresh_token").GetString()!;
        Dictionary<string, string> Refresh(string token) => new() { ["grant_type"] = "refresh_token", ["refresh_token"] = token, ["client_id"] = setup.ClientId };
        using var rotated = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(Refresh(first)));
        var second = (await HttpAssert.JsonAsync(rotated, HttpStatusCode.OK)).GetProperty("refresh_token").GetString()!;

        using var reuse = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(Refresh(first)));
        using var afterReuse = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(Refresh(second)));

        await HttpAssert.OAuthErrorAsync(reuse, HttpStatusCode.BadRequest, "invalid_grant");
        await suite.AssertSecurityEventAsync(setup, "refresh_token_replayed", setup.ClientId, "cascade_token_revocation");
        await HttpAssert.OAuthErrorAsync(afterReuse, HttpStatusCode.BadRequest, "invalid_grant");
        // The family is the one grant: the same user's sign-in to the same client on another device is not part of it.
        using var otherRefreshed = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(Refresh(otherDevice)));
        await HttpAssert.JsonAsync(otherRefreshed, HttpStatusCode.OK);
    }
    /// <summary>A scope taken from the client (or deleted) since the grant is not issued from it any more: refreshes go on without it.</summary>
    [Fact]
    public async Task Refresh_AfterTheClientLostAScope_IssuesTokensWithoutIt()
    {
        var setup = await suite.SetUpAsync();
        var tokens = await suite.SignInOnNewDeviceAsync(setup);
        Assert.Contains("email", tokens.GetProperty("scope").GetString()!.Split(' '));
        using var http = suite.Token.CreateClient();
        using (var admin = suite.Token.CreateClient())
        {
            admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
            using var narrowed = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}", new { allowedScopes = new[] { "openid", "profile", "offline_access" } });
            Assert.Equal(HttpStatusCode.OK, narrowed.StatusCode);
        }

        using var refreshed = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()!, ["client_id"] = setup.ClientId,
        }));
        var body = await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK);
        Assert.Equal(["offline_access", "openid", "profile"], body.GetProperty("scope").GetString()!.Split(' ').Order());
        var accessToken = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(body.GetProperty("access_token").GetString());
        Assert.DoesNotContain("email", accessToken.GetClaim("scope").Value.Split(' '));
    }

    /// <summary>
    /// A refresh that had passed its checks when the family was revoked still writes its new refresh token. Revoking the
    /// family also revokes the grant's authorization, so such a token — here, the family's tokens set valid again by hand,
    /// as if written after the revocation — is refused at its first use, while the user's remembered consent stays.
    /// </summary>
    [Fact]
    public async Task RevokedFamily_ATokenWrittenAfterTheRevocation_IsRefused()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();
        var first = (await suite.SignInOnNewDeviceAsync(setup)).GetProperty("refresh_token").GetString()!;
        Dictionary<string, string> Refresh(string token) => new() { ["grant_type"] = "refresh_token", ["refresh_token"] = token, ["client_id"] = setup.ClientId };
        using var rotated = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(Refresh(first)));
        var second = (await HttpAssert.JsonAsync(rotated, HttpStatusCode.OK)).GetProperty("refresh_token").GetString()!;

        using var revoked = await http.PostAsync(setup.Issuer + "/oauth/revoke", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = second, ["token_type_hint"] = "refresh_token", ["client_id"] = setup.ClientId,
        }));
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);

        await using (var scope = suite.Token.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
            var subject = setup.UserId.ToString();
            var grants = await db.Set<TokenAuthorization>().IgnoreQueryFilters()
                .Where(a => a.Subject == subject && a.Application!.ClientId == setup.ClientId)
                .Select(a => new { a.Id, a.Type, a.Status }).ToListAsync();
            var grant = Assert.Single(grants, a => a.Type == AuthorizationTypes.AdHoc);
            Assert.Equal(Statuses.Revoked, grant.Status);
            Assert.All(grants.Where(a => a.Type == AuthorizationTypes.Permanent), consent => Assert.Equal(Statuses.Valid, consent.Status));
            var resurrected = await db.Set<TokenToken>().IgnoreQueryFilters()
                .Where(t => t.Authorization!.Id == grant.Id && t.Type == TokenTypeIdentifiers.RefreshToken)
                .ExecuteUpdateAsync(t => t.SetProperty(x => x.Status, Statuses.Valid));
            Assert.Equal(2, resurrected);
        }

        using var late = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(Refresh(second)));
        await HttpAssert.OAuthErrorAsync(late, HttpStatusCode.BadRequest, "invalid_grant");
    }
}
