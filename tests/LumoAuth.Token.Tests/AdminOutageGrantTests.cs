using System.Net;
using System.Net.Http.Headers;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// While admin cannot say whether a user may still sign in, grants are neither refused nor used up and sessions are not
/// ended: the answer is 503 <c>temporarily_unavailable</c>, and the same step works once admin is back.
/// </summary>
[RunsLong(80)]
public sealed class AdminOutageGrantTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    [Fact]
    public async Task Refresh_WhileAdminIsDown_Is503_AndTheSameRefreshTokenWorksAfterwards_HoweverOftenItWasTried()
    {
        var setup = await suite.SetUpAsync();
        var refreshToken = (await suite.SignInOnNewDeviceAsync(setup)).GetProperty("refresh_token").GetString()!;
        using var http = suite.Token.CreateClient();
        Task<HttpResponseMessage> RefreshAsync() => http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken, ["client_id"] = setup.ClientId,
        }));

        suite.CutAdmin();
        try
        {
            // More tries than the reuse leeway allows uses: none of them counts, since none issued anything.
            for (var i = 0; i < 3; i++)
            {
                using var refused = await RefreshAsync();
                await HttpAssert.OAuthErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "temporarily_unavailable");
            }
        }
        finally
        {
            suite.RestoreAdmin();
        }

        using var refreshed = await RefreshAsync();
        var tokens = await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK);
        Assert.NotEqual(refreshToken, tokens.GetProperty("refresh_token").GetString());
    }

    [Fact]
    public async Task Authorize_WhileAdminIsDown_SendsTheClientTemporarilyUnavailable_AndKeepsTheSession()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        Assert.True(HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge))).ContainsKey("code"));

        suite.CutAdmin();
        try
        {
            // RFC 6749 §4.1.2.1: the error goes back to the client, so a silent renew (prompt=none) learns it too.
            foreach (var prompt in new[] { (string?)null, "none" })
            {
                using var unavailable = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["prompt"] = prompt }));
                var sent = unavailable.Headers.Location ?? throw new InvalidOperationException($"{unavailable.StatusCode}: {await unavailable.Content.ReadAsStringAsync()}");
                Assert.StartsWith(SignInSetup.RedirectUri, sent.ToString(), StringComparison.Ordinal);
                Assert.Equal("temporarily_unavailable", HostedFlow.Parameters(sent)["error"]);
                Assert.DoesNotContain(unavailable.Headers.TryGetValues("Set-Cookie", out var cookies) ? cookies : [], c => c.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase));
            }
        }
        finally
        {
            suite.RestoreAdmin();
        }

        // Still signed in: the consent is remembered, so the client gets a code at once.
        using var again = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));
        var redirect = again.Headers.Location ?? throw new InvalidOperationException($"{again.StatusCode}: {await again.Content.ReadAsStringAsync()}");
        Assert.StartsWith(SignInSetup.RedirectUri, redirect.ToString(), StringComparison.Ordinal);
        Assert.True(HostedFlow.Parameters(redirect).ContainsKey("code"), redirect.ToString());
    }

    [Fact]
    public async Task CodeExchange_WhileAdminIsDown_Is503_AndTheSameCodeIsRedeemedAfterwards()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge)))["code"];
        using var http = suite.Token.CreateClient();
        Task<HttpResponseMessage> ExchangeAsync() => http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));

        suite.CutAdmin();
        try
        {
            using var refused = await ExchangeAsync();
            await HttpAssert.OAuthErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "temporarily_unavailable");
        }
        finally
        {
            suite.RestoreAdmin();
        }

        using var exchanged = await ExchangeAsync();
        Assert.True((await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).TryGetProperty("access_token", out _));
    }

    [Fact]
    public async Task UserInfo_WhileAdminIsDown_Is503_NotInvalidToken()
    {
        var setup = await suite.SetUpAsync();
        var accessToken = (await suite.SignInOnNewDeviceAsync(setup)).GetProperty("access_token").GetString()!;
        using var http = suite.Token.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);

        suite.CutAdmin();
        try
        {
            using var unavailable = await http.GetAsync($"{setup.Issuer}/oauth/userinfo");
            await HttpAssert.OAuthErrorAsync(unavailable, HttpStatusCode.ServiceUnavailable, "temporarily_unavailable");
            Assert.False(unavailable.Headers.Contains("WWW-Authenticate"));
        }
        finally
        {
            suite.RestoreAdmin();
        }

        using var answered = await http.GetAsync($"{setup.Issuer}/oauth/userinfo");
        Assert.Equal(setup.UserId.ToString(), (await HttpAssert.JsonAsync(answered, HttpStatusCode.OK)).GetProperty("sub").GetString());
    }
}
