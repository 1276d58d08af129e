using System.Net;
using System.Net.Http.Json;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Pushed authorization requests (RFC 9126, TOK-06): the client posts the authorization request to <c>oauth/par</c>
/// first and sends the browser to the authorization endpoint with only <c>client_id</c> and the <c>request_uri</c> it
/// got back; the pushed parameters are the request. Failures answer the client directly (JSON), never at a redirect.
/// </summary>
public sealed class PushedAuthorizationTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private const string RequestUriPrefix = "urn:ietf:params:oauth:request_uri:";

    [Fact]
    public async Task Par_PublicClient_PushedParametersDriveTheCodeFlow()
    {
        var setup = await suite.SetUpAsync();
        var (verifier, challenge) = HostedFlow.Pkce();

        using var pushed = await PushAsync(setup, PushedRequest(setup, challenge, state: "pushed-state", nonce: "pushed-nonce"));

        var json = await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created);
        var requestUri = json.GetProperty("request_uri").GetString()!;
        Assert.StartsWith(RequestUriPrefix, requestUri, StringComparison.Ordinal);
        Assert.InRange(json.GetProperty("expires_in").GetInt32(), 590, 600);
        Assert.Equal("no-store", pushed.Headers.CacheControl?.ToString());

        using var browser = suite.Browser();
        var redirect = await HostedFlow.SignInAsync(browser, setup, AuthorizeWithRequestUri(setup, requestUri));
        var parameters = HostedFlow.Parameters(redirect);
        Assert.StartsWith(SignInSetup.RedirectUri + "?", redirect.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("pushed-state", parameters["state"]);
        Assert.Equal(setup.Issuer, parameters["iss"]);

        using var http = suite.Token.CreateClient();
        using var exchanged = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = parameters["code"], ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        var tokens = await HttpAssert.JsonAsync(exchanged, HttpStatusCode.OK);
        var id = new JsonWebToken(tokens.GetProperty("id_token").GetString());
        Assert.Equal("pushed-nonce", id.GetClaim("nonce").Value);
        Assert.Equal(setup.UserId.ToString(), id.Subject);
    }

    /// <summary>
    /// The login page's form-action names the client's origin even though a pushed request keeps its redirect_uri off the
    /// URL: after the password the browser goes login → authorize → client in one form navigation, which it checks against
    /// the login page's policy (a remembered consent answers at once).
    /// </summary>
    [Fact]
    public async Task Par_LoginPage_AllowsTheFinalRedirectToTheClient()
    {
        var setup = await suite.SetUpAsync();
        var (_, challenge) = HostedFlow.Pkce();
        using var pushed = await PushAsync(setup, PushedRequest(setup, challenge, state: "s", nonce: "n"));
        var requestUri = (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString()!;
        using var browser = suite.Browser();

        using var toLogin = await browser.GetAsync(AuthorizeWithRequestUri(setup, requestUri));
        using var login = await browser.GetAsync(HostedFlow.LocalRedirect(toLogin)!);

        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.Contains("form-action 'self' https://spa.example.com;", login.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        // The hint beside the request_uri does not disturb the pushed request on the way back.
        var redirect = await HostedFlow.SignInAsync(browser, setup, AuthorizeWithRequestUri(setup, requestUri));
        Assert.Equal("s", HostedFlow.Parameters(redirect)["state"]);
    }

    [Fact]
    public async Task Authorize_RequestUriAfterItsCodeWasIssued_IsRefused()
    {
        var setup = await suite.SetUpAsync();
        var (_, challenge) = HostedFlow.Pkce();
        var requestUri = await RequestUriAsync(setup, PushedRequest(setup, challenge));
        using var browser = suite.Browser();
        Assert.Contains("code", HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, AuthorizeWithRequestUri(setup, requestUri))).Keys);

        // RFC 9126 §4: a request_uri is for one authorization; the session is still there, the request is not.
        using var again = await browser.GetAsync(AuthorizeWithRequestUri(setup, requestUri));

        AssertRefusedWithoutRedirect(again);
    }

    [Fact]
    public async Task Authorize_RequestUriOfAnotherClient_IsRefused()
    {
        var setup = await suite.SetUpAsync();
        var other = await suite.SetUpAsync();
        var (_, challenge) = HostedFlow.Pkce();
        var requestUri = await RequestUriAsync(setup, PushedRequest(setup, challenge));

        using var browser = suite.Browser();
        using var foreign = await browser.GetAsync(QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/authorize",
            new Dictionary<string, string?> { ["client_id"] = other.ClientId, ["request_uri"] = requestUri }));
        AssertRefusedWithoutRedirect(foreign);

        // The same request_uri at another tenant's endpoint, with that tenant's client: unknown there too.
        using var otherTenant = await browser.GetAsync(QueryHelpers.AddQueryString($"{other.Tenant.Api}/oauth/authorize",
            new Dictionary<string, string?> { ["client_id"] = other.ClientId, ["request_uri"] = requestUri }));
        AssertRefusedWithoutRedirect(otherTenant);
    }

    [Fact]
    public async Task Authorize_UnknownRequestUri_IsRefused()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();

        using var response = await browser.GetAsync(AuthorizeWithRequestUri(setup, RequestUriPrefix + "not-a-pushed-request"));

        AssertRefusedWithoutRedirect(response);
    }

    [Fact]
    public async Task Par_ConfidentialClient_MustAuthenticate()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Portal",
            applicationType = "web",
            redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid", "profile" },
        });
        Assert.NotNull(setup.ClientSecret);
        var (_, challenge) = HostedFlow.Pkce();
        var form = PushedRequest(setup, challenge, scope: "openid profile");

        using (var anonymous = await PushAsync(setup, form))
        {
            await HttpAssert.OAuthErrorAsync(anonymous, HttpStatusCode.Unauthorized, "invalid_client");
        }

        using (var wrong = await PushAsync(setup, form, HttpAssert.Basic(setup.ClientId, setup.ClientSecret + "x")))
        {
            await HttpAssert.OAuthErrorAsync(wrong, HttpStatusCode.Unauthorized, "invalid_client");
        }

        using (var basic = await PushAsync(setup, form, HttpAssert.Basic(setup.ClientId, setup.ClientSecret!)))
        {
            Assert.StartsWith(RequestUriPrefix, (await HttpAssert.JsonAsync(basic, HttpStatusCode.Created)).GetProperty("request_uri").GetString(), StringComparison.Ordinal);
        }

        // The docs' other form: the credentials in the body (client_secret_post).
        using var post = await PushAsync(setup, new Dictionary<string, string>(form) { ["client_secret"] = setup.ClientSecret! });
        Assert.Equal(HttpStatusCode.Created, post.StatusCode);
    }

    [Fact]
    public async Task Par_InvalidRequests_AnswerTheClientDirectly()
    {
        var setup = await suite.SetUpAsync();
        var (_, challenge) = HostedFlow.Pkce();

        // An unregistered redirect URI is refused at push time, to the client, not at a redirect.
        using (var unregistered = await PushAsync(setup, new Dictionary<string, string>(PushedRequest(setup, challenge)) { ["redirect_uri"] = "https://evil.example.com/cb" }))
        {
            await HttpAssert.OAuthErrorAsync(unregistered, HttpStatusCode.BadRequest, "invalid_request");
        }

        // RFC 9126 §2.1: a pushed request must not itself carry a request_uri.
        using (var nested = await PushAsync(setup, new Dictionary<string, string>(PushedRequest(setup, challenge)) { ["request_uri"] = RequestUriPrefix + "x" }))
        {
            await HttpAssert.OAuthErrorAsync(nested, HttpStatusCode.BadRequest, "invalid_request");
        }

        // A public client without PKCE.
        var withoutPkce = PushedRequest(setup, challenge);
        withoutPkce.Remove("code_challenge");
        withoutPkce.Remove("code_challenge_method");
        using (var noPkce = await PushAsync(setup, withoutPkce))
        {
            await HttpAssert.OAuthErrorAsync(noPkce, HttpStatusCode.BadRequest, "invalid_request");
        }

        // RFC 9126 §2.1: what the authorization endpoint would refuse is refused at the push, to the client: a scope the
        // client may not have, plain PKCE from a public client, a challenge no verifier can match.
        using (var foreignScope = await PushAsync(setup, PushedRequest(setup, challenge, scope: "openid admin")))
        {
            await HttpAssert.OAuthErrorAsync(foreignScope, HttpStatusCode.BadRequest, "invalid_scope", "The application may not request the scope 'admin'.");
        }

        var (plainVerifier, _) = HostedFlow.Pkce();
        using (var plain = await PushAsync(setup, new Dictionary<string, string>(PushedRequest(setup, plainVerifier)) { ["code_challenge_method"] = "plain" }))
        {
            await HttpAssert.OAuthErrorAsync(plain, HttpStatusCode.BadRequest, "invalid_request", "Public clients must use the S256 code challenge method.");
        }

        foreach (var malformed in new[] { "short", challenge + "+/=", new string('a', 129) })
        {
            using var badChallenge = await PushAsync(setup, new Dictionary<string, string>(PushedRequest(setup, challenge)) { ["code_challenge"] = malformed });
            await HttpAssert.OAuthErrorAsync(badChallenge, HttpStatusCode.BadRequest, "invalid_request",
                "The code_challenge must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' or '~'.");
        }

        // The same request within the rules is taken.
        using (var fine = await PushAsync(setup, PushedRequest(setup, challenge)))
        {
            Assert.Equal(HttpStatusCode.Created, fine.StatusCode);
        }

        using (var unknownClient = await PushAsync(setup, new Dictionary<string, string>(PushedRequest(setup, challenge)) { ["client_id"] = "no-such-client" }))
        {
            await HttpAssert.OAuthErrorAsync(unknownClient, HttpStatusCode.Unauthorized, "invalid_client");
        }

        using var http = suite.Token.CreateClient();
        using var get = await http.GetAsync($"{setup.Tenant.Api}/oauth/par");
        Assert.True(get.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.MethodNotAllowed, get.StatusCode.ToString());
    }

    [Fact]
    public async Task Par_MachineClientWithoutTheCodeGrant_IsUnauthorizedClient()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var created = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new
        {
            // A redirect URI of its own, so the refusal is about the grant, not the address.
            name = "Nightly job", applicationType = "web", redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "client_credentials" }, allowedScopes = new[] { "openid" },
        });
        var machine = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
        var (clientId, secret) = (machine.GetProperty("clientId").GetString()!, machine.GetProperty("secret").GetString()!);
        var (_, challenge) = HostedFlow.Pkce();
        var form = new Dictionary<string, string>(PushedRequest(setup, challenge)) { ["client_id"] = clientId };

        using var response = await PushAsync(setup, form, HttpAssert.Basic(clientId, secret));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "unauthorized_client");
    }

    [Fact]
    public async Task Par_PromptLogin_AsksForTheLoginOnceThenIssuesTheCode()
    {
        var setup = await suite.SetUpAsync();
        using var browser = suite.Browser();
        var (_, firstChallenge) = HostedFlow.Pkce();
        Assert.Contains("code", HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, firstChallenge))).Keys);

        var (_, challenge) = HostedFlow.Pkce();
        var requestUri = await RequestUriAsync(setup, new Dictionary<string, string>(PushedRequest(setup, challenge)) { ["prompt"] = "login" });

        // Signed in already, yet prompt=login sends the user to the login page; after it, the code (and no second login).
        using var first = await browser.GetAsync(AuthorizeWithRequestUri(setup, requestUri));
        Assert.Contains("/login", HostedFlow.LocalRedirect(first) ?? string.Empty, StringComparison.Ordinal);
        var redirect = await HostedFlow.SignInAsync(browser, setup, AuthorizeWithRequestUri(setup, requestUri), expectConsent: false);

        Assert.Contains("code", HostedFlow.Parameters(redirect).Keys);
    }

    [Fact]
    public async Task ClientRequiringPushedRequests_PlainAuthorizationRequest_IsRefusedAndPushedOneWorks()
    {
        var setup = await suite.SetUpAsync(new
        {
            name = "Bank app",
            applicationType = "spa",
            redirectUris = new[] { SignInSetup.RedirectUri },
            grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid", "profile", "email" },
            requiresPushedAuthorization = true,
        });
        using var browser = suite.Browser();
        var (_, challenge) = HostedFlow.Pkce();

        using var plain = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["state"] = "st-plain", ["scope"] = "openid" }));

        // The redirect URI is the client's own, so the error goes back to it (RFC 6749 §4.1.2.1), with the docs' words.
        var error = HostedFlow.Parameters(plain.Headers.Location!);
        Assert.StartsWith(SignInSetup.RedirectUri + "?", plain.Headers.Location!.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("invalid_request", error["error"]);
        Assert.Contains("PAR required", error["error_description"], StringComparison.Ordinal);
        Assert.Equal("st-plain", error["state"]);

        var requestUri = await RequestUriAsync(setup, PushedRequest(setup, challenge));
        var redirect = await HostedFlow.SignInAsync(browser, setup, AuthorizeWithRequestUri(setup, requestUri));
        Assert.Contains("code", HostedFlow.Parameters(redirect).Keys);
    }

    [Fact]
    public async Task ClientsApi_RequiresPushedAuthorization_IsShownChangedAndValidated()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var path = $"{setup.Tenant.Api}/admin/clients/{setup.ClientId}";

        Assert.False((await HttpAssert.JsonAsync(await admin.GetAsync(path), HttpStatusCode.OK)).GetProperty("data").GetProperty("requiresPushedAuthorization").GetBoolean());
        using (var updated = await admin.PutAsJsonAsync(path, new { requiresPushedAuthorization = true }))
        {
            Assert.True((await HttpAssert.JsonAsync(updated, HttpStatusCode.OK)).GetProperty("data").GetProperty("requiresPushedAuthorization").GetBoolean());
        }

        // A machine client never visits the authorization endpoint: nothing to push.
        using var machine = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new
        {
            name = "Batch", grantTypes = new[] { "client_credentials" }, allowedScopes = new[] { "openid" }, requiresPushedAuthorization = true,
        });
        Assert.Equal(HttpStatusCode.BadRequest, machine.StatusCode);
        Assert.Contains("requiresPushedAuthorization", await machine.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Discovery_AdvertisesThePushedAuthorizationEndpoint()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();

        var discovery = await http.GetFromJsonAsync<System.Text.Json.JsonElement>($"{setup.Tenant.Api}/.well-known/openid-configuration");

        Assert.Equal(setup.Issuer + "/oauth/par", discovery.GetProperty("pushed_authorization_request_endpoint").GetString());
        Assert.False(discovery.GetProperty("require_pushed_authorization_requests").GetBoolean());
    }

    private static Dictionary<string, string> PushedRequest(SignInSetup setup, string challenge, string? state = null, string? nonce = null,
        string scope = "openid profile email") => new()
    {
        ["response_type"] = "code",
        ["client_id"] = setup.ClientId,
        ["redirect_uri"] = SignInSetup.RedirectUri,
        ["scope"] = scope,
        ["state"] = state ?? "state-" + Guid.NewGuid().ToString("N")[..8],
        ["nonce"] = nonce ?? "nonce-" + Guid.NewGuid().ToString("N")[..8],
        ["code_challenge"] = challenge,
        ["code_challenge_method"] = "S256",
    };

    private async Task<HttpResponseMessage> PushAsync(SignInSetup setup, Dictionary<string, string> form, System.Net.Http.Headers.AuthenticationHeaderValue? authorization = null)
    {
        using var http = suite.Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{setup.Tenant.Api}/oauth/par") { Content = new FormUrlEncodedContent(form) };
        request.Headers.Authorization = authorization;
        return await http.SendAsync(request);
    }

    private async Task<string> RequestUriAsync(SignInSetup setup, Dictionary<string, string> form)
    {
        using var pushed = await PushAsync(setup, form);
        return (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString()!;
    }

    private static string AuthorizeWithRequestUri(SignInSetup setup, string requestUri) =>
        QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/authorize",
            new Dictionary<string, string?> { ["client_id"] = setup.ClientId, ["request_uri"] = requestUri });

    /// <summary>Refused on our error page: no redirect to the client (whose request it may not be), no code.</summary>
    private static void AssertRefusedWithoutRedirect(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }
}

/// <summary>A request_uri lives 600 s (inventory C-10: the API reference's figure, not the user guide's 60).</summary>
public sealed class PushedRequestExpiryTests(MovableClockSuite suite) : IClassFixture<MovableClockSuite>
{
    [Theory]
    [InlineData(9, true)]
    [InlineData(11, false)]
    public async Task Authorize_RequestUri_HonouredForTenMinutes(int minutesLater, bool honoured)
    {
        var setup = await suite.SetUpAsync();
        var (_, challenge) = HostedFlow.Pkce();
        using var http = suite.Token.CreateClient();
        using var pushed = await http.PostAsync($"{setup.Tenant.Api}/oauth/par", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["response_type"] = "code", ["client_id"] = setup.ClientId, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["scope"] = "openid", ["code_challenge"] = challenge, ["code_challenge_method"] = "S256",
        }));
        var requestUri = (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString();

        suite.Clock.Advance(TimeSpan.FromMinutes(minutesLater));
        using var browser = suite.Browser();
        using var response = await browser.GetAsync(QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/authorize",
            new Dictionary<string, string?> { ["client_id"] = setup.ClientId, ["request_uri"] = requestUri }));

        if (honoured)
        {
            Assert.Contains("/login", HostedFlow.LocalRedirect(response) ?? string.Empty, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Null(response.Headers.Location);
        }
    }
}
