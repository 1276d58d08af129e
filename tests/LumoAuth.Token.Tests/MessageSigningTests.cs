using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Duende.IdentityModel;
using LumoAuth.Testing;
using LumoAuth.Token.Protocol;
using LumoAuth.Token.Tests.Support;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Signed authorization requests (RFC 9101, JAR: <c>request</c> at the authorization and pushed authorization endpoints),
/// signed authorization responses (JARM: <c>response_mode</c> <c>jwt</c>, <c>query.jwt</c>, <c>fragment.jwt</c>,
/// <c>form_post.jwt</c>), the per-client <c>requireSignedRequestObject</c>, and the FAPI 2.0 Message Signing profile
/// (<c>fapi2_advanced</c>) that requires both.
/// </summary>
[RunsLong(70)]
public sealed class MessageSigningTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private const string Redirect = "https://app.example.com/callback";
    private static readonly RsaSecurityKey ClientKey = new(RSA.Create(2048)) { KeyId = "jar-key-1" };
    private static readonly RsaSecurityKey StrangerKey = new(RSA.Create(2048)) { KeyId = "jar-key-1" };

    private static object WebClient(bool requireSigned = false, string? fapiProfile = null) => new
    {
        name = "Signing app", applicationType = "web", redirectUris = new[] { Redirect }, grantTypes = new[] { "authorization_code", "refresh_token" },
        allowedScopes = new[] { "openid", "profile", "offline_access" }, jwks = ClientAssertions.PublicJwks(ClientKey),
        requireSignedRequestObject = requireSigned ? true : (bool?)null, fapiProfile,
    };

    private static Dictionary<string, object> AuthorizationParameters(SignInSetup setup, string challenge, string state = "inner-state") => new()
    {
        ["client_id"] = setup.ClientId, ["response_type"] = "code", ["redirect_uri"] = Redirect, ["scope"] = "openid profile",
        ["state"] = state, ["nonce"] = "n-1", ["code_challenge"] = challenge, ["code_challenge_method"] = "S256",
    };

    /// <summary>A request object as a client library writes one: iss = client, aud = issuer, five minutes of life.</summary>
    private static string RequestObject(SignInSetup setup, Dictionary<string, object> parameters, SecurityKey? key = null, string algorithm = SecurityAlgorithms.RsaSsaPssSha256,
        string? audience = null, DateTime? notBefore = null, DateTime? expires = null, string type = "oauth-authz-req+jwt", bool withExpiry = true, bool withNotBefore = true)
    {
        var now = DateTime.UtcNow;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = setup.ClientId,
            Audience = audience ?? setup.Issuer,
            TokenType = type,
            IssuedAt = notBefore ?? now,
            NotBefore = withNotBefore ? notBefore ?? now : null,
            Expires = withExpiry ? expires ?? now.AddMinutes(5) : null,
            Claims = parameters,
            SigningCredentials = new SigningCredentials(key ?? ClientKey, algorithm),
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }

    /// <summary><paramref name="form"/> with the client's <c>private_key_jwt</c> authentication (a fresh assertion) added.</summary>
    private static Dictionary<string, string> KeyAuthenticated(SignInSetup setup, Dictionary<string, string>? form = null)
    {
        form ??= [];
        form["client_id"] = setup.ClientId;
        form["client_assertion_type"] = OidcConstants.ClientAssertionTypes.JwtBearer;
        form["client_assertion"] = ClientAssertions.Create(setup.ClientId, setup.Issuer, ClientKey);
        return form;
    }

    private Task<HttpResponseMessage> PushAsync(SignInSetup setup, Dictionary<string, string> form) =>
        suite.PostFormAsync(setup.Issuer + "/oauth/par", form, (setup.ClientId, setup.ClientSecret!));

    private Task<HttpResponseMessage> RedeemAsync(SignInSetup setup, string code, string verifier) =>
        suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = Redirect, ["code_verifier"] = verifier,
        }, (setup.ClientId, setup.ClientSecret!));

    private static string Authorize(SignInSetup setup, Dictionary<string, string?> query) =>
        QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/authorize", query);

    /// <summary>The JARM response's claims, after checking its signature with the tenant's published keys, issuer and audience.</summary>
    private async Task<JsonWebToken> VerifiedResponseAsync(SignInSetup setup, string jwt)
    {
        using var http = suite.Token.CreateClient();
        var jwks = new JsonWebKeySet(await http.GetStringAsync(setup.Issuer + "/.well-known/jwks.json"));
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(jwt, new TokenValidationParameters
        {
            ValidIssuer = setup.Issuer, ValidAudience = setup.ClientId, IssuerSigningKeys = jwks.GetSigningKeys(),
        });
        Assert.True(validation.IsValid, validation.Exception?.Message);
        var token = new JsonWebToken(jwt);
        Assert.InRange(token.ValidTo, DateTime.UtcNow.AddMinutes(9), DateTime.UtcNow.AddMinutes(11));
        return token;
    }

    [Fact]
    public async Task Discovery_AdvertisesRequestObjectsAndSignedResponses()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();

        var metadata = await http.GetFromJsonAsync<JsonElement>(setup.Issuer + "/.well-known/openid-configuration");

        Assert.True(metadata.GetProperty("request_parameter_supported").GetBoolean());
        Assert.True(metadata.GetProperty("request_uri_parameter_supported").GetBoolean());
        Assert.False(metadata.GetProperty("require_signed_request_object").GetBoolean());
        var algorithms = metadata.GetProperty("request_object_signing_alg_values_supported").EnumerateArray().Select(a => a.GetString()).ToList();
        Assert.Equal(["RS256", "PS256", "ES256"], algorithms);
        Assert.DoesNotContain("none", algorithms);
        var modes = metadata.GetProperty("response_modes_supported").EnumerateArray().Select(m => m.GetString()).ToList();
        Assert.Superset(new HashSet<string?> { "query", "fragment", "form_post", "jwt", "query.jwt", "fragment.jwt", "form_post.jwt" }, modes.ToHashSet());
        // The tenant's RSA key signs RS256, and PS256 for FAPI clients.
        Assert.Equal(["RS256", "PS256"], metadata.GetProperty("authorization_signing_alg_values_supported").EnumerateArray().Select(a => a.GetString()));
    }

    [Fact]
    public async Task RequestObject_AtTheAuthorizationEndpoint_ItsParametersWin()
    {
        var setup = await suite.SetUpAsync(WebClient());
        var (verifier, challenge) = HostedFlow.Pkce();
        var request = RequestObject(setup, AuthorizationParameters(setup, challenge));
        using var browser = suite.Browser();

        // Unsigned parameters beside the object are ignored (RFC 9101 §6.3): this scope and state are not the request's.
        var redirect = await HostedFlow.SignInAsync(browser, setup, Authorize(setup, new()
        {
            ["client_id"] = setup.ClientId, ["request"] = request, ["state"] = "outer-state", ["scope"] = "openid offline_access",
        }));

        var parameters = HostedFlow.Parameters(redirect);
        Assert.StartsWith(Redirect, redirect.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("inner-state", parameters["state"]);
        using var redeemed = await RedeemAsync(setup, parameters["code"], verifier);
        var tokens = await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK);
        Assert.Equal("openid profile", tokens.GetProperty("scope").GetString());
        Assert.False(tokens.TryGetProperty("refresh_token", out _));
        Assert.Equal("n-1", new JsonWebToken(tokens.GetProperty("id_token").GetString()).GetClaim("nonce").Value);
    }

    [Fact]
    public async Task RequestObject_Pushed_ThenRedeemedThroughItsRequestUri()
    {
        var setup = await suite.SetUpAsync(WebClient());
        var (verifier, challenge) = HostedFlow.Pkce();

        using var pushed = await PushAsync(setup, new() { ["request"] = RequestObject(setup, AuthorizationParameters(setup, challenge), algorithm: SecurityAlgorithms.RsaSha256) });

        var requestUri = (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString()!;
        using var browser = suite.Browser();
        var redirect = await HostedFlow.SignInAsync(browser, setup, Authorize(setup, new() { ["client_id"] = setup.ClientId, ["request_uri"] = requestUri }));
        var parameters = HostedFlow.Parameters(redirect);
        Assert.Equal("inner-state", parameters["state"]);
        using var redeemed = await RedeemAsync(setup, parameters["code"], verifier);
        await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK);
    }

    [Fact]
    public async Task RequestObject_CarriesTheClaimsParameterAsAnObject()
    {
        var setup = await suite.SetUpAsync(WebClient());
        var (verifier, challenge) = HostedFlow.Pkce();
        // A JSON object inside the request object, not JSON text (RFC 9101 §4).
        static JsonElement EssentialAcr(string value) => JsonSerializer.SerializeToElement(new { id_token = new { acr = new { essential = true, values = new[] { value } } } });
        using var browser = suite.Browser();

        var redirect = await HostedFlow.SignInAsync(browser, setup, Authorize(setup, new()
        {
            ["client_id"] = setup.ClientId, ["request"] = RequestObject(setup, new(AuthorizationParameters(setup, challenge)) { ["claims"] = EssentialAcr("1") }),
        }));
        using var redeemed = await RedeemAsync(setup, HostedFlow.Parameters(redirect)["code"], verifier);
        var tokens = await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK);
        Assert.Equal("1", new JsonWebToken(tokens.GetProperty("id_token").GetString()).GetClaim("acr").Value);

        using var unmet = await browser.GetAsync(Authorize(setup, new()
        {
            ["client_id"] = setup.ClientId, ["request"] = RequestObject(setup, new(AuthorizationParameters(setup, challenge)) { ["claims"] = EssentialAcr("urn:example:gold") }),
        }));
        Assert.Equal("unmet_authentication_requirements", HostedFlow.Parameters(unmet.Headers.Location!)["error"]);
        using var malformed = await PushAsync(setup, new()
        {
            ["request"] = RequestObject(setup, new(AuthorizationParameters(setup, challenge)) { ["claims"] = JsonSerializer.SerializeToElement(new { id_token = new[] { "acr" } }) }),
        });
        Assert.Equal("invalid_request", (await HttpAssert.JsonAsync(malformed, HttpStatusCode.BadRequest)).GetProperty("error").GetString());
    }

    public static TheoryData<string, string> FlawedObjects => new()
    {
        { "signed by another key", "signature" }, { "expired", "expired" }, { "valid for two hours", "more than 60 minutes" }, { "not yet valid", "not yet valid" },
        { "no exp", "expired" }, { "audience is another issuer", "'aud'" }, { "other client_id inside", "same client_id" }, { "no client_id inside", "same client_id" },
        { "issued by another client", "'iss'" }, { "HS256", "signed with one of" }, { "unsigned", "signed with one of" }, { "encrypted", "encrypted" },
        { "typ of an access token", "'typ'" }, { "not a JWT", "well-formed" }, { "nested request_uri", "cannot carry" }, { "state as a number array", "'state'" },
        { "oversized", "larger than" },
    };

    [Theory]
    [MemberData(nameof(FlawedObjects))]
    public async Task FlawedRequestObject_AtPar_InvalidRequestObject(string flaw, string said)
    {
        var setup = await suite.SetUpAsync(WebClient());
        var (_, challenge) = HostedFlow.Pkce();
        var parameters = AuthorizationParameters(setup, challenge);
        var now = DateTime.UtcNow;
        var jwt = flaw switch
        {
            "signed by another key" => RequestObject(setup, parameters, StrangerKey),
            "expired" => RequestObject(setup, parameters, notBefore: now.AddMinutes(-10), expires: now.AddMinutes(-5)),
            "valid for two hours" => RequestObject(setup, parameters, expires: now.AddHours(2)),
            "not yet valid" => RequestObject(setup, parameters, notBefore: now.AddMinutes(5), expires: now.AddMinutes(10)),
            "no exp" => RequestObject(setup, parameters, withExpiry: false),
            "audience is another issuer" => RequestObject(setup, parameters, audience: "https://elsewhere.example.com"),
            "other client_id inside" => RequestObject(setup, new(parameters) { ["client_id"] = "someone-else" }),
            "no client_id inside" => RequestObject(setup, parameters.Where(p => p.Key != "client_id").ToDictionary()),
            "issued by another client" => IssuedBy(setup, parameters, "someone-else"),
            "HS256" => RequestObject(setup, parameters, new SymmetricSecurityKey(RandomNumberGenerator.GetBytes(32)), SecurityAlgorithms.HmacSha256),
            "unsigned" => Unsigned(setup, parameters),
            "encrypted" => "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d",
            "typ of an access token" => RequestObject(setup, parameters, type: "at+jwt"),
            "not a JWT" => "not.a.jwt",
            "state as a number array" => RequestObject(setup, new(parameters) { ["state"] = new[] { 1, 2 } }),
            "oversized" => RequestObject(setup, new(parameters) { ["ui_locales"] = new string('x', 17_000) }),
            _ => RequestObject(setup, new(parameters) { ["request_uri"] = "urn:ietf:params:oauth:request_uri:x" }),
        };

        using var pushed = await PushAsync(setup, new() { ["request"] = jwt });

        var error = await HttpAssert.OAuthErrorAsync(pushed, HttpStatusCode.BadRequest, "invalid_request_object");
        Assert.Contains(said, error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwoRequestObjects_InvalidRequest()
    {
        var setup = await suite.SetUpAsync(WebClient());
        var (_, challenge) = HostedFlow.Pkce();
        var jwt = RequestObject(setup, AuthorizationParameters(setup, challenge));

        using var pushed = await suite.PostFormAsync(setup.Issuer + "/oauth/par", [new("request", jwt), new("request", jwt)], (setup.ClientId, setup.ClientSecret!));

        await HttpAssert.OAuthErrorAsync(pushed, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Fapi2AdvancedClient_Rs256RequestObject_InvalidRequestObject()
    {
        var setup = await suite.SetUpAsync(WebClient(fapiProfile: "fapi2_advanced"));
        var (_, challenge) = HostedFlow.Pkce();

        using var pushed = await suite.PostFormAsync(setup.Issuer + "/oauth/par", KeyAuthenticated(setup, new()
        {
            ["request"] = RequestObject(setup, AuthorizationParameters(setup, challenge), algorithm: SecurityAlgorithms.RsaSha256),
        }));

        var error = await HttpAssert.OAuthErrorAsync(pushed, HttpStatusCode.BadRequest, "invalid_request_object");
        Assert.Contains("PS256, ES256", error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
    }

    private static string IssuedBy(SignInSetup setup, Dictionary<string, object> parameters, string issuer)
    {
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer, Audience = setup.Issuer, NotBefore = now, Expires = now.AddMinutes(5), Claims = parameters,
            SigningCredentials = new SigningCredentials(ClientKey, SecurityAlgorithms.RsaSsaPssSha256),
        });
    }

    private static string Unsigned(SignInSetup setup, Dictionary<string, object> parameters)
    {
        var payload = new Dictionary<string, object>(parameters) { ["iss"] = setup.ClientId, ["aud"] = setup.Issuer, ["exp"] = DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds() };
        return Base64UrlEncoder.Encode("""{"alg":"none"}""") + "." + Base64UrlEncoder.Encode(JsonSerializer.Serialize(payload)) + ".";
    }

    [Fact]
    public async Task FlawedRequestObject_AtAuthorize_ShowsTheErrorPage()
    {
        var setup = await suite.SetUpAsync(WebClient());
        var (_, challenge) = HostedFlow.Pkce();
        using var browser = suite.Browser();

        using var response = await browser.GetAsync(Authorize(setup, new()
        {
            ["client_id"] = setup.ClientId, ["request"] = RequestObject(setup, AuthorizationParameters(setup, challenge), StrangerKey),
        }));

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode}: {body}");
        Assert.Null(response.Headers.Location);
        Assert.Contains("data-error=\"invalid_request_object\"", body, StringComparison.Ordinal);
    }

    /// <summary>Another tenant's client, even with an object its own key signed for this issuer, is not a client here.</summary>
    [Fact]
    public async Task RequestObject_OfAnotherTenantsClient_InvalidClient()
    {
        var theirs = await suite.SetUpAsync(WebClient());
        var ours = await suite.SetUpAsync(WebClient());
        var (_, challenge) = HostedFlow.Pkce();
        var foreign = theirs with { Issuer = ours.Issuer };
        var jwt = RequestObject(foreign, AuthorizationParameters(foreign, challenge));
        using var browser = suite.Browser();

        using var pushed = await suite.PostFormAsync(ours.Issuer + "/oauth/par", new Dictionary<string, string> { ["request"] = jwt }, (theirs.ClientId, theirs.ClientSecret!));
        using var authorize = await browser.GetAsync(Authorize(ours, new() { ["client_id"] = theirs.ClientId, ["request"] = jwt }));

        await HttpAssert.OAuthErrorAsync(pushed, HttpStatusCode.Unauthorized, "invalid_client");
        var page = await authorize.Content.ReadAsStringAsync();
        Assert.True(authorize.StatusCode == HttpStatusCode.BadRequest, $"{authorize.StatusCode}: {page}");
        Assert.Null(authorize.Headers.Location);
        Assert.Contains("data-error=\"invalid_client\"", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequestAndRequestUriTogether_InvalidRequest()
    {
        var setup = await suite.SetUpAsync(WebClient());
        var (_, challenge) = HostedFlow.Pkce();

        using var pushed = await PushAsync(setup, new()
        {
            ["request"] = RequestObject(setup, AuthorizationParameters(setup, challenge)), ["request_uri"] = "urn:ietf:params:oauth:request_uri:x",
        });

        await HttpAssert.OAuthErrorAsync(pushed, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task ClientThatMustSign_PlainRequests_AreRefused_SignedOnesPass()
    {
        var setup = await suite.SetUpAsync(WebClient(requireSigned: true));
        var (_, challenge) = HostedFlow.Pkce();
        var plain = AuthorizationParameters(setup, challenge).ToDictionary(p => p.Key, p => (string)p.Value);

        using var pushedPlain = await PushAsync(setup, plain);
        using var browser = suite.Browser();
        using var authorizePlain = await browser.GetAsync(Authorize(setup, plain.ToDictionary(p => p.Key, p => (string?)p.Value)));
        using var pushedSigned = await PushAsync(setup, new() { ["request"] = RequestObject(setup, AuthorizationParameters(setup, challenge)) });

        await HttpAssert.OAuthErrorAsync(pushedPlain, HttpStatusCode.BadRequest, "invalid_request");
        var refused = HostedFlow.Parameters(authorizePlain.Headers.Location ?? throw new InvalidOperationException(await authorizePlain.Content.ReadAsStringAsync()));
        Assert.Equal("invalid_request", refused["error"]);
        Assert.Equal("inner-state", refused["state"]);
        await HttpAssert.JsonAsync(pushedSigned, HttpStatusCode.Created);
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var client = (await admin.GetFromJsonAsync<JsonElement>($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}")).GetProperty("data");
        Assert.True(client.GetProperty("requireSignedRequestObject").GetBoolean());
    }

    /// <summary>
    /// Login and consent send the signed request back as it came (its unpacked parameters are not signed), so a client
    /// that must sign can use <c>request</c> at the authorization endpoint directly, not only through PAR.
    /// </summary>
    [Fact]
    public async Task ClientThatMustSign_DirectSignedRequest_SurvivesLoginAndConsent()
    {
        var setup = await suite.SetUpAsync(WebClient(requireSigned: true));
        var (verifier, challenge) = HostedFlow.Pkce();
        var request = RequestObject(setup, AuthorizationParameters(setup, challenge));
        using (var look = suite.Browser())
        using (var toLogin = await look.GetAsync(Authorize(setup, new() { ["client_id"] = setup.ClientId, ["request"] = request })))
        {
            var returnUrl = QueryHelpers.ParseQuery(new Uri(new Uri("https://x"), HostedFlow.LocalRedirect(toLogin)!).Query)["returnUrl"].ToString();
            var carried = QueryHelpers.ParseQuery(returnUrl[returnUrl.IndexOf('?', StringComparison.Ordinal)..]);
            Assert.Equal(request, carried["request"].ToString());
            Assert.Equal(["client_id", "request", "lumo_request_seen", "lumo_redirect_hint"], carried.Keys);
            using var login = await look.GetAsync(HostedFlow.LocalRedirect(toLogin)!);
            Assert.Contains("form-action 'self' https://app.example.com;", login.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        }

        using var browser = suite.Browser();
        var redirect = await HostedFlow.SignInAsync(browser, setup, Authorize(setup, new() { ["client_id"] = setup.ClientId, ["request"] = request }));

        var parameters = HostedFlow.Parameters(redirect);
        Assert.StartsWith(Redirect, redirect.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("inner-state", parameters["state"]);
        using var redeemed = await RedeemAsync(setup, parameters["code"], verifier);
        await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK);
    }

    /// <summary>
    /// An object that expires while its user signs in still completes when it comes back from the hosted pages with the
    /// sealed time this server first saw it (then valid); an old seal, or one sealed to another object, does not help.
    /// </summary>
    [Theory]
    [InlineData("seen 10 minutes ago", true)]
    [InlineData("seen 40 minutes ago", false)]
    [InlineData("sealed to another object", false)]
    [InlineData("no seal", false)]
    public async Task DirectSignedRequest_ExpiredDuringSignIn_JudgedWhenFirstSeen(string seal, bool completes)
    {
        var setup = await suite.SetUpAsync(WebClient());
        var (verifier, challenge) = HostedFlow.Pkce();
        using var browser = suite.Browser();
        // Signed in with consent to these scopes already, so the next request answers at once.
        await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["redirect_uri"] = Redirect, ["scope"] = "openid profile" }));
        var now = DateTime.UtcNow;
        var parameters = AuthorizationParameters(setup, challenge, "late");
        var expired = RequestObject(setup, parameters, notBefore: now.AddMinutes(-12), expires: now.AddMinutes(-5));
        var dataProtection = suite.Token.Services.GetRequiredService<IDataProtectionProvider>();
        var query = new Dictionary<string, string?> { ["client_id"] = setup.ClientId, ["request"] = expired };
        query["lumo_request_seen"] = seal switch
        {
            "seen 10 minutes ago" => SignedRequestObjects.SealSeen(dataProtection, expired, DateTimeOffset.UtcNow.AddMinutes(-10)),
            "seen 40 minutes ago" => SignedRequestObjects.SealSeen(dataProtection, expired, DateTimeOffset.UtcNow.AddMinutes(-40)),
            "sealed to another object" => SignedRequestObjects.SealSeen(dataProtection, RequestObject(setup, parameters), DateTimeOffset.UtcNow.AddMinutes(-10)),
            _ => null,
        };

        using var response = await browser.GetAsync(Authorize(setup, query));

        if (completes)
        {
            var redirect = response.Headers.Location ?? throw new InvalidOperationException($"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            Assert.StartsWith(Redirect, redirect.AbsoluteUri, StringComparison.Ordinal);
            Assert.Equal("late", HostedFlow.Parameters(redirect)["state"]);
            using var redeemed = await RedeemAsync(setup, HostedFlow.Parameters(redirect)["code"], verifier);
            await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK);
        }
        else
        {
            var page = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode}: {page}");
            Assert.Contains("data-error=\"invalid_request_object\"", page, StringComparison.Ordinal);
        }
    }

    /// <summary>A prompt=login inside a signed request is met by a sign-in after the client signed it, not asked again forever.</summary>
    [Fact]
    public async Task SignedPromptLogin_AsksOnce_ThenAnswers()
    {
        var setup = await suite.SetUpAsync(WebClient());
        var (_, challenge) = HostedFlow.Pkce();
        using var browser = suite.Browser();
        var first = await HostedFlow.SignInAsync(browser, setup, Authorize(setup, new()
        {
            ["client_id"] = setup.ClientId, ["request"] = RequestObject(setup, AuthorizationParameters(setup, challenge)),
        }));
        Assert.Contains("code", HostedFlow.Parameters(first).Keys);
        // auth_time has a one-second grain: the next request must be signed after the first sign-in.
        await Task.Delay(TimeSpan.FromSeconds(1.1));

        using var again = await browser.GetAsync(Authorize(setup, new()
        {
            ["client_id"] = setup.ClientId, ["request"] = RequestObject(setup, new(AuthorizationParameters(setup, challenge, "again")) { ["prompt"] = "login" }),
        }));
        var login = HostedFlow.LocalRedirect(again);
        Assert.Contains("/login", login, StringComparison.Ordinal);
        using var submitted = await HostedFlow.SubmitLoginAsync(browser, login!, setup.Email, setup.Password);
        using var back = await browser.GetAsync(HostedFlow.LocalRedirect(submitted)!);

        var redirect = back.Headers.Location ?? throw new InvalidOperationException($"{back.StatusCode}: {await back.Content.ReadAsStringAsync()}");
        Assert.StartsWith(Redirect, redirect.AbsoluteUri, StringComparison.Ordinal);
        Assert.Equal("again", HostedFlow.Parameters(redirect)["state"]);
    }

    [Fact]
    public async Task RequireSignedRequestObject_WithoutKeys_ValidationError()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);

        using var response = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new
        {
            name = "x", applicationType = "web", redirectUris = new[] { Redirect }, requireSignedRequestObject = true,
        });

        await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
    }

    [Fact]
    public async Task ResponseModeJwt_TheCodeComesBackSigned()
    {
        var setup = await suite.SetUpAsync();
        var (verifier, challenge) = HostedFlow.Pkce();
        using var browser = suite.Browser();

        var redirect = await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge, new() { ["response_mode"] = "jwt", ["state"] = "s-jwt" }));

        var parameters = HostedFlow.Parameters(redirect);
        Assert.Equal(["response"], parameters.Keys);
        var response = await VerifiedResponseAsync(setup, parameters["response"]);
        Assert.Equal("s-jwt", response.GetClaim("state").Value);
        Assert.Equal(setup.Issuer, response.Issuer);
        using var redeemed = await suite.PostFormAsync(setup.TokenEndpoint, new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["client_id"] = setup.ClientId, ["code"] = response.GetClaim("code").Value,
            ["redirect_uri"] = SignInSetup.RedirectUri, ["code_verifier"] = verifier,
        });
        await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK);
    }

    [Fact]
    public async Task ResponseModeFormPostJwt_PostsOneSignedField()
    {
        var setup = await suite.SetUpAsync();
        var (_, challenge) = HostedFlow.Pkce();
        using var browser = suite.Browser();
        // Signed in and consented once, the browser's next request is answered at once.
        var first = await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge));
        Assert.Contains("code", HostedFlow.Parameters(first).Keys);

        using var answer = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["response_mode"] = "form_post.jwt", ["state"] = "s-post" }));

        var html = await answer.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        // OpenIddict writes this page: one hidden field, and nothing else the client would have to trust unsigned.
        var fields = System.Text.RegularExpressions.Regex.Matches(html, "<input type=\"hidden\" name=\"([^\"]*)\" value=\"([^\"]*)\"")
            .ToDictionary(m => m.Groups[1].Value, m => WebUtility.HtmlDecode(m.Groups[2].Value));
        Assert.True(fields.Keys.SequenceEqual(["response"]), html);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(html, "type=\"hidden\""));
        Assert.Contains($"action=\"{SignInSetup.RedirectUri}\"", html, StringComparison.Ordinal);
        var response = await VerifiedResponseAsync(setup, fields["response"]);
        Assert.Equal("s-post", response.GetClaim("state").Value);
        Assert.True(response.TryGetClaim("code", out _));
    }

    [Fact]
    public async Task ResponseModeJwt_ErrorsComeBackSignedToo()
    {
        var setup = await suite.SetUpAsync();
        var (_, challenge) = HostedFlow.Pkce();
        using var browser = suite.Browser();

        using var answer = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["response_mode"] = "query.jwt", ["scope"] = "openid payroll:admin", ["state"] = "s-err" }));

        var parameters = HostedFlow.Parameters(answer.Headers.Location ?? throw new InvalidOperationException(await answer.Content.ReadAsStringAsync()));
        Assert.Equal(["response"], parameters.Keys);
        var response = await VerifiedResponseAsync(setup, parameters["response"]);
        Assert.Equal("invalid_scope", response.GetClaim("error").Value);
        Assert.Equal("s-err", response.GetClaim("state").Value);
        Assert.False(response.TryGetClaim("code", out _));
    }

    [Fact]
    public async Task QueryJwt_WithTokensInTheResponse_InvalidRequest()
    {
        var setup = await suite.SetUpAsync();
        var (_, challenge) = HostedFlow.Pkce();
        using var browser = suite.Browser();

        using var answer = await browser.GetAsync(HostedFlow.AuthorizeUrl(setup, challenge, new() { ["response_type"] = "code id_token", ["response_mode"] = "query.jwt" }));

        var parameters = HostedFlow.Parameters(answer.Headers.Location ?? throw new InvalidOperationException(await answer.Content.ReadAsStringAsync()));
        var response = await VerifiedResponseAsync(setup, parameters["response"]);
        Assert.Equal("invalid_request", response.GetClaim("error").Value);
    }

    [Fact]
    public async Task Fapi2Advanced_SignedRequestIn_SignedResponseOut_DPoPBoundTokens()
    {
        var setup = await suite.SetUpAsync(WebClient(fapiProfile: "fapi2_advanced"));
        var (verifier, challenge) = HostedFlow.Pkce();
        var plain = KeyAuthenticated(setup);
        foreach (var (name, value) in AuthorizationParameters(setup, challenge))
        {
            plain[name] = (string)value;
        }

        using var pushedPlain = await suite.PostFormAsync(setup.Issuer + "/oauth/par", plain);
        var signed = KeyAuthenticated(setup);
        signed["request"] = RequestObject(setup, AuthorizationParameters(setup, challenge));
        using var pushed = await suite.PostFormAsync(setup.Issuer + "/oauth/par", signed);

        await HttpAssert.OAuthErrorAsync(pushedPlain, HttpStatusCode.BadRequest, "invalid_request");
        var requestUri = (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString()!;
        using var browser = suite.Browser();
        var redirect = await HostedFlow.SignInAsync(browser, setup, Authorize(setup, new() { ["client_id"] = setup.ClientId, ["request_uri"] = requestUri }));
        var parameters = HostedFlow.Parameters(redirect);
        Assert.Equal(["response"], parameters.Keys);
        var response = await VerifiedResponseAsync(setup, parameters["response"]);
        Assert.Equal("inner-state", response.GetClaim("state").Value);
        Assert.Equal("PS256", response.Alg);
        using var key = new DPoPKey();
        var redeem = KeyAuthenticated(setup);
        redeem["grant_type"] = "authorization_code";
        redeem["code"] = response.GetClaim("code").Value;
        redeem["redirect_uri"] = Redirect;
        redeem["code_verifier"] = verifier;
        using var redeemed = await suite.PostFormAsync(setup.TokenEndpoint, redeem, null, key.Proof("POST", setup.TokenEndpoint));
        Assert.Equal("DPoP", (await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK)).GetProperty("token_type").GetString());
    }

    [Theory]
    [InlineData("fapi2_advanced", false)]
    [InlineData(null, true)]
    public async Task RequestObjectWithoutNbf_RefusedOnlyForMessageSigningClients(string? fapiProfile, bool accepted)
    {
        var setup = await suite.SetUpAsync(WebClient(requireSigned: true, fapiProfile: fapiProfile));
        var (_, challenge) = HostedFlow.Pkce();
        var form = KeyAuthenticated(setup, new() { ["request"] = RequestObject(setup, AuthorizationParameters(setup, challenge), withNotBefore: false) });

        using var pushed = await suite.PostFormAsync(setup.Issuer + "/oauth/par", form);

        if (accepted)
        {
            await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created);
        }
        else
        {
            await HttpAssert.OAuthErrorAsync(pushed, HttpStatusCode.BadRequest, "invalid_request_object");
        }
    }

    [Fact]
    public async Task Fapi2Advanced_Registration_AlwaysRequiresSignedRequests()
    {
        var setup = await suite.SetUpAsync(WebClient(fapiProfile: "fapi2_advanced"));
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);

        var client = (await admin.GetFromJsonAsync<JsonElement>($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}")).GetProperty("data");
        using var loosened = await admin.PutAsJsonAsync($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}", new { requireSignedRequestObject = false });

        Assert.Equal("fapi2_advanced", client.GetProperty("fapiProfile").GetString());
        Assert.True(client.GetProperty("requireSignedRequestObject").GetBoolean());
        Assert.True(client.GetProperty("requiresPushedAuthorization").GetBoolean());
        Assert.True(client.GetProperty("dpopBoundAccessTokens").GetBoolean());
        await HttpAssert.EnvelopeAsync(loosened, HttpStatusCode.BadRequest, "validation_error");
    }
}
