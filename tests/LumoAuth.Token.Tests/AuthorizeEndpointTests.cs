using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.WebUtilities;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The authorization endpoint and hosted login page up to the point where a user proves who they are:
/// untrusted requests end on an error page, trusted ones are answered at the client's redirect URI with
/// <c>state</c> and <c>iss</c> (RFC 9207), and a browser without a session is sent to the tenant's login page.
/// </summary>
public sealed partial class AuthorizeEndpointTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    private const string RedirectUri = "https://spa.example.com/callback";
    private const string Verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    private const string Challenge = "E9Melhoa2OwvFrEMTJguCHoeK9-wntJqc-AbVpNXqXc";

    private HttpClient Browser() => factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    private async Task<CreatedClient> SpaAsync(TestTenant tenant) =>
        await factory.CreateOAuthClientAsync(tenant, new
        {
            name = "Dashboard",
            applicationType = "spa",
            redirectUris = new[] { RedirectUri },
            grantTypes = new[] { "authorization_code", "refresh_token" },
            allowedScopes = new[] { "openid", "profile", "email", "offline_access" },
        });

    private static string AuthorizeUrl(TestTenant tenant, string clientId, Dictionary<string, string?>? overrides = null)
    {
        var query = new Dictionary<string, string?>
        {
            ["response_type"] = "code",
            ["client_id"] = clientId,
            ["redirect_uri"] = RedirectUri,
            ["scope"] = "openid profile",
            ["state"] = "st-123",
            ["nonce"] = "n-456",
            ["code_challenge"] = Challenge,
            ["code_challenge_method"] = "S256",
        };
        foreach (var (key, value) in overrides ?? [])
        {
            query[key] = value;
        }

        return QueryHelpers.AddQueryString($"/t/{tenant.Slug}/api/v1/oauth/authorize", query.Where(p => p.Value is not null));
    }

    private static Dictionary<string, string> RedirectParameters(HttpResponseMessage response, bool fragment = false)
    {
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var location = response.Headers.Location!;
        Assert.StartsWith(RedirectUri, location.AbsoluteUri, StringComparison.Ordinal);
        var part = fragment ? location.Fragment.TrimStart('#') : location.Query;
        return QueryHelpers.ParseQuery(part).ToDictionary(p => p.Key, p => p.Value.ToString());
    }

    private static async Task AssertErrorPageAsync(HttpResponseMessage response, string error)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode}: {body}");
        Assert.Null(response.Headers.Location);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"data-error=\"{error}\"", body, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authorize_UnregisteredRedirectUri_ShowsErrorPage_NeverRedirects()
    {
        var client = await SpaAsync(factory.Acme);
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, new() { ["redirect_uri"] = "https://evil.example.com/callback" }));

        await AssertErrorPageAsync(response, "invalid_request");
    }

    /// <summary>RFC 8252 §7.3: a native app listens on whatever loopback port it gets, so the port is free; nothing else is.</summary>
    [Theory]
    [InlineData("http://127.0.0.1:51234/callback", true)]
    [InlineData("http://127.0.0.1/callback", true)]
    [InlineData("http://[::1]:40000/callback", true)]
    [InlineData("http://127.0.0.1:51234/other", false)]
    [InlineData("http://127.0.0.1:51234/callback?x=1", false)]
    [InlineData("https://127.0.0.1:51234/callback", false)]
    [InlineData("http://localhost:51234/callback", false)]
    [InlineData("http://127.0.0.2:51234/callback", false)]
    public async Task Authorize_NativeLoopbackRedirect_AcceptsAnyPort_Only(string redirectUri, bool accepted)
    {
        var client = await factory.CreateOAuthClientAsync(factory.Acme, new
        {
            name = "CLI", applicationType = "native", redirectUris = new[] { "http://127.0.0.1/callback", "http://[::1]/callback" },
            grantTypes = new[] { "authorization_code" }, allowedScopes = new[] { "openid" },
        });
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, new() { ["redirect_uri"] = redirectUri, ["scope"] = "openid" }));

        if (accepted)
        {
            // On to the login page: the redirect URI passed.
            Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
            Assert.Contains($"/t/{factory.Acme.Slug}/login", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
        }
        else
        {
            await AssertErrorPageAsync(response, "invalid_request");
        }
    }

    [Fact]
    public async Task Authorize_UnknownResponseType_ShowsUnsupportedResponseType_WithoutRedirecting()
    {
        var client = await SpaAsync(factory.Acme);
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, new() { ["response_type"] = "magic" }));

        // Without a known response type there is no telling whether the answer belongs in the query or the fragment.
        await AssertErrorPageAsync(response, "unsupported_response_type");
    }

    private async Task<CreatedClient> WebClientAsync(bool requiresPkce) =>
        await factory.CreateOAuthClientAsync(factory.Acme, new
        {
            name = "Portal", applicationType = "web", redirectUris = new[] { RedirectUri },
            grantTypes = new[] { "authorization_code" }, allowedScopes = new[] { "openid" }, requiresPkce,
        });

    [Fact]
    public async Task Authorize_ConfidentialClientThatRequiresPkce_WithoutChallenge_RedirectsInvalidRequest()
    {
        var client = await WebClientAsync(requiresPkce: true);
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId,
            new() { ["scope"] = "openid", ["code_challenge"] = null, ["code_challenge_method"] = null }));

        var parameters = RedirectParameters(response);
        Assert.Equal("invalid_request", parameters["error"]);
        Assert.Equal("st-123", parameters["state"]);
    }

    [Theory]
    [InlineData("plain")]
    [InlineData(null)]
    public async Task Authorize_ConfidentialClient_MayUseAPlainChallenge(string? method)
    {
        var client = await WebClientAsync(requiresPkce: false);
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId,
            new() { ["scope"] = "openid", ["code_challenge"] = new string('p', 43), ["code_challenge_method"] = method }));

        // On to the login page: the request was accepted.
        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Contains($"/t/{factory.Acme.Slug}/login", response.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authorize_UnknownClient_ShowsErrorPage()
    {
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, Guid.NewGuid().ToString()));

        await AssertErrorPageAsync(response, "invalid_client");
    }

    [Fact]
    public async Task Authorize_DeactivatedClient_ShowsErrorPage()
    {
        var client = await SpaAsync(factory.Acme);
        using (var admin = factory.AdminClient(factory.Acme))
        using (var off = await admin.PutAsJsonAsync($"/t/{factory.Acme.Slug}/api/v1/admin/clients/{client.ClientId}", new { isActive = false }))
        {
            Assert.Equal(HttpStatusCode.OK, off.StatusCode);
        }

        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId));

        await AssertErrorPageAsync(response, "invalid_client");
    }

    [Fact]
    public async Task Authorize_OtherTenantsClient_ShowsErrorPage()
    {
        var acmeClient = await SpaAsync(factory.Acme);
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Globex, acmeClient.ClientId));

        await AssertErrorPageAsync(response, "invalid_client");
    }

    [Fact]
    public async Task Authorize_PublicClientWithoutPkce_RedirectsInvalidRequestWithStateAndIss()
    {
        var client = await SpaAsync(factory.Acme);
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, new() { ["code_challenge"] = null, ["code_challenge_method"] = null }));

        var parameters = RedirectParameters(response);
        Assert.Equal("invalid_request", parameters["error"]);
        Assert.Equal("st-123", parameters["state"]);
        Assert.Equal(factory.Acme.Issuer, parameters["iss"]);
    }

    [Fact]
    public async Task Authorize_PublicClientWithPlainPkce_RedirectsInvalidRequest()
    {
        var client = await SpaAsync(factory.Acme);
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, new() { ["code_challenge"] = Verifier, ["code_challenge_method"] = "plain" }));

        var parameters = RedirectParameters(response);
        Assert.Equal("invalid_request", parameters["error"]);
        Assert.Equal("st-123", parameters["state"]);
    }

    [Theory]
    [InlineData("too-short")]
    [InlineData("has spaces and is long enough to pass the length rule of rfc seven six three six")]
    [InlineData(Verifier + Verifier + Verifier)] // 129 unreserved characters: one more than RFC 7636 §4.2 allows
    public async Task Authorize_MalformedCodeChallenge_RedirectsInvalidRequest(string challenge)
    {
        var client = await SpaAsync(factory.Acme);
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, new() { ["code_challenge"] = challenge }));

        var parameters = RedirectParameters(response);
        Assert.Equal("invalid_request", parameters["error"]);
        Assert.Equal("st-123", parameters["state"]);
    }

    [Fact]
    public async Task Authorize_PublicClientWithChallengeButNoMethod_IsPlain_RedirectsInvalidRequest()
    {
        var client = await SpaAsync(factory.Acme);
        using var browser = Browser();

        // RFC 7636 §4.3: no method means plain, which a public client may not use.
        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, new() { ["code_challenge"] = Verifier, ["code_challenge_method"] = null }));

        var parameters = RedirectParameters(response);
        Assert.Equal("invalid_request", parameters["error"]);
        Assert.Equal("st-123", parameters["state"]);
    }

    [Fact]
    public async Task Authorize_ScopeTheClientMayNotRequest_RedirectsInvalidScope()
    {
        var client = await SpaAsync(factory.Acme);
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, new() { ["scope"] = "openid admin.write" }));

        var parameters = RedirectParameters(response);
        Assert.Equal("invalid_scope", parameters["error"]);
        Assert.Equal("st-123", parameters["state"]);
        Assert.Equal(factory.Acme.Issuer, parameters["iss"]);
    }

    [Fact]
    public async Task Authorize_ImplicitResponseTypeWithoutTheImplicitGrant_RedirectsUnauthorizedClient()
    {
        var client = await SpaAsync(factory.Acme);
        using var browser = Browser();

        // The implicit response types exist, but only for clients whose grant types include implicit.
        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, new()
        {
            ["response_type"] = "token", ["code_challenge"] = null, ["code_challenge_method"] = null,
        }));

        var parameters = RedirectParameters(response, fragment: true);
        Assert.Equal("unauthorized_client", parameters["error"]);
        Assert.Equal("st-123", parameters["state"]);
    }

    /// <summary>A SPA that opted into the implicit grant (and so the implicit and hybrid response types).</summary>
    private async Task<CreatedClient> ImplicitSpaAsync() =>
        await factory.CreateOAuthClientAsync(factory.Acme, new
        {
            name = "Legacy SPA",
            applicationType = "spa",
            redirectUris = new[] { RedirectUri },
            grantTypes = new[] { "authorization_code", "implicit" },
            allowedScopes = new[] { "openid", "profile" },
        });

    /// <summary>The parameters of an implicit or hybrid request: PKCE only when a code is asked for.</summary>
    private static Dictionary<string, string?> TokenResponseType(string responseType)
    {
        var withCode = responseType.Split(' ').Contains("code");
        return new()
        {
            ["response_type"] = responseType,
            ["code_challenge"] = withCode ? Challenge : null,
            ["code_challenge_method"] = withCode ? "S256" : null,
        };
    }

    [Theory]
    [InlineData("id_token")]
    [InlineData("code id_token")]
    public async Task Authorize_ImplicitOrHybridWithoutNonce_RedirectsInvalidRequestInTheFragment(string responseType)
    {
        var client = await ImplicitSpaAsync();
        using var browser = Browser();
        var request = TokenResponseType(responseType);
        request["nonce"] = null;

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, request));

        // OIDC Core §3.2.2.1 / §3.3.2.11: nonce is required when an ID token comes from the authorization endpoint. The
        // client and redirect URI are trusted, so the error goes back to it, in the fragment that response type uses.
        var parameters = RedirectParameters(response, fragment: true);
        Assert.Equal("invalid_request", parameters["error"]);
        Assert.Contains("nonce", parameters["error_description"], StringComparison.Ordinal);
        Assert.Equal("st-123", parameters["state"]);
        Assert.Equal(factory.Acme.Issuer, parameters["iss"]);
    }

    [Theory]
    [InlineData("id_token")]
    [InlineData("code id_token")]
    public async Task Authorize_QueryResponseModeForAResponseTypeThatReturnsTokens_RedirectsInvalidRequest(string responseType)
    {
        var client = await ImplicitSpaAsync();
        using var browser = Browser();
        var inQuery = TokenResponseType(responseType);
        inQuery["response_mode"] = "query";
        var inFragment = TokenResponseType(responseType);
        inFragment["response_mode"] = "fragment";

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, inQuery));
        using var accepted = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, inFragment));

        // OAuth 2.0 Multiple Response Types §5: tokens never travel in the query. The refusal carries none, so it is
        // answered where the client asked for its answer.
        var parameters = RedirectParameters(response);
        Assert.Equal("invalid_request", parameters["error"]);
        Assert.Equal("st-123", parameters["state"]);
        Assert.Equal(factory.Acme.Issuer, parameters["iss"]);
        // The same request in the fragment is accepted: on to the login page.
        Assert.Equal(HttpStatusCode.SeeOther, accepted.StatusCode);
        Assert.Contains($"/t/{factory.Acme.Slug}/login", accepted.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("query", false)]
    [InlineData("fragment", true)]
    public async Task Authorize_PromptNoneWithoutSession_AnswersLoginRequiredInTheResponseMode(string? responseMode, bool inFragment)
    {
        var client = await SpaAsync(factory.Acme);
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, new() { ["prompt"] = "none", ["response_mode"] = responseMode }));

        var parameters = RedirectParameters(response, inFragment);
        Assert.Equal("login_required", parameters["error"]);
        Assert.Equal("st-123", parameters["state"]);
        Assert.Equal(factory.Acme.Issuer, parameters["iss"]);
    }

    [Fact]
    public async Task Authorize_PromptNoneFormPost_PostsLoginRequiredToTheClient()
    {
        var client = await SpaAsync(factory.Acme);
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, new() { ["prompt"] = "none", ["response_mode"] = "form_post" }));

        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains($"action=\"{RedirectUri}\"", body, StringComparison.Ordinal);
        Assert.Matches("name=\"error\" value=\"login_required\"", body);
        Assert.Matches("name=\"state\" value=\"st-123\"", body);
        // OpenIddict writes this page itself; it still may not be framed or sniffed.
        Assert.Equal("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Theory]
    [InlineData("https://localhost", true)]
    [InlineData("http://localhost", false)]
    public async Task Answers_CarryHsts_OverHttpsOnly(string baseAddress, bool expected)
    {
        using var browser = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, BaseAddress = new Uri(baseAddress) });

        foreach (var path in new[] { $"/t/{factory.Acme.Slug}/login", $"/t/{factory.Acme.Slug}/api/v1/.well-known/openid-configuration" })
        {
            using var response = await browser.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(expected, response.Headers.TryGetValues("Strict-Transport-Security", out var hsts));
            if (expected)
            {
                Assert.Equal("max-age=31536000; includeSubDomains; preload", hsts!.Single());
            }
        }
    }

    [Fact]
    public async Task Authorize_WithoutSession_RedirectsToTheTenantsLoginPage_CarryingTheRequest()
    {
        var client = await SpaAsync(factory.Acme);
        using var browser = Browser();

        using var response = await browser.GetAsync(AuthorizeUrl(factory.Acme, client.ClientId, new() { ["login_hint"] = "alice@example.com", ["prompt"] = "login" }));

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        var location = response.Headers.Location!.OriginalString;
        Assert.StartsWith($"/t/{factory.Acme.Slug}/login?", location, StringComparison.Ordinal);
        var query = QueryHelpers.ParseQuery(location[location.IndexOf('?', StringComparison.Ordinal)..]);
        Assert.Equal("alice@example.com", query["login_hint"].ToString());
        var returnUrl = query["returnUrl"].ToString();
        Assert.StartsWith($"/t/{factory.Acme.Slug}/api/v1/oauth/authorize?", returnUrl, StringComparison.Ordinal);
        Assert.Contains("code_challenge=" + Challenge, returnUrl, StringComparison.Ordinal);
        // The login the client asked for is the one about to happen: it is not asked for again on the way back.
        Assert.DoesNotContain("prompt=login", returnUrl, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoginPage_RendersWithCsrfTokenAndSecurityHeaders()
    {
        var client = await SpaAsync(factory.Acme);
        using var browser = Browser();
        var returnUrl = AuthorizeUrl(factory.Acme, client.ClientId);

        using var response = await browser.GetAsync($"/t/{factory.Acme.Slug}/login?returnUrl={Uri.EscapeDataString(returnUrl)}&login_hint=alice%40example.com");

        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Matches(CsrfField(), body);
        Assert.Contains("value=\"alice@example.com\"", body, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Theory]
    [InlineData("https://evil.example.com/")]
    [InlineData("//evil.example.com/t/x/api/v1/oauth/authorize")]
    [InlineData("/t/other-tenant/api/v1/oauth/authorize?client_id=x")]
    [InlineData("/t/{slug}/api/v1/oauth/authorizeXYZ")]
    public async Task LoginPage_ForeignReturnUrl_ShowsErrorPage(string returnUrl)
    {
        using var browser = Browser();

        using var response = await browser.GetAsync($"/t/{factory.Acme.Slug}/login?returnUrl={Uri.EscapeDataString(returnUrl.Replace("{slug}", factory.Acme.Slug, StringComparison.Ordinal))}");

        await AssertErrorPageAsync(response, "invalid_request");
    }

    [Theory]
    [InlineData("/t/acme/api/v1/oauth/authorize?client_id=x", true)]
    [InlineData("/t/acme/api/v1/oauth/authorize?state=a%0D%0ASet-Cookie:x", true)]
    [InlineData("/t/acme/api/v1/oauth/authorize?state=a\r\nSet-Cookie:x", false)]
    [InlineData("/t/acme/api/v1/oauth/authorize?state=\u0000", false)]
    [InlineData("/t/acme/api/v1/oauth/authorize?state=\u007F", false)]
    [InlineData("/t/acme/api/v1/oauth/authorize?state=a b", false)]
    [InlineData("/t/acme/api/v1/oauth/authorize?state=a\tb", false)]
    [InlineData("/t/acme/api/v1/oauth/authorize?state=caf\u00E9", false)]
    [InlineData("/t/acme/api/v1/oauth/authorize?state=\u2028", false)]
    public void ReturnUrl_OnlyPrintableAscii_CanBecomeTheLocationHeader(string returnUrl, bool accepted) =>
        Assert.Equal(accepted, LumoAuth.Token.Features.Login.LoginEndpoints.IsAuthorizeContinuation(returnUrl, "acme"));

    [Fact]
    public async Task LoginSubmit_ReturnUrlWithAControlCharacter_IsRefusedBeforeSigningIn()
    {
        using var browser = Browser();
        using var page = await browser.GetAsync($"/t/{factory.Acme.Slug}/login");
        var form = HostedFlow.HiddenFields(await page.Content.ReadAsStringAsync());
        form["email"] = "alice@example.com";
        form["password"] = "correct horse battery staple";
        form["returnUrl"] = $"/t/{factory.Acme.Slug}/api/v1/oauth/authorize?state=a\nb";

        using var response = await browser.PostAsync($"/t/{factory.Acme.Slug}/login", new FormUrlEncodedContent(form));

        await AssertErrorPageAsync(response, "invalid_request");
    }

    [Fact]
    public async Task LoginSubmit_WithoutCsrfToken_IsRefused()
    {
        using var browser = Browser();

        using var response = await browser.PostAsync($"/t/{factory.Acme.Slug}/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["email"] = "alice@example.com",
            ["password"] = "correct horse battery staple",
        }));

        await AssertErrorPageAsync(response, "invalid_request");
    }

    [Fact]
    public async Task LoginSubmit_WhenAdminIsUnreachable_SaysTryAgain_AndOpensNoSession()
    {
        using var browser = Browser();
        using var page = await browser.GetAsync($"/t/{factory.Acme.Slug}/login");
        var token = CsrfField().Match(await page.Content.ReadAsStringAsync()).Groups[1].Value;

        using var response = await browser.PostAsync($"/t/{factory.Acme.Slug}/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__csrf"] = token,
            ["email"] = "alice@example.com",
            ["password"] = "correct horse battery staple",
        }));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("data-error=\"temporarily_unavailable\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.False(response.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.StartsWith("lumo_session=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task LoginSubmit_TooManyAttempts_IsThrottledWithA429Page()
    {
        var tenant = factory.AddTenant("throttle");
        using var browser = Browser();
        var statuses = new List<HttpStatusCode>();

        for (var i = 0; i < 31; i++)
        {
            using var response = await browser.PostAsync($"/t/{tenant.Slug}/login", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["email"] = "alice@example.com",
                ["password"] = "guess-" + i,
            }));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.Contains("data-error=\"rate_limit_exceeded\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                Assert.InRange(int.Parse(response.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture), 1, 60);
            }
        }

        Assert.All(statuses.Take(30), s => Assert.Equal(HttpStatusCode.BadRequest, s));
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[30]);
        // Another tenant's login page is not affected.
        using var other = await browser.GetAsync($"/t/{factory.Globex.Slug}/login");
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task Discovery_AdvertisesTheCodeFlowAndIssParameter()
    {
        using var http = factory.CreateClient();

        var json = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync($"{factory.Acme.Issuer}/.well-known/openid-configuration")).RootElement;

        Assert.Equal($"{factory.Acme.Issuer}/oauth/authorize", json.GetProperty("authorization_endpoint").GetString());
        Assert.Equal($"{factory.Acme.Issuer}/oauth/userinfo", json.GetProperty("userinfo_endpoint").GetString());
        Assert.True(json.GetProperty("authorization_response_iss_parameter_supported").GetBoolean());
        Assert.Equal(["S256", "plain"], json.GetProperty("code_challenge_methods_supported").EnumerateArray().Select(e => e.GetString()).Order().Reverse());
        var modes = json.GetProperty("response_modes_supported").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("form_post", modes);
        Assert.Contains("fragment", modes);
        Assert.Contains("query", modes);
        var scopes = json.GetProperty("scopes_supported").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("openid", scopes);
        Assert.Contains("offline_access", scopes);
    }

    [GeneratedRegex("name=\"__csrf\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();
}
