using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The <c>claims</c> parameter (OIDC Core §5.5): an essential <c>acr</c> must be met or the request fails with
/// <c>unmet_authentication_requirements</c>, and every token of the grant then reports one of the values asked for; a
/// <c>sub</c> value is answered only for that user; a malformed parameter is <c>invalid_request</c>.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class ClaimsParameterTests(TokenSuite suite)
{
    private static string EssentialAcr(params string[] values) =>
        JsonSerializer.Serialize(new { id_token = new { acr = new { essential = true, values } } });

    private static Dictionary<string, string> ErrorOf(HttpResponseMessage response)
    {
        var location = response.Headers.Location ?? throw new InvalidOperationException($"{(int)response.StatusCode}: no redirect");
        Assert.True(location.IsAbsoluteUri, location.ToString());
        var parameters = HostedFlow.Parameters(location);
        Assert.True(parameters.ContainsKey("error"), location.ToString());
        return parameters;
    }

    [Fact]
    public async Task AnEssentialSecondStep_IsAskedFor_AndAUserWithoutOneGetsUnmetAuthenticationRequirements()
    {
        var setup = await suite.SetUpAsync();
        using var browser = await StepUpFlow.OneFactorSessionAsync(suite, setup);
        var (_, challenge) = HostedFlow.Pkce();
        var claims = EssentialAcr("2");

        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["claims"] = claims }));
        var login = HostedFlow.LocalRedirect(authorize)!;
        Assert.Contains("/login?", login, StringComparison.Ordinal);
        using var password = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password);
        using var returned = await browser.GetAsync(HostedFlow.LocalRedirect(password)!);

        // Voluntary acr_values would answer with acr 1 here; an essential acr may not.
        var error = ErrorOf(returned);
        Assert.Equal("unmet_authentication_requirements", error["error"]);
        Assert.Equal(setup.Issuer, error["iss"]);

        // Without a page to show, the session falls short: the user must sign in.
        using var silent = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["claims"] = claims, ["prompt"] = "none" }));
        Assert.Equal("login_required", ErrorOf(silent)["error"]);
    }

    [Fact]
    public async Task AnEssentialSecondStep_GivenAtTheLoginPage_IsReportedInEveryTokenOfTheGrant()
    {
        var setup = await suite.SetUpAsync();
        using var browser = await StepUpFlow.OneFactorSessionAsync(suite, setup);
        var totp = await suite.EnrolTotpAsync(setup);
        var (verifier, challenge) = HostedFlow.Pkce();

        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["claims"] = EssentialAcr("2") }));
        using var returned = await browser.GetAsync(await StepUpFlow.SignInWithSecondStepAsync(browser, setup, HostedFlow.LocalRedirect(authorize)!, totp));
        var tokens = await StepUpFlow.TokensAsync(suite, setup, returned.Headers.Location!, verifier);

        Assert.Equal("2", new JsonWebToken(tokens.GetProperty("id_token").GetString()).GetClaim("acr").Value);
        Assert.Equal("2", new JsonWebToken(tokens.GetProperty("access_token").GetString()).GetClaim("acr").Value);
    }

    [Fact]
    public async Task ATwoFactorSession_AskedForLevelOneEssentially_ReportsOne_ThroughRefreshes_WhileVoluntaryValuesReportTheSession()
    {
        var setup = await suite.SetUpAsync();
        using var browser = await StepUpFlow.OneFactorSessionAsync(suite, setup);
        var totp = await suite.EnrolTotpAsync(setup);
        var (stepVerifier, stepChallenge) = HostedFlow.Pkce();
        using var stepUp = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, stepChallenge, new() { ["acr_values"] = "2" }));
        using var stepped = await browser.GetAsync(await StepUpFlow.SignInWithSecondStepAsync(browser, setup, HostedFlow.LocalRedirect(stepUp)!, totp));
        Assert.Equal("2", (await StepUpFlow.IdTokenAsync(suite, setup, stepped.Headers.Location!, stepVerifier)).GetClaim("acr").Value);

        // OIDC Core §5.5.1.1: the acr returned must be one of the essential values; two factors meet level one.
        var (verifier, challenge) = HostedFlow.Pkce();
        using var one = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["claims"] = EssentialAcr("1") }));
        var tokens = await StepUpFlow.TokensAsync(suite, setup, one.Headers.Location!, verifier);
        Assert.Equal("1", new JsonWebToken(tokens.GetProperty("id_token").GetString()).GetClaim("acr").Value);
        Assert.Contains(new JsonWebToken(tokens.GetProperty("id_token").GetString()).Claims, c => c.Type == "amr" && c.Value == "mfa");
        Assert.DoesNotContain("lumo_acr_essential", new JsonWebToken(tokens.GetProperty("access_token").GetString()).Claims.Select(c => c.Type));

        using var refreshed = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()!, ["client_id"] = setup.ClientId,
        });
        var refreshedTokens = await HttpAssert.JsonAsync(refreshed, HttpStatusCode.OK);
        Assert.Equal("1", new JsonWebToken(refreshedTokens.GetProperty("id_token").GetString()).GetClaim("acr").Value);
        Assert.Equal("1", new JsonWebToken(refreshedTokens.GetProperty("access_token").GetString()).GetClaim("acr").Value);

        // Both allowed, in order of preference: the first the sign-in meets. Voluntary: the session's own level.
        var (bothVerifier, bothChallenge) = HostedFlow.Pkce();
        using var both = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, bothChallenge, new() { ["claims"] = EssentialAcr("2", "1") }));
        Assert.Equal("2", (await StepUpFlow.IdTokenAsync(suite, setup, both.Headers.Location!, bothVerifier)).GetClaim("acr").Value);
        var (voluntaryVerifier, voluntaryChallenge) = HostedFlow.Pkce();
        var voluntary = JsonSerializer.Serialize(new { id_token = new { acr = new { values = new[] { "1" } } } });
        using var asked = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, voluntaryChallenge, new() { ["claims"] = voluntary }));
        Assert.Equal("2", (await StepUpFlow.IdTokenAsync(suite, setup, asked.Headers.Location!, voluntaryVerifier)).GetClaim("acr").Value);
    }

    [Fact]
    public async Task EssentialValuesNoneOfWhichAreOurs_AreUnmetAtOnce_WhileVoluntaryOnesAreIgnored()
    {
        var setup = await suite.SetUpAsync();
        var (verifier, challenge) = HostedFlow.Pkce();
        using (var stranger = suite.Browser())
        {
            // No sign-in is asked for first: none could meet it.
            using var unmet = await stranger.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["claims"] = EssentialAcr("urn:mace:incommon:iap:silver") }));
            Assert.Equal("unmet_authentication_requirements", ErrorOf(unmet)["error"]);
        }

        using var browser = await StepUpFlow.OneFactorSessionAsync(suite, setup);
        var voluntary = JsonSerializer.Serialize(new { id_token = new { acr = new { values = new[] { "urn:mace:incommon:iap:silver" } } } });
        using var answered = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["claims"] = voluntary }));
        Assert.Equal("1", (await StepUpFlow.IdTokenAsync(suite, setup, answered.Headers.Location!, verifier)).GetClaim("acr").Value);
    }

    [Fact]
    public async Task ASubValue_IsAnsweredOnlyForThatUser()
    {
        var setup = await suite.SetUpAsync();
        using var browser = await StepUpFlow.OneFactorSessionAsync(suite, setup);
        string SubIs(string subject) => JsonSerializer.Serialize(new { id_token = new { sub = new { value = subject }, email = (object?)null } });

        var (verifier, challenge) = HostedFlow.Pkce();
        using var same = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["claims"] = SubIs(setup.UserId.ToString()), ["prompt"] = "none" }));
        Assert.Equal(setup.UserId.ToString(), (await StepUpFlow.IdTokenAsync(suite, setup, same.Headers.Location!, verifier)).Subject);

        // Someone else: never their tokens. prompt=none says the user must sign in; otherwise the login page asks.
        var other = SubIs(Guid.NewGuid().ToString());
        using var silent = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["claims"] = other, ["prompt"] = "none" }));
        Assert.Equal("login_required", ErrorOf(silent)["error"]);
        using var asked = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["claims"] = other }));
        Assert.Contains("/login?", HostedFlow.LocalRedirect(asked), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[\"acr\"]")]
    [InlineData("{\"id_token\":[\"acr\"]}")]
    [InlineData("{\"id_token\":{\"acr\":\"2\"}}")]
    [InlineData("{\"id_token\":{\"acr\":{\"essential\":\"yes\"}}}")]
    [InlineData("{\"id_token\":{\"acr\":{\"values\":\"2\"}}}")]
    [InlineData("{\"id_token\":{\"acr\":{\"values\":[2]}}}")]
    [InlineData("{\"id_token\":{\"sub\":{\"value\":42}}}")]
    [InlineData("{\"userinfo\":{\"email\":{\"essential\":1}}}")]
    public async Task AMalformedClaimsParameter_IsInvalidRequest_AtTheClientAndAtThePush(string claims)
    {
        var setup = await suite.SetUpAsync();
        using var browser = await StepUpFlow.OneFactorSessionAsync(suite, setup);
        var (_, challenge) = HostedFlow.Pkce();

        using var authorize = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["claims"] = claims }));
        var error = ErrorOf(authorize);
        Assert.Equal("invalid_request", error["error"]);
        Assert.Contains("claims", error["error_description"], StringComparison.Ordinal);

        using var pushed = await suite.PostFormAsync(setup.Issuer + "/oauth/par", new Dictionary<string, string>
        {
            ["client_id"] = setup.ClientId, ["response_type"] = "code", ["redirect_uri"] = SignInSetup.RedirectUri, ["scope"] = "openid",
            ["code_challenge"] = challenge, ["code_challenge_method"] = "S256", ["claims"] = claims,
        });
        Assert.Equal("invalid_request", (await HttpAssert.JsonAsync(pushed, HttpStatusCode.BadRequest)).GetProperty("error").GetString());
    }

    [Fact]
    public async Task ARepeatedOrHugeClaimsParameter_IsInvalidRequest_WhileMembersOidcDoesNotDefineAreIgnored()
    {
        var setup = await suite.SetUpAsync();
        using var browser = await StepUpFlow.OneFactorSessionAsync(suite, setup);
        var (verifier, challenge) = HostedFlow.Pkce();

        using var twice = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge) + "&claims=%7B%7D&claims=%7B%7D");
        Assert.Equal("invalid_request", ErrorOf(twice)["error"]);
        using var pushed = await suite.PostFormAsync(setup.Issuer + "/oauth/par", new Dictionary<string, string>
        {
            ["client_id"] = setup.ClientId, ["response_type"] = "code", ["redirect_uri"] = SignInSetup.RedirectUri, ["scope"] = "openid",
            ["code_challenge"] = challenge, ["code_challenge_method"] = "S256",
            ["claims"] = JsonSerializer.Serialize(new { userinfo = new { note = new string('x', 9000) } }),
        });
        Assert.Equal("invalid_request", (await HttpAssert.JsonAsync(pushed, HttpStatusCode.BadRequest)).GetProperty("error").GetString());

        // Extensions (verified_claims, a claim's purpose) and claims outside the granted scopes are not errors.
        var extended = """{"verified_claims":{"claims":{"given_name":null}},"userinfo":{"phone_number":{"essential":true,"purpose":"to call you"}},"id_token":{"auth_time":{"essential":true}}}""";
        using var answered = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["claims"] = extended }));
        var idToken = await StepUpFlow.IdTokenAsync(suite, setup, answered.Headers.Location!, verifier);
        Assert.True(idToken.TryGetClaim("auth_time", out _));
        Assert.False(idToken.TryGetClaim("phone_number", out _));
    }

    [Fact]
    public async Task APushedRequest_CarriesItsClaimsParameter()
    {
        var setup = await suite.SetUpAsync();
        using var browser = await StepUpFlow.OneFactorSessionAsync(suite, setup);
        var (_, challenge) = HostedFlow.Pkce();
        using var pushed = await suite.PostFormAsync(setup.Issuer + "/oauth/par", new Dictionary<string, string>
        {
            ["client_id"] = setup.ClientId, ["response_type"] = "code", ["redirect_uri"] = SignInSetup.RedirectUri, ["scope"] = "openid",
            ["code_challenge"] = challenge, ["code_challenge_method"] = "S256", ["claims"] = EssentialAcr("2"),
        });
        var requestUri = (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString()!;

        using var authorize = await browser.GetAsync($"{setup.Tenant.Api}/oauth/authorize?client_id={setup.ClientId}&request_uri={Uri.EscapeDataString(requestUri)}");
        var login = HostedFlow.LocalRedirect(authorize);
        Assert.True(login is not null, authorize.Headers.Location?.ToString());
        using var password = await HostedFlow.SubmitLoginAsync(browser, login, setup.Email, setup.Password);
        using var returned = await browser.GetAsync(HostedFlow.LocalRedirect(password)!);
        Assert.Equal("unmet_authentication_requirements", ErrorOf(returned)["error"]);
    }

    [Fact]
    public async Task Discovery_SaysTheClaimsParameterIsSupported()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();
        var metadata = await http.GetFromJsonAsync<JsonElement>(setup.Issuer + "/.well-known/openid-configuration");
        Assert.True(metadata.GetProperty("claims_parameter_supported").GetBoolean());
    }
}
