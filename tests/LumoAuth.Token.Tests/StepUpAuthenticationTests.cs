using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Step-up authentication (OIDC Core §3.1.2.1 <c>acr_values</c>, RFC 9470): a client that asks for <c>acr_values=2</c> while
/// the user's session took one factor has the user sign in again with their second step, once; a user who has none
/// gets one-factor tokens all the same, and <c>acr</c> says which.
/// </summary>
public sealed class StepUpAuthenticationTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private Task<HttpClient> OneFactorSessionAsync(SignInSetup setup) => StepUpFlow.OneFactorSessionAsync(suite, setup);

    private Task<JsonWebToken> RedeemAsync(SignInSetup setup, Uri redirect, string verifier) => StepUpFlow.IdTokenAsync(suite, setup, redirect, verifier);

    private static Task<string> SignInWithSecondStepAsync(HttpClient browser, SignInSetup setup, string loginUrl, OtpNet.Totp totp) =>
        StepUpFlow.SignInWithSecondStepAsync(browser, setup, loginUrl, totp);

    [Fact]
    public async Task AskingForTwoFactors_SignsAOneFactorSessionInAgain_WithTheSecondStep()
    {
        var setup = await suite.SetUpAsync();
        using var browser = await OneFactorSessionAsync(setup);
        var totp = await suite.EnrolTotpAsync(setup);
        var (verifier, challenge) = HostedFlow.Pkce();

        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["acr_values"] = "2" }));
        var login = HostedFlow.LocalRedirect(authorize);
        Assert.NotNull(login);
        Assert.Contains("/login?", login, StringComparison.Ordinal);
        using var returned = await browser.GetAsync(await SignInWithSecondStepAsync(browser, setup, login, totp));
        var redirect = returned.Headers.Location ?? throw new InvalidOperationException(await returned.Content.ReadAsStringAsync());

        var idToken = await RedeemAsync(setup, redirect, verifier);
        Assert.Equal("2", idToken.GetClaim("acr").Value);
        Assert.Contains(idToken.Claims, c => c.Type == "amr" && c.Value == "mfa");

        // The session now took two factors: asking again signs nobody in again.
        var (againVerifier, againChallenge) = HostedFlow.Pkce();
        using var again = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, againChallenge, new() { ["acr_values"] = "2" }));
        Assert.Equal("2", (await RedeemAsync(setup, again.Headers.Location!, againVerifier)).GetClaim("acr").Value);
    }

    [Fact]
    public async Task AUserWithoutASecondStep_SignsInOnce_AndGetsOneFactorTokens()
    {
        var setup = await suite.SetUpAsync();
        using var browser = await OneFactorSessionAsync(setup);
        var (verifier, challenge) = HostedFlow.Pkce();

        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["acr_values"] = "2 1" }));
        var login = HostedFlow.LocalRedirect(authorize)!;
        Assert.Contains("/login?", login, StringComparison.Ordinal);
        using var password = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password);
        using var returned = await browser.GetAsync(HostedFlow.LocalRedirect(password)!);

        // Back from the login page the request is answered, not sent round again.
        Assert.Equal("1", (await RedeemAsync(setup, returned.Headers.Location!, verifier)).GetClaim("acr").Value);
    }

    [Fact]
    public async Task OneFactorAsked_OrNothingKnownAsked_TakesTheSessionAsItIs_AndPromptNoneSaysLoginRequired()
    {
        var setup = await suite.SetUpAsync();
        using var browser = await OneFactorSessionAsync(setup);

        foreach (var acrValues in new[] { "1", "1 2", "urn:mace:incommon:iap:silver" })
        {
            var (verifier, challenge) = HostedFlow.Pkce();
            using var answered = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["acr_values"] = acrValues }));
            Assert.Equal("1", (await RedeemAsync(setup, answered.Headers.Location!, verifier)).GetClaim("acr").Value);
        }

        var (_, silentChallenge) = HostedFlow.Pkce();
        using var silent = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, silentChallenge, new() { ["acr_values"] = "2", ["prompt"] = "none" }));
        Assert.Equal("login_required", HostedFlow.Parameters(silent.Headers.Location!)["error"]);
    }

    [Fact]
    public async Task APushedRequestForTwoFactors_StepsUpOnce()
    {
        var setup = await suite.SetUpAsync();
        using var browser = await OneFactorSessionAsync(setup);
        var totp = await suite.EnrolTotpAsync(setup);
        var (verifier, challenge) = HostedFlow.Pkce();
        using var pushed = await suite.PostFormAsync(setup.Issuer + "/oauth/par", new Dictionary<string, string>
        {
            ["client_id"] = setup.ClientId, ["response_type"] = "code", ["redirect_uri"] = SignInSetup.RedirectUri, ["scope"] = "openid profile email offline_access",
            ["code_challenge"] = challenge, ["code_challenge_method"] = "S256", ["acr_values"] = "2",
        });
        var requestUri = (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString()!;

        using var authorize = await browser.GetAsync($"{setup.Tenant.Api}/oauth/authorize?client_id={setup.ClientId}&request_uri={Uri.EscapeDataString(requestUri)}");
        var login = HostedFlow.LocalRedirect(authorize)!;
        Assert.Contains("/login?", login, StringComparison.Ordinal);
        using var returned = await browser.GetAsync(await SignInWithSecondStepAsync(browser, setup, login, totp));

        Assert.Equal("2", (await RedeemAsync(setup, returned.Headers.Location!, verifier)).GetClaim("acr").Value);
    }

    [Fact]
    public async Task Discovery_NamesTheLevels()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();
        var metadata = await http.GetFromJsonAsync<JsonElement>(setup.Issuer + "/.well-known/openid-configuration");
        Assert.Equal(["1", "2"], metadata.GetProperty("acr_values_supported").EnumerateArray().Select(v => v.GetString()));
    }
}
