using System.Net;
using System.Text.RegularExpressions;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests.Support;

/// <summary>Sign-ins of one factor and of two, and redeeming their codes, for the tests of <c>acr</c> (step-up, the <c>claims</c> parameter).</summary>
public static partial class StepUpFlow
{
    /// <summary>A browser signed in with the password alone (the user had no second factor then).</summary>
    public static async Task<HttpClient> OneFactorSessionAsync(TokenSuite suite, SignInSetup setup)
    {
        var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();
        var redirect = await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge));
        Assert.True(HostedFlow.Parameters(redirect).ContainsKey("code"), redirect.ToString());
        return browser;
    }

    /// <summary>The token response for the code <paramref name="redirect"/> carries.</summary>
    public static async Task<System.Text.Json.JsonElement> TokensAsync(TokenSuite suite, SignInSetup setup, Uri redirect, string verifier)
    {
        var parameters = HostedFlow.Parameters(redirect);
        Assert.True(parameters.ContainsKey("code"), redirect.ToString());
        using var exchanged = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = parameters["code"], ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        });
        return await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
    }

    /// <summary>The ID token for the code <paramref name="redirect"/> carries.</summary>
    public static async Task<JsonWebToken> IdTokenAsync(TokenSuite suite, SignInSetup setup, Uri redirect, string verifier) =>
        new((await TokensAsync(suite, setup, redirect, verifier)).GetProperty("id_token").GetString());

    /// <summary>The login page for a step-up: password, then the TOTP code it asks for; the way back to the authorization endpoint.</summary>
    public static async Task<string> SignInWithSecondStepAsync(HttpClient browser, SignInSetup setup, string loginUrl, OtpNet.Totp totp)
    {
        using var password = await HostedFlow.SubmitLoginAsync(browser, loginUrl, setup.Email, setup.Password);
        var secondStep = await password.Content.ReadAsStringAsync();
        Assert.Contains("name=\"totp\"", secondStep, StringComparison.Ordinal);
        var form = HostedFlow.HiddenFields(secondStep);
        form["totp"] = totp.ComputeTotp(DateTime.UtcNow.AddSeconds(30));
        using var coded = await browser.PostAsync(FormAction().Match(secondStep).Groups[1].Value, new FormUrlEncodedContent(form));
        return HostedFlow.LocalRedirect(coded) ?? throw new InvalidOperationException(await coded.Content.ReadAsStringAsync());
    }

    [GeneratedRegex("action=\"([^\"]+)\"")]
    private static partial Regex FormAction();
}
