using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>The tenant's session policy (admin's <c>sessionPolicy</c>) governs SSO sessions: lifetime, idle timeout, single session.</summary>
[RunsLong(75)]
public sealed class SessionPolicyTests(MovableClockSuite suite) : IClassFixture<MovableClockSuite>
{
    private async Task<SignInSetup> TenantWithPolicyAsync(object sessionPolicy)
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        (await admin.PatchAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { sessionPolicy })).EnsureSuccessStatusCode();
        return setup;
    }

    private static async Task<(string Code, string Verifier)> SignInAsync(HttpClient browser, SignInSetup setup, bool expectConsent = true)
    {
        var (verifier, challenge) = HostedFlow.Pkce();
        var redirect = await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge), expectConsent);
        return (HostedFlow.Parameters(redirect)["code"], verifier);
    }

    /// <summary>True when the authorization endpoint lets the browser through without the login page.</summary>
    private static async Task<bool> IsSignedInAsync(HttpClient browser, SignInSetup setup)
    {
        var (_, challenge) = HostedFlow.Pkce();
        using var response = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));
        return HostedFlow.LocalRedirect(response) is not { } local || !local.Contains("/login", StringComparison.Ordinal);
    }

    private async Task<HttpResponseMessage> TokenAsync(SignInSetup setup, Dictionary<string, string> form)
    {
        using var http = suite.Token.CreateClient();
        form["client_id"] = setup.ClientId;
        return await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(form));
    }

    /// <summary>The code exchanged: the token response (with <c>id_token</c> and <c>refresh_token</c>).</summary>
    private async Task<JsonElement> TokensAsync(SignInSetup setup, string code, string verifier)
    {
        using var response = await TokenAsync(setup, new()
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri, ["code_verifier"] = verifier,
        });
        return await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
    }

    private Task<HttpResponseMessage> RefreshAsync(SignInSetup setup, string refreshToken) =>
        TokenAsync(setup, new() { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken });

    /// <summary>Refreshes (asserting 200); the rotated refresh token.</summary>
    private async Task<string> RefreshedAsync(SignInSetup setup, string refreshToken)
    {
        using var refreshed = await RefreshAsync(setup, refreshToken);
        return (await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK)).GetProperty("refresh_token").GetString()!;
    }

    [Fact]
    public async Task IdleSession_SignsTheBrowserOutAfterTheIdleTimeout_UseKeepsItAlive_ButItsGrantsGoOn()
    {
        var setup = await TenantWithPolicyAsync(new { idleTimeout = 600, maxAge = 86_400 });
        using var browser = suite.Browser();
        var (code, verifier) = await SignInAsync(browser, setup);
        var refreshToken = (await TokensAsync(setup, code, verifier)).GetProperty("refresh_token").GetString()!;

        // Used every eight minutes, it stays: each use counts as activity.
        for (var i = 0; i < 3; i++)
        {
            suite.Clock.Advance(TimeSpan.FromMinutes(8));
            Assert.True(await IsSignedInAsync(browser, setup));
        }

        // Eleven minutes without use sign the browser out. The idle timeout is the browser's: the client's grant goes on,
        // and its refresh does not sign the idle browser back in.
        suite.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.False(await IsSignedInAsync(browser, setup));
        await RefreshedAsync(setup, refreshToken);
        Assert.False(await IsSignedInAsync(browser, setup));
    }

    /// <summary>
    /// With the tenant's defaults (idle 30 minutes, access tokens 60), a client refreshes when its access token expires,
    /// long after the browser went idle: the refresh works, and a logout from the client still ends the grant.
    /// </summary>
    [Fact]
    public async Task DefaultPolicy_RefreshWhenTheAccessTokenExpires_Works_AndLogoutStillEndsTheGrant()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (code, verifier) = await SignInAsync(browser, setup);
        var tokens = await TokensAsync(setup, code, verifier);
        Assert.InRange(tokens.GetProperty("expires_in").GetInt32(), 3590, 3600);

        suite.Clock.Advance(TimeSpan.FromMinutes(61));
        var refreshToken = await RefreshedAsync(setup, tokens.GetProperty("refresh_token").GetString()!);
        suite.Clock.Advance(TimeSpan.FromMinutes(61));
        refreshToken = await RefreshedAsync(setup, refreshToken);

        // The browser went idle long ago (its cookie no longer counts); the ID token names the session to end.
        var logout = QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["id_token_hint"] = tokens.GetProperty("id_token").GetString(), ["post_logout_redirect_uri"] = SignInSetup.PostLogoutUri,
        });
        using (var signedOut = await browser.GetAsync(logout))
        {
            Assert.StartsWith(SignInSetup.PostLogoutUri, signedOut.Headers.Location!.AbsoluteUri, StringComparison.Ordinal);
        }

        using var refreshed = await RefreshAsync(setup, refreshToken);
        await HttpAssert.OAuthErrorAsync(refreshed, HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Logout_WithTheHintOfAnOlderSession_EndsThatSessionToo_NotOnlyTheBrowsersNewerOne()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (code, verifier) = await SignInAsync(browser, setup);
        var older = await TokensAsync(setup, code, verifier);

        // The browser goes idle and signs in again: a second session of the same user.
        suite.Clock.Advance(TimeSpan.FromMinutes(31));
        (code, verifier) = await SignInAsync(browser, setup, expectConsent: false);
        var newer = await TokensAsync(setup, code, verifier);
        Assert.NotEqual(new JsonWebToken(older.GetProperty("id_token").GetString()).GetClaim("sid").Value,
            new JsonWebToken(newer.GetProperty("id_token").GetString()).GetClaim("sid").Value);

        // The first client logs out with its own ID token.
        var logout = QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["id_token_hint"] = older.GetProperty("id_token").GetString(), ["post_logout_redirect_uri"] = SignInSetup.PostLogoutUri,
        });
        using (await browser.GetAsync(logout))
        {
        }

        foreach (var grant in new[] { older, newer })
        {
            using var refreshed = await RefreshAsync(setup, grant.GetProperty("refresh_token").GetString()!);
            await HttpAssert.OAuthErrorAsync(refreshed, HttpStatusCode.BadRequest, "invalid_grant");
        }
    }

    [Fact]
    public async Task IdleSession_RevokedByAnAdmin_EndsItsGrants()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (code, verifier) = await SignInAsync(browser, setup);
        var tokens = await TokensAsync(setup, code, verifier);
        var sessionId = new JsonWebToken(tokens.GetProperty("id_token").GetString()).GetClaim("sid").Value;

        suite.Clock.Advance(TimeSpan.FromMinutes(45));
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using (var revoked = await admin.DeleteAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions/{sessionId}"))
        {
            await HttpAssert.JsonAsync(revoked, HttpStatusCode.OK);
        }

        using var refreshed = await RefreshAsync(setup, tokens.GetProperty("refresh_token").GetString()!);
        await HttpAssert.OAuthErrorAsync(refreshed, HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Grants_EndWithTheSessionsMaxAge()
    {
        var setup = await TenantWithPolicyAsync(new { maxAge = 3_600, idleTimeout = 600 });
        using var browser = suite.Browser();
        var (code, verifier) = await SignInAsync(browser, setup);
        var refreshToken = (await TokensAsync(setup, code, verifier)).GetProperty("refresh_token").GetString()!;

        suite.Clock.Advance(TimeSpan.FromMinutes(50));
        refreshToken = await RefreshedAsync(setup, refreshToken);
        suite.Clock.Advance(TimeSpan.FromMinutes(11));

        using var refreshed = await RefreshAsync(setup, refreshToken);
        await HttpAssert.OAuthErrorAsync(refreshed, HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Session_LastsMaxAge_HoweverActive()
    {
        var setup = await TenantWithPolicyAsync(new { maxAge = 3_600, idleTimeout = 3_600 });
        using var browser = suite.Browser();
        await SignInAsync(browser, setup);

        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var session = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions"), HttpStatusCode.OK))
            .GetProperty("data")[0];
        Assert.Equal(TimeSpan.FromHours(1), session.GetProperty("expiresAt").GetDateTimeOffset() - session.GetProperty("createdAt").GetDateTimeOffset());

        suite.Clock.Advance(TimeSpan.FromMinutes(50));
        Assert.True(await IsSignedInAsync(browser, setup));
        suite.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.False(await IsSignedInAsync(browser, setup));
    }

    [Fact]
    public async Task SingleSession_ASecondSignIn_EndsTheFirstBrowsersSession()
    {
        var setup = await TenantWithPolicyAsync(new { singleSession = true });
        using var first = suite.Browser();
        using var second = suite.Browser();
        await SignInAsync(first, setup);
        Assert.True(await IsSignedInAsync(first, setup));

        // Consent was given once for the client, so the second browser goes straight through.
        await SignInAsync(second, setup, expectConsent: false);

        Assert.False(await IsSignedInAsync(first, setup));
        Assert.True(await IsSignedInAsync(second, setup));
    }

    [Fact]
    public async Task MaxSessions_ASignInBeyondTheLimit_EndsTheOldestSessionOnly()
    {
        var setup = await TenantWithPolicyAsync(new { maxSessions = 2 });
        using var first = suite.Browser();
        using var second = suite.Browser();
        using var third = suite.Browser();
        await SignInAsync(first, setup);
        await SignInAsync(second, setup, expectConsent: false);
        Assert.True(await IsSignedInAsync(first, setup));

        await SignInAsync(third, setup, expectConsent: false);

        Assert.False(await IsSignedInAsync(first, setup));
        Assert.True(await IsSignedInAsync(second, setup));
        Assert.True(await IsSignedInAsync(third, setup));
    }
}
