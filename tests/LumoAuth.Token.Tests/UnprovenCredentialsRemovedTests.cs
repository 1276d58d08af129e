using System.Net;
using LumoAuth.Contracts.Users;
using LumoAuth.Token.Tests.Support;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using ApiAssert = LumoAuth.Testing.ApiAssert;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Admin's <see cref="UserUnprovenCredentialsRemoved"/> (a link proved the address of a self-registered account and what
/// it had was removed): the token service ends the sessions and grants that started before that moment, and keeps the
/// ones opened since (the sign-in that proved it). The hosted pages try the same at once; this is what makes it certain.
/// </summary>
public sealed class UnprovenCredentialsRemovedTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
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

    private async Task<HttpStatusCode> RefreshAsync(SignInSetup setup, SignedIn signedIn)
    {
        using var http = suite.Token.CreateClient();
        using var response = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = signedIn.RefreshToken, ["client_id"] = setup.ClientId,
        }));
        return response.StatusCode;
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

    [Fact]
    public async Task TheEvent_EndsTheSessionAndGrantStartedBefore_AndKeepsTheOneStartedSince()
    {
        var setup = await suite.SetUpAsync();
        var before = await SignInAsync(setup);
        var moment = suite.Token.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var since = await SignInAsync(setup);

        await suite.Token.Services.GetRequiredService<IBus>().Publish(
            new UserUnprovenCredentialsRemoved(setup.UserId) { TenantId = setup.Tenant.Id, OccurredAt = moment });

        await ApiAssert.EventuallyAsync(async () => await BrowserIsSignedInAsync(setup, before) ? null : "signed out");
        Assert.Equal(HttpStatusCode.BadRequest, await RefreshAsync(setup, before));
        await ApiAssert.EventuallyAsync(async () => await AccessTokenWorksAsync(setup, before) ? null : "denied");

        Assert.True(await BrowserIsSignedInAsync(setup, since));
        Assert.True(await AccessTokenWorksAsync(setup, since));
        Assert.Equal(HttpStatusCode.OK, await RefreshAsync(setup, since));

        before.Browser.Dispose();
        since.Browser.Dispose();
    }
}
