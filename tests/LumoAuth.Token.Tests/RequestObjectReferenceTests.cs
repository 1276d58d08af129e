using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Protocol;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Request objects by reference (OIDC Core §6.2, RFC 9101 §5.2): <c>request_uri</c> naming an address the client
/// registered (<c>requestUris</c>), where it published its signed request object. The object is fetched once per request
/// and then travels through the hosted pages by value; unregistered addresses are never fetched.
/// </summary>
public sealed class RequestObjectReferenceTests(ClientSiteSuite suite) : IClassFixture<ClientSiteSuite>
{
    private const string Redirect = "https://app.example.com/callback";
    private static readonly RsaSecurityKey ClientKey = new(RSA.Create(2048)) { KeyId = "by-reference-1" };

    private object WebClient(params string[] requestUris) => new
    {
        name = "Publishing app", applicationType = "web", redirectUris = new[] { Redirect }, grantTypes = new[] { "authorization_code" },
        allowedScopes = new[] { "openid", "profile" }, jwks = ClientAssertions.PublicJwks(ClientKey), requestUris,
    };

    private string Prefix => suite.Site.Origin + "/requests/*";

    private string RequestObject(SignInSetup setup, string challenge, SecurityKey? key = null, string state = "by-reference")
    {
        var now = suite.Clock.GetUtcNow().UtcDateTime;
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = setup.ClientId, Audience = setup.Issuer, TokenType = "oauth-authz-req+jwt", IssuedAt = now, NotBefore = now, Expires = now.AddMinutes(5),
            Claims = new Dictionary<string, object>
            {
                ["client_id"] = setup.ClientId, ["response_type"] = "code", ["redirect_uri"] = Redirect, ["scope"] = "openid profile",
                ["state"] = state, ["code_challenge"] = challenge, ["code_challenge_method"] = "S256",
            },
            SigningCredentials = new SigningCredentials(key ?? ClientKey, SecurityAlgorithms.RsaSsaPssSha256),
        });
    }

    /// <summary>Publishes <paramref name="body"/> at a new path under /requests/; its URL.</summary>
    private string Publish(string body, int status = 200) =>
        suite.Site.Serve($"/requests/{Guid.NewGuid():N}", new SiteAnswer(body, status, "application/oauth-authz-req+jwt"));

    private static string Authorize(SignInSetup setup, string clientId, string requestUri, string? request = null) =>
        QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/authorize", new Dictionary<string, string?>
        {
            ["client_id"] = clientId, ["request_uri"] = requestUri, ["request"] = request,
        }.Where(p => p.Value is not null));

    private Task<HttpResponseMessage> RedeemAsync(SignInSetup setup, string code, string verifier) =>
        suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = Redirect, ["code_verifier"] = verifier,
        }, (setup.ClientId, setup.ClientSecret!));

    [Fact]
    public async Task AnObjectAtARegisteredAddress_IsFetchedOncePerRequest_AndTravelsByValue()
    {
        var setup = await suite.SetUpAsync(WebClient(Prefix));
        var (verifier, challenge) = HostedFlow.Pkce();
        var jwt = RequestObject(setup, challenge);
        var url = Publish(jwt);
        var path = new Uri(url).AbsolutePath;
        // The fragment (OIDC Core §6.2: a hash of the contents, for caching) is never sent; the address is what is matched.
        var requestUri = url + "#" + Base64UrlEncoder.Encode(SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(jwt)));

        using (var look = suite.Browser())
        using (var toLogin = await look.GetAsync(Authorize(setup, setup.ClientId, requestUri)))
        {
            var returnUrl = QueryHelpers.ParseQuery(new Uri(new Uri("https://x"), HostedFlow.LocalRedirect(toLogin)!).Query)["returnUrl"].ToString();
            var carried = QueryHelpers.ParseQuery(returnUrl[returnUrl.IndexOf('?', StringComparison.Ordinal)..]);
            Assert.Equal(jwt, carried["request"].ToString());
            Assert.False(carried.ContainsKey("request_uri"));
        }

        Assert.Equal(1, suite.Site.Requests(path));

        using var browser = suite.Browser();
        var redirect = await HostedFlow.SignInAsync(browser, setup, Authorize(setup, setup.ClientId, requestUri));

        // One more fetch for the second request; the way back from login and consent carried the object itself.
        Assert.Equal(2, suite.Site.Requests(path));
        var parameters = HostedFlow.Parameters(redirect);
        Assert.StartsWith(Redirect, redirect.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("by-reference", parameters["state"]);
        using var redeemed = await RedeemAsync(setup, parameters["code"], verifier);
        Assert.Equal("openid profile", (await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK)).GetProperty("scope").GetString());
    }

    [Theory]
    [InlineData("not registered", "invalid_request_uri", false)]
    [InlineData("climbing out of the registered path", "invalid_request_uri", false)]
    [InlineData("climbing out, escaped", "invalid_request_uri", false)]
    [InlineData("the registered path itself", "invalid_request_uri", false)]
    [InlineData("longer than 512 characters", "invalid_request_uri", false)]
    [InlineData("a client without request URIs", "invalid_request_uri", false)]
    [InlineData("another tenant's client", "invalid_client", false)]
    [InlineData("beside request", "invalid_request", false)]
    [InlineData("answers 404", "invalid_request_uri", true)]
    [InlineData("answers nothing", "invalid_request_uri", true)]
    [InlineData("answers more than 16 KB", "invalid_request_uri", true)]
    [InlineData("unsigned", "invalid_request_object", true)]
    [InlineData("signed with another key", "invalid_request_object", true)]
    [InlineData("not a JWT", "invalid_request_object", true)]
    public async Task AddressesThatAreNotRegistered_OrServeNoGoodObject_AreRefused(string flaw, string error, bool fetched)
    {
        var setup = await suite.SetUpAsync(WebClient(Prefix));
        var (_, challenge) = HostedFlow.Pkce();
        var good = RequestObject(setup, challenge);
        var clientId = setup.ClientId;
        string? request = null;
        var requestUri = flaw switch
        {
            "not registered" => suite.Site.Serve($"/elsewhere/{Guid.NewGuid():N}", new SiteAnswer(good)),
            "climbing out of the registered path" => suite.Site.Origin + "/requests/../elsewhere/x",
            "climbing out, escaped" => suite.Site.Origin + "/requests/%2e%2e/elsewhere/x",
            "the registered path itself" => suite.Site.Origin + "/requests/",
            "longer than 512 characters" => Publish(good) + "?" + new string('a', 500),
            "answers 404" => Publish(good, status: 404),
            "answers nothing" => Publish(" "),
            "answers more than 16 KB" => Publish(good + new string(' ', 16 * 1024)),
            "unsigned" => Publish(new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Audience = setup.Issuer, Claims = new Dictionary<string, object> { ["client_id"] = setup.ClientId, ["response_type"] = "code" },
            })),
            "signed with another key" => Publish(RequestObject(setup, challenge, new RsaSecurityKey(RSA.Create(2048)) { KeyId = ClientKey.KeyId })),
            "not a JWT" => Publish("<html>Not found</html>"),
            _ => Publish(good),
        };
        switch (flaw)
        {
            case "a client without request URIs":
                clientId = (await suite.CreateClientAsync(setup, WebClient())).GetProperty("clientId").GetString()!;
                break;
            case "another tenant's client":
                clientId = (await suite.SetUpAsync(WebClient(Prefix))).ClientId;
                break;
            case "beside request":
                request = good;
                break;
        }

        using var browser = suite.Browser();
        using var response = await browser.GetAsync(Authorize(setup, clientId, requestUri, request));

        var page = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode}: {page}");
        Assert.Contains($"data-error=\"{error}\"", page, StringComparison.Ordinal);
        Assert.Equal(fetched ? 1 : 0, suite.Site.Requests(new Uri(requestUri).AbsolutePath));
    }

    [Fact]
    public async Task AClientHeldToPushedRequests_CannotUseAnAddressInstead()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Pushing app", applicationType = "web", redirectUris = new[] { Redirect }, grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid" }, jwks = ClientAssertions.PublicJwks(ClientKey), requestUris = new[] { Prefix }, requiresPushedAuthorization = true,
        });
        var url = Publish(RequestObject(setup, HostedFlow.Pkce().Challenge));

        using var browser = suite.Browser();
        using var direct = await browser.GetAsync(Authorize(setup, setup.ClientId, url));
        // Refused at the client's redirect URI, which the verified object named (as a plain request of this client is).
        var refusal = direct.Headers.Location ?? throw new InvalidOperationException($"{direct.StatusCode}: {await direct.Content.ReadAsStringAsync()}");
        Assert.StartsWith(Redirect, refusal.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("invalid_request", HostedFlow.Parameters(refusal)["error"]);

        // RFC 9126 §2.1: a pushed request never carries request_uri, an address included.
        using var pushed = await suite.PostFormAsync(setup.Issuer + "/oauth/par", [new("request_uri", url)], (setup.ClientId, setup.ClientSecret!));
        await HttpAssert.OAuthErrorAsync(pushed, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Theory]
    [InlineData("not a URL")]
    [InlineData("ftp://app.example.com/requests/1")]
    [InlineData("https://app.example.com/requests/*#hash")]
    [InlineData("https://app.example.com/*/requests")]
    [InlineData("https://app.example.com/requests*")]
    [InlineData("https://user:secret@app.example.com/requests/1")]
    [InlineData("https://app.example.com/requests/../admin")]
    [InlineData("https://app.example.com/requests/*?kind=1")]
    [InlineData("long")]
    [InlineData("21 entries")]
    [InlineData("a public client")]
    [InlineData("a number")]
    public async Task BadRequestUris_AreRefused_NamingTheField(string entry)
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        object body = entry switch
        {
            "long" => WebClient("https://app.example.com/" + new string('r', 500)),
            "21 entries" => WebClient(Enumerable.Range(0, 21).Select(i => $"https://app.example.com/requests/{i}").ToArray()),
            "a public client" => new
            {
                name = "SPA", applicationType = "spa", redirectUris = new[] { Redirect }, requestUris = new[] { "https://app.example.com/requests/*" },
            },
            "a number" => new { name = "App", applicationType = "web", redirectUris = new[] { Redirect }, requestUris = new object[] { 1 } },
            _ => WebClient(entry),
        };

        using var response = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", body);

        var problem = await HttpAssert.JsonAsync(response, HttpStatusCode.BadRequest);
        Assert.Contains("requestUris", problem.GetRawText(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void AddressesIntoOurOwnNetwork_AreNotRegistered_OutsideTests()
    {
        foreach (var entry in new[] { "https://127.0.0.1/requests/*", "https://localhost/requests/1", "https://10.0.0.8/r", "http://app.example.com/r", "https://metadata/r" })
        {
            Assert.NotNull(RequestObjectReferences.RegisteredProblem(entry, allowPrivateTargets: false));
        }

        Assert.Null(RequestObjectReferences.RegisteredProblem("https://app.example.com/requests/*", allowPrivateTargets: false));
        Assert.True(RequestObjectReferences.IsRegistered(["https://app.example.com/requests/*"], "https://app.example.com/requests/a/b?x=1#h"));
        Assert.False(RequestObjectReferences.IsRegistered(["https://app.example.com/requests/*"], "https://app.example.com/requestsX/a"));
        Assert.False(RequestObjectReferences.IsRegistered(["https://app.example.com/requests/1"], "https://app.example.com/requests/12"));
        Assert.False(RequestObjectReferences.IsRegistered(["https://app.example.com/requests/*"], "https://app.example.com/requests/./../x"));
        // OIDC Registration's hash fragment on a registered address is kept, and set aside when matching.
        Assert.Null(RequestObjectReferences.RegisteredProblem("https://app.example.com/one.jwt#GcNrVS8", allowPrivateTargets: false));
        Assert.True(RequestObjectReferences.IsRegistered(["https://app.example.com/one.jwt#GcNrVS8"], "https://app.example.com/one.jwt"));
        Assert.True(RequestObjectReferences.IsRegistered(["https://app.example.com/one.jwt#GcNrVS8"], "https://app.example.com/one.jwt#GcNrVS8"));
    }

    [Fact]
    public async Task TheAdminApi_ShowsAndReplacesThem_AndDynamicRegistrationTakesThem()
    {
        var setup = await suite.SetUpAsync(WebClient("https://app.example.com/requests/*", "https://app.example.com/one.jwt"));
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var shown = (await HttpAssert.JsonAsync(await admin.GetAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}"), HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal(["https://app.example.com/requests/*", "https://app.example.com/one.jwt"], shown.GetProperty("requestUris").EnumerateArray().Select(e => e.GetString()));

        // Other changes keep them; an empty list removes them.
        using (var renamed = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}", new { name = "Renamed" }))
        {
            Assert.Equal(2, (await HttpAssert.JsonAsync(renamed, HttpStatusCode.OK)).GetProperty("data").GetProperty("requestUris").GetArrayLength());
        }

        using (var cleared = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}", new { requestUris = Array.Empty<string>() }))
        {
            Assert.Equal(0, (await HttpAssert.JsonAsync(cleared, HttpStatusCode.OK)).GetProperty("data").GetProperty("requestUris").GetArrayLength());
        }

        using (var settings = suite.Admin.ClientFor(setup.Tenant))
        using (var enabled = await settings.PutAsJsonAsync($"{setup.Tenant.Api}/admin/settings", new { clientRegistration = new { dynamicRegistrationEnabled = true } }))
        {
            Assert.True(enabled.IsSuccessStatusCode, await enabled.Content.ReadAsStringAsync());
        }

        using var http = suite.Token.CreateClient();
        var rsa = ClientKey.Rsa.ExportParameters(false);
        var jwks = new { keys = new[] { new { kty = "RSA", kid = ClientKey.KeyId, n = Base64UrlEncoder.Encode(rsa.Modulus), e = Base64UrlEncoder.Encode(rsa.Exponent) } } };
        using var registered = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { Redirect }, token_endpoint_auth_method = "private_key_jwt", jwks, request_uris = new[] { "https://app.example.com/requests/*" },
        });
        var json = await HttpAssert.JsonAsync(registered, HttpStatusCode.Created);
        Assert.Equal(["https://app.example.com/requests/*"], json.GetProperty("request_uris").EnumerateArray().Select(e => e.GetString()));

        using var refused = await http.PostAsJsonAsync($"{setup.Tenant.Api}/connect/register", new
        {
            redirect_uris = new[] { Redirect }, jwks, token_endpoint_auth_method = "private_key_jwt", request_uris = new[] { "ftp://app.example.com/requests/x" },
        });
        var error = await HttpAssert.OAuthErrorAsync(refused, HttpStatusCode.BadRequest, "invalid_client_metadata");
        Assert.Contains("request_uris", error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Discovery_SaysAddressesMustBeRegistered()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();

        var metadata = await http.GetFromJsonAsync<JsonElement>(setup.Issuer + "/.well-known/openid-configuration");

        Assert.True(metadata.GetProperty("request_uri_parameter_supported").GetBoolean());
        Assert.True(metadata.GetProperty("require_request_uri_registration").GetBoolean());
    }
}
