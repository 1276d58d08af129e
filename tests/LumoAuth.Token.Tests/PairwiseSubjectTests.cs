using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Pairwise subject identifiers (OIDC Core §8): a client registered with <c>subjectType</c> <c>pairwise</c> knows each
/// user by a name of its sector (its redirect URIs' host) alone — in ID tokens and userinfo — while access tokens keep the
/// user's id for the tenant's APIs; an ID token it sends back as a hint still names the user.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class PairwiseSubjectTests(TokenSuite suite)
{
    private sealed record Client(string ClientId, string Secret, string RedirectUri);

    private async Task<Client> PairwiseClientAsync(SignInSetup setup, string host, string subjectType = "pairwise")
    {
        var redirect = $"https://{host}/callback";
        var created = await suite.CreateClientAsync(setup, new
        {
            name = "App at " + host, applicationType = "web", redirectUris = new[] { redirect }, postLogoutRedirectUris = new[] { $"https://{host}/bye" },
            grantTypes = new[] { "authorization_code" }, allowedScopes = new[] { "openid", "email" }, subjectType,
        });
        Assert.Equal(subjectType, created.GetProperty("subjectType").GetString());
        return new Client(created.GetProperty("clientId").GetString()!, created.GetProperty("secret").GetString()!, redirect);
    }

    /// <summary>Signs in (or reuses the browser's session) for <paramref name="client"/> and redeems the code: the token response.</summary>
    private async Task<JsonElement> TokensAsync(SignInSetup setup, HttpClient browser, Client client, Dictionary<string, string?>? extra = null)
    {
        var (verifier, challenge) = HostedFlow.Pkce();
        var parameters = new Dictionary<string, string?> { ["client_id"] = client.ClientId, ["redirect_uri"] = client.RedirectUri, ["scope"] = "openid email" };
        foreach (var (name, value) in extra ?? [])
        {
            parameters[name] = value;
        }

        var back = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, parameters), expectConsent: extra is null));
        Assert.True(back.ContainsKey("code"), string.Join('&', back));
        using var redeemed = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = back["code"], ["redirect_uri"] = client.RedirectUri, ["code_verifier"] = verifier,
        }, (client.ClientId, client.Secret));
        return await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK);
    }

    private static JsonWebToken IdToken(JsonElement tokens) => new(tokens.GetProperty("id_token").GetString());

    [Fact]
    public async Task EachSector_KnowsTheUserByItsOwnStableName_WhileAccessTokensKeepTheId()
    {
        var setup = await suite.SetUpAsync();
        var one = await PairwiseClientAsync(setup, "one.example.com");
        var alsoOne = await PairwiseClientAsync(setup, "one.example.com");
        var two = await PairwiseClientAsync(setup, "two.example.com");
        var plain = await PairwiseClientAsync(setup, "plain.example.com", "public");
        using var browser = suite.Browser();

        var atOne = await TokensAsync(setup, browser, one);
        var atAlsoOne = await TokensAsync(setup, browser, alsoOne);
        var atTwo = await TokensAsync(setup, browser, two);
        var atPlain = await TokensAsync(setup, browser, plain);
        using var otherBrowser = suite.Browser();
        var atOneAgain = await TokensAsync(setup, otherBrowser, one);

        var user = setup.UserId.ToString();
        var subOne = IdToken(atOne).Subject;
        Assert.NotEqual(user, subOne);
        Assert.Equal(subOne, IdToken(atOneAgain).Subject);
        Assert.Equal(subOne, IdToken(atAlsoOne).Subject);
        Assert.NotEqual(subOne, IdToken(atTwo).Subject);
        Assert.NotEqual(user, IdToken(atTwo).Subject);
        Assert.Equal(user, IdToken(atPlain).Subject);
        Assert.Equal(user, new JsonWebToken(atOne.GetProperty("access_token").GetString()).Subject);

        // Userinfo answers the client with the same name its ID token gave (OIDC Core §5.3.2).
        using var http = suite.Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, setup.Issuer + "/oauth/userinfo");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", atOne.GetProperty("access_token").GetString());
        using var userinfo = await http.SendAsync(request);
        Assert.Equal(subOne, (await HttpAssert.JsonAsync(userinfo, HttpStatusCode.OK)).GetProperty("sub").GetString());
    }

    [Fact]
    public async Task APairwiseHint_NamesTheSignedInUser_AtTheAuthorizationAndLogoutEndpoints()
    {
        var setup = await suite.SetUpAsync();
        var one = await PairwiseClientAsync(setup, "hints.example.com");
        using var browser = suite.Browser();
        var idToken = IdToken(await TokensAsync(setup, browser, one)).EncodedToken;

        // prompt=none with the hint: the signed-in user is the one it names, so no login_required.
        var silent = await TokensAsync(setup, browser, one, new() { ["prompt"] = "none", ["id_token_hint"] = idToken });
        using var logout = await browser.GetAsync(QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["id_token_hint"] = IdToken(silent).EncodedToken, ["post_logout_redirect_uri"] = "https://hints.example.com/bye",
        }));

        Assert.Equal(IdToken(silent).Subject, new JsonWebToken(idToken).Subject);
        Assert.StartsWith("https://hints.example.com/bye", logout.Headers.Location?.AbsoluteUri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASubValueInTheClaimsParameter_IsThePairwiseName_NotTheUsersId()
    {
        var setup = await suite.SetUpAsync();
        var one = await PairwiseClientAsync(setup, "claims.example.com");
        using var browser = suite.Browser();
        var pairwise = IdToken(await TokensAsync(setup, browser, one)).Subject;
        static string SubIs(string subject) => System.Text.Json.JsonSerializer.Serialize(new { id_token = new { sub = new { value = subject } } });

        var silent = await TokensAsync(setup, browser, one, new() { ["prompt"] = "none", ["claims"] = SubIs(pairwise) });
        Assert.Equal(pairwise, IdToken(silent).Subject);

        // The user's id names nobody to this client: the same answer as for another person.
        var (_, challenge) = HostedFlow.Pkce();
        using var byId = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new()
        {
            ["client_id"] = one.ClientId, ["redirect_uri"] = one.RedirectUri, ["scope"] = "openid email", ["prompt"] = "none", ["claims"] = SubIs(setup.UserId.ToString()),
        }));
        Assert.Equal("login_required", HostedFlow.Parameters(byId.Headers.Location!)["error"]);
    }

    [Fact]
    public async Task TheSector_IsOneHost_FixedOnceChosen()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var one = await PairwiseClientAsync(setup, "fixed.example.com");

        using var twoHosts = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new
        {
            name = "Spread", applicationType = "web", redirectUris = new[] { "https://a.example.com/cb", "https://b.example.com/cb" },
            allowedScopes = new[] { "openid" }, subjectType = "pairwise",
        });
        using var unknown = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new
        {
            name = "Odd", applicationType = "web", redirectUris = new[] { "https://a.example.com/cb" }, subjectType = "random",
        });
        using var moved = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{one.ClientId}", new { redirectUris = new[] { "https://elsewhere.example.com/cb" } });
        using var samePlace = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{one.ClientId}", new { redirectUris = new[] { "https://fixed.example.com/other" } });
        using var backToPublic = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{one.ClientId}", new { subjectType = "public", redirectUris = new[] { "https://elsewhere.example.com/cb" } });

        Assert.True((await HttpAssert.EnvelopeAsync(twoHosts, HttpStatusCode.BadRequest, "validation_error")).GetProperty("details").TryGetProperty("subjectType", out _));
        Assert.True((await HttpAssert.EnvelopeAsync(unknown, HttpStatusCode.BadRequest, "validation_error")).GetProperty("details").TryGetProperty("subjectType", out _));
        Assert.True((await HttpAssert.EnvelopeAsync(moved, HttpStatusCode.BadRequest, "validation_error")).GetProperty("details").TryGetProperty("redirectUris", out _));
        Assert.Equal("fixed.example.com", (await HttpAssert.JsonAsync(samePlace, HttpStatusCode.OK)).GetProperty("data").GetProperty("sectorIdentifier").GetString());
        var publicAgain = (await HttpAssert.JsonAsync(backToPublic, HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal("public", publicAgain.GetProperty("subjectType").GetString());
        Assert.Equal(JsonValueKind.Null, publicAgain.GetProperty("sectorIdentifier").ValueKind);
    }

    [Fact]
    public async Task DynamicRegistration_TakesSubjectType_AndDiscoveryOffersPairwise()
    {
        var setup = await suite.SetUpAsync();
        using (var settings = suite.Admin.ClientFor(setup.Tenant))
        using (var enabled = await settings.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { clientRegistration = new { dynamicRegistrationEnabled = true } }))
        {
            Assert.True(enabled.IsSuccessStatusCode, await enabled.Content.ReadAsStringAsync());
        }

        using var http = suite.Token.CreateClient();
        using var registered = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new Dictionary<string, object>
        {
            ["client_name"] = "Private RP", ["redirect_uris"] = new[] { "https://rp.example.com/cb" }, ["subject_type"] = "pairwise",
        });
        using var plain = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new Dictionary<string, object>
        {
            ["client_name"] = "Plain RP", ["redirect_uris"] = new[] { "https://rp.example.com/cb" },
        });
        var metadata = JsonDocument.Parse(await http.GetStringAsync(setup.Issuer + "/.well-known/openid-configuration")).RootElement;

        Assert.Equal("pairwise", (await HttpAssert.JsonAsync(registered, HttpStatusCode.Created)).GetProperty("subject_type").GetString());
        Assert.Equal("public", (await HttpAssert.JsonAsync(plain, HttpStatusCode.Created)).GetProperty("subject_type").GetString());
        Assert.Equal(["public", "pairwise"], metadata.GetProperty("subject_types_supported").EnumerateArray().Select(v => v.GetString()!));
    }
}
