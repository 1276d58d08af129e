using System.Net;
using System.Net.Http.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using ApiAssert = LumoAuth.Testing.ApiAssert;

namespace LumoAuth.Token.Tests;

/// <summary>A token service that may call receivers on 127.0.0.1 (off by default: SSRF).</summary>
public sealed class PrivateLogoutTargetsSuite : TokenSuite
{
    protected override IDictionary<string, string?> TokenSettings => new Dictionary<string, string?> { ["Token:AllowPrivateLogoutTargets"] = "true" };
}

/// <summary>OpenID Connect Back-Channel Logout: the client's server receives a signed logout token when the session ends.</summary>
public sealed class BackchannelLogoutTests(PrivateLogoutTargetsSuite suite) : IClassFixture<PrivateLogoutTargetsSuite>, IDisposable
{
    private readonly LoopbackReceiver _receiver = new("backchannel");

    public void Dispose() => _receiver.Dispose();

    /// <summary>However the session ends — the user logs out, or an admin ends it — the client hears of it.</summary>
    [Theory]
    [InlineData("logout")]
    [InlineData("admin")]
    public async Task EndedSession_PostsASignedLogoutTokenToTheClient(string endedBy)
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Dashboard",
            applicationType = "spa",
            redirectUris = new[] { SignInSetup.RedirectUri },
            postLogoutRedirectUris = new[] { SignInSetup.PostLogoutUri },
            grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid" },
            backchannelLogoutUri = _receiver.Uri,
        });
        using var browser = suite.Browser();
        var idToken = await SignInAsync(setup, browser);
        using var http = suite.Token.CreateClient();

        if (endedBy == "logout")
        {
            using var logout = await browser.GetAsync(QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
            {
                ["id_token_hint"] = idToken.EncodedToken,
                ["post_logout_redirect_uri"] = SignInSetup.PostLogoutUri,
            }));
            Assert.Equal(HttpStatusCode.SeeOther, logout.StatusCode);
        }
        else
        {
            using var admin = suite.Token.CreateClient();
            admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
            using var revoked = await admin.DeleteAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions/{idToken.GetClaim("sid").Value}");
            Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        }

        var received = QueryHelpers.ParseQuery((await _receiver.NextAsync()).Body)["logout_token"].ToString();
        var jwt = new JsonWebToken(received);
        Assert.Equal("logout+jwt", jwt.Typ);
        Assert.Equal(setup.Issuer, jwt.Issuer);
        Assert.Equal([setup.ClientId], jwt.Audiences);
        Assert.Equal(setup.UserId.ToString(), jwt.Subject);
        Assert.Equal(idToken.GetClaim("sid").Value, jwt.GetClaim("sid").Value);
        Assert.Contains("http://schemas.openid.net/event/backchannel-logout", jwt.GetClaim("events").Value, StringComparison.Ordinal);
        Assert.False(jwt.TryGetClaim("nonce", out _));
        var jwks = new JsonWebKeySet(await http.GetStringAsync(setup.Issuer + "/.well-known/jwks.json"));
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(received, new TokenValidationParameters
        {
            ValidIssuer = setup.Issuer, ValidAudience = setup.ClientId, IssuerSigningKeys = jwks.GetSigningKeys(), ValidTypes = ["logout+jwt"],
        });
        Assert.True(validation.IsValid, validation.Exception?.Message);
    }

    /// <summary>Back-Channel Logout 1.0 §2.4: each logout token says when it was issued (<c>iat</c>) and has an identifier of its own (<c>jti</c>).</summary>
    [Fact]
    public async Task LogoutTokens_CarryAFreshIat_AndEachAJtiOfItsOwn()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Dashboard",
            applicationType = "spa",
            redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid" },
            backchannelLogoutUri = _receiver.Uri,
        });
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var tokens = new List<JsonWebToken>();

        // Two sessions of the same user at the same client, each ended by an administrator.
        for (var i = 0; i < 2; i++)
        {
            var sessionId = await SessionIdAsync(setup);
            var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            using (var revoked = await admin.DeleteAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions/{sessionId}"))
            {
                Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
            }

            var jwt = new JsonWebToken(QueryHelpers.ParseQuery((await _receiver.NextAsync()).Body)["logout_token"].ToString());
            var after = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            Assert.Equal(sessionId, jwt.GetClaim("sid").Value);
            Assert.True(jwt.TryGetPayloadValue<long>("iat", out var issuedAt), "the logout token has no iat");
            Assert.InRange(issuedAt, before - 1, after + 1);
            Assert.False(string.IsNullOrEmpty(jwt.Id));
            tokens.Add(jwt);
        }

        Assert.NotEqual(tokens[0].Id, tokens[1].Id);
    }

    /// <summary>
    /// One session, two clients: the first one's back-channel endpoint is down, so its delivery is retried on its own;
    /// the second still hears of the logout at once, not after the first gives up.
    /// </summary>
    [Fact]
    public async Task OneClientDown_TheOthersOfTheSession_AreStillToldAtOnce()
    {
        using var closedPort = LoopbackApp.ClosedPort();
        var down = await suite.SetUpAsync(new
        {
            name = "Down", applicationType = "spa", redirectUris = new[] { SignInSetup.RedirectUri }, grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid" }, backchannelLogoutUri = $"http://127.0.0.1:{closedPort.Port}/backchannel",
        });
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", down.Tenant.ApiKey);
        using var created = await admin.PostAsJsonAsync($"{down.Tenant.Api}/admin/clients", new
        {
            name = "Up", applicationType = "spa", redirectUris = new[] { SignInSetup.RedirectUri }, grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid" }, backchannelLogoutUri = _receiver.Uri,
        });
        var up = down with { ClientId = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data").GetProperty("clientId").GetString()! };
        using var browser = suite.Browser();
        var sid = (await SignInAsync(down, browser)).GetClaim("sid").Value;
        Assert.Equal(sid, (await SignInAsync(up, browser)).GetClaim("sid").Value);

        using (var revoked = await admin.DeleteAsync($"{down.Tenant.Api}/admin/users/{down.UserId}/sessions/{sid}"))
        {
            Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        }

        var jwt = new JsonWebToken(QueryHelpers.ParseQuery((await _receiver.NextAsync()).Body)["logout_token"].ToString());
        Assert.Equal([up.ClientId], jwt.Audiences);
        Assert.Equal(sid, jwt.GetClaim("sid").Value);
    }

    /// <summary>
    /// A client's server decides how much it answers: the delivery reads only the status, so a body far beyond what the
    /// callback client would ever buffer neither fails the delivery (and sends it round the retries) nor fills our memory.
    /// </summary>
    [Fact]
    public async Task ClientAnsweringAHugeBody_IsToldOnce_ItsBodyUnread()
    {
        using var talkative = new LoopbackReceiver("talkative", answerBytes: 4 * 1024 * 1024);
        var setup = await suite.SetUpAsync(new
        {
            name = "Talkative", applicationType = "spa", redirectUris = new[] { SignInSetup.RedirectUri }, grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid" }, backchannelLogoutUri = talkative.Uri,
        });
        var sid = await SessionIdAsync(setup);
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);

        using (var revoked = await admin.DeleteAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/sessions/{sid}"))
        {
            Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        }

        Assert.Contains("logout_token=", (await talkative.NextAsync()).Body, StringComparison.Ordinal);
        // Read whole, the body would overflow the callback client's buffer: the delivery would fail and be tried again.
        Assert.False(talkative.TakesAnother(TimeSpan.FromSeconds(3)));
    }

    /// <summary>The user signs in to the setup's client in a new browser (a new session); the session's <c>sid</c>.</summary>
    private async Task<string> SessionIdAsync(SignInSetup setup)
    {
        using var browser = suite.Browser();
        return (await SignInAsync(setup, browser)).GetClaim("sid").Value;
    }

    /// <summary>The user signs in to the setup's client in <paramref name="browser"/> with the openid scope; the ID token.</summary>
    [Fact]
    public async Task APairwiseClient_IsToldOfTheLogout_UnderThePairwiseSubjectItKnows()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Pairwise dashboard", applicationType = "spa", redirectUris = new[] { SignInSetup.RedirectUri },
            postLogoutRedirectUris = new[] { SignInSetup.PostLogoutUri }, grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid" }, backchannelLogoutUri = _receiver.Uri, subjectType = "pairwise",
        });
        using var browser = suite.Browser();
        var idToken = await SignInAsync(setup, browser);

        // The hint names the user pairwise, and still ends their session at once.
        using var logout = await browser.GetAsync(QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/logout", new Dictionary<string, string?>
        {
            ["id_token_hint"] = idToken.EncodedToken, ["post_logout_redirect_uri"] = SignInSetup.PostLogoutUri,
        }));

        Assert.Equal(HttpStatusCode.SeeOther, logout.StatusCode);
        Assert.NotEqual(setup.UserId.ToString(), idToken.Subject);
        var received = new JsonWebToken(QueryHelpers.ParseQuery((await _receiver.NextAsync()).Body)["logout_token"].ToString());
        Assert.Equal(idToken.Subject, received.Subject);
        Assert.Equal(idToken.GetClaim("sid").Value, received.GetClaim("sid").Value);
    }

    private async Task<JsonWebToken> SignInAsync(SignInSetup setup, HttpClient browser)
    {
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = "openid" })))["code"];
        using var http = suite.Token.CreateClient();
        using var exchanged = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        return new JsonWebToken((await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("id_token").GetString());
    }
}
