using System.Net;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LumoAuth.Token.Tests;

/// <summary>A token service whose clock the test moves (OpenIddict reads expiry from the registered TimeProvider).</summary>
public sealed class MovableClockSuite : TokenSuite
{
    public MovableClock Clock { get; } = new();

    protected override void ConfigureTokenServices(IServiceCollection services) =>
        UseClock(services, Clock);
}

/// <summary>Authorization codes live ten minutes (600 s): an expired one is <c>invalid_grant</c>.</summary>
public sealed class CodeExpiryTests(MovableClockSuite suite) : IClassFixture<MovableClockSuite>
{
    [Fact]
    public async Task Token_ExpiredAuthorizationCode_InvalidGrant()
    {
        var (setup, code, verifier) = await CodeAsync();
        suite.Clock.Advance(TimeSpan.FromMinutes(11));
        await HttpAssert.OAuthErrorAsync(await RedeemAsync(setup, code, verifier), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Token_CodeNineMinutesOld_IsStillRedeemed()
    {
        var (setup, code, verifier) = await CodeAsync();
        suite.Clock.Advance(TimeSpan.FromMinutes(9));
        using var response = await RedeemAsync(setup, code, verifier);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private async Task<(SignInSetup Setup, string Code, string Verifier)> CodeAsync()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge)))["code"];
        return (setup, code, verifier);
    }

    private async Task<HttpResponseMessage> RedeemAsync(SignInSetup setup, string code, string verifier)
    {
        using var http = suite.Token.CreateClient();
        return await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
    }
}
