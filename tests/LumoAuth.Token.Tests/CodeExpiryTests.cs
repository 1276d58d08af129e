using System.Net;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LumoAuth.Token.Tests;

/// <summary>A token service whose clock the test moves (OpenIddict reads expiry from the registered TimeProvider).</summary>
public sealed class MovableClockSuite : TokenSuite
{
    public MovableClock Clock { get; } = new();

    protected override void ConfigureTokenServices(IServiceCollection services) =>
        services.Replace(ServiceDescriptor.Singleton<TimeProvider>(Clock));
}

/// <summary>Authorization codes live a few minutes: an expired one is <c>invalid_grant</c>.</summary>
public sealed class CodeExpiryTests(MovableClockSuite suite) : IClassFixture<MovableClockSuite>
{
    [Fact]
    public async Task Token_ExpiredAuthorizationCode_InvalidGrant()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge)))["code"];

        suite.Clock.Advance(TimeSpan.FromMinutes(11));
        using var http = suite.Token.CreateClient();
        using var response = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
    }
}
