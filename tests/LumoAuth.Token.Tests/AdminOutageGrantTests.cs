using System.Net;
using System.Net.Http.Headers;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests;

/// <summary>A token service whose link to admin a test can cut (every call to admin then fails to connect) and restore.</summary>
public sealed class AdminOutageSuite : TokenSuite
{
    private volatile bool _adminDown;

    public void CutAdmin() => _adminDown = true;

    public void RestoreAdmin() => _adminDown = false;

    protected override void ConfigureTokenServices(IServiceCollection services) =>
        services.AddHttpClient(InternalClients.Admin).AddHttpMessageHandler(() => new CuttableLink(() => _adminDown));

    private sealed class CuttableLink(Func<bool> down) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            down()
                ? throw new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused (test: admin is down)")
                : base.SendAsync(request, cancellationToken);
    }
}

/// <summary>
/// While admin cannot say whether a user may still sign in, grants are neither refused nor used up and sessions are not
/// ended: the answer is 503 <c>temporarily_unavailable</c>, and the same step works once admin is back.
/// </summary>
public sealed class AdminOutageGrantTests(AdminOutageSuite suite) : IClassFixture<AdminOutageSuite>
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
    public async Task Authorize_WhileAdminIsDown_Is503_AndKeepsTheSession()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        Assert.True(HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge))).ContainsKey("code"));

        suite.CutAdmin();
        try
        {
            using var unavailable = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, unavailable.StatusCode);
            Assert.Contains("data-error=\"temporarily_unavailable\"", await unavailable.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.DoesNotContain(unavailable.Headers.TryGetValues("Set-Cookie", out var cookies) ? cookies : [], c => c.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase));
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
