using System.Net;
using LumoAuth.Token.Tests.Support;

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
}
