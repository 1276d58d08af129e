using System.Net;
using System.Net.Http.Json;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>The tenant's session policy (admin's <c>sessionPolicy</c>) governs SSO sessions: lifetime, idle timeout, single session.</summary>
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

    private async Task<string> RefreshTokenAsync(SignInSetup setup, string code, string verifier)
    {
        using var response = await TokenAsync(setup, new()
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri, ["code_verifier"] = verifier,
        });
        return (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("refresh_token").GetString()!;
    }

    [Fact]
    public async Task IdleSession_EndsAfterTheIdleTimeout_UseKeepsItAlive_AndItsRefreshTokensStop()
    {
        var setup = await TenantWithPolicyAsync(new { idleTimeout = 600, maxAge = 86_400 });
        using var browser = suite.Browser();
        var (code, verifier) = await SignInAsync(browser, setup);
        var refreshToken = await RefreshTokenAsync(setup, code, verifier);

        // Used every eight minutes, it stays: each use counts as activity.
        for (var i = 0; i < 3; i++)
        {
            suite.Clock.Advance(TimeSpan.FromMinutes(8));
            Assert.True(await IsSignedInAsync(browser, setup));
        }

        // Eleven minutes without use end it, and with it the grants issued under it.
        suite.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.False(await IsSignedInAsync(browser, setup));
        using var refreshed = await TokenAsync(setup, new() { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken });
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
