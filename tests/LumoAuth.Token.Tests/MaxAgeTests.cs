using System.Net;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// <c>max_age</c> (OIDC Core §3.1.2.1) is judged when a request arrives, against the session's sign-in: the pages the
/// user then passes through (sign-in, consent) take the time they take without sending the user round again.
/// </summary>
public sealed class MaxAgeTests(MovableClockSuite suite) : IClassFixture<MovableClockSuite>
{
    [Fact]
    public async Task MaxAgeZero_SignsInOnce_AndTheConsentGivenSecondsLaterEndsWithACode()
    {
        // OIDC Core §3.1.2.1 (max_age=0 is prompt=login): one sign-in for this request, then the request goes on; the
        // seconds the user spends on the pages after it do not send them back to sign in again.
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        using var first = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["max_age"] = "0" }));
        using var login = await HostedFlow.SubmitLoginAsync(browser, HostedFlow.LocalRedirect(first)!, setup.Email, setup.Password);
        suite.Clock.Advance(TimeSpan.FromSeconds(2));
        using var consent = await browser.GetAsync(HostedFlow.LocalRedirect(login)!);
        Assert.Equal(HttpStatusCode.OK, consent.StatusCode);
        suite.Clock.Advance(TimeSpan.FromSeconds(5));

        using var accepted = await HostedFlow.DecideConsentAsync(browser, await consent.Content.ReadAsStringAsync(), accept: true);

        Assert.True(accepted.Headers.Location?.AbsoluteUri.StartsWith(SignInSetup.RedirectUri, StringComparison.Ordinal), accepted.Headers.Location?.ToString());
        var code = HostedFlow.Parameters(accepted.Headers.Location!)["code"];
        using var http = suite.Token.CreateClient();
        using var redeemed = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        var tokens = await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK);
        Assert.True(new JsonWebToken(tokens.GetProperty("id_token").GetString()).TryGetPayloadValue<long>("auth_time", out var authTime) && authTime > 0);

        // A session older than the request is still sent to sign in, every time.
        using var again = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["max_age"] = "0" }));
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?", HostedFlow.LocalRedirect(again), StringComparison.Ordinal);
        Assert.DoesNotContain("max_age", Uri.UnescapeDataString(HostedFlow.LocalRedirect(again)!), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MaxAge_MetWhenTheConsentPageIsShown_TheTimeSpentReadingItDoesNotCount()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge));
        using var consent = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["prompt"] = "consent", ["max_age"] = "60" }));
        Assert.Equal(HttpStatusCode.OK, consent.StatusCode);
        suite.Clock.Advance(TimeSpan.FromSeconds(90));

        using var accepted = await HostedFlow.DecideConsentAsync(browser, await consent.Content.ReadAsStringAsync(), accept: true);

        Assert.True(HostedFlow.Parameters(accepted.Headers.Location!).ContainsKey("code"), accepted.Headers.Location?.ToString());
        // The same request made now is judged afresh: the sign-in is 90 s old.
        using var late = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["max_age"] = "60" }));
        Assert.StartsWith($"/t/{setup.Tenant.Slug}/login?", HostedFlow.LocalRedirect(late), StringComparison.Ordinal);
    }
}
