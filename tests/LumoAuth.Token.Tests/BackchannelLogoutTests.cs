using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
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
    private readonly HttpListener _receiver = new();
    private readonly ConcurrentQueue<string> _tokens = new();
    private string _uri = string.Empty;

    private void StartReceiver()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        _uri = $"http://127.0.0.1:{port}/backchannel/";
        _receiver.Prefixes.Add(_uri);
        _receiver.Start();
        _ = Task.Run(async () =>
        {
            while (_receiver.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _receiver.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                using var reader = new StreamReader(context.Request.InputStream);
                var form = QueryHelpers.ParseQuery(await reader.ReadToEndAsync());
                _tokens.Enqueue(form["logout_token"].ToString());
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        });
    }

    public void Dispose()
    {
        if (_receiver.IsListening)
        {
            _receiver.Stop();
        }

        _receiver.Close();
    }

    /// <summary>However the session ends — the user logs out, or an admin ends it — the client hears of it.</summary>
    [Theory]
    [InlineData("logout")]
    [InlineData("admin")]
    public async Task EndedSession_PostsASignedLogoutTokenToTheClient(string endedBy)
    {
        StartReceiver();
        var setup = await suite.SetUpAsync(new
        {
            name = "Dashboard",
            applicationType = "spa",
            redirectUris = new[] { SignInSetup.RedirectUri },
            postLogoutRedirectUris = new[] { SignInSetup.PostLogoutUri },
            grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid" },
            backchannelLogoutUri = _uri,
        });
        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["scope"] = "openid" })))["code"];
        using var http = suite.Token.CreateClient();
        using var exchanged = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        var idToken = new JsonWebToken((await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK)).GetProperty("id_token").GetString());

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

        var received = await ApiAssert.EventuallyAsync(() => Task.FromResult(_tokens.TryDequeue(out var t) ? t : null), TimeSpan.FromSeconds(30));
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
}
