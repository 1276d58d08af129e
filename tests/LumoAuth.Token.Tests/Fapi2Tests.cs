using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Duende.IdentityModel;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using LumoAuth.Token.Data;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// A client on the FAPI 2.0 Security Profile (<c>fapiProfile: fapi2_baseline</c>): its registration fixes PAR, PKCE, DPoP
/// and a short access-token lifetime; at run time it authenticates with <c>private_key_jwt</c> only, pushes S256 PKCE,
/// gets DPoP-bound tokens and codes that live 60 seconds.
/// </summary>
public sealed class Fapi2Tests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    private const string Redirect = "https://bank.example.com/callback";
    private static readonly RsaSecurityKey ClientKey = new(RSA.Create(2048)) { KeyId = "fapi-key-1" };

    private static object FapiClient(object? overrides = null) => overrides ?? new
    {
        name = "Bank", applicationType = "web", redirectUris = new[] { Redirect }, grantTypes = new[] { "authorization_code", "refresh_token" },
        allowedScopes = new[] { "openid", "offline_access" }, jwks = ClientAssertions.PublicJwks(ClientKey), fapiProfile = "fapi2_baseline",
    };

    private static Dictionary<string, string> KeyAuthentication(SignInSetup setup) => new()
    {
        ["client_id"] = setup.ClientId,
        ["client_assertion_type"] = OidcConstants.ClientAssertionTypes.JwtBearer,
        ["client_assertion"] = ClientAssertions.Create(setup.ClientId, setup.Issuer, ClientKey),
    };

    private static Dictionary<string, string> With(Dictionary<string, string> form, Dictionary<string, string> more)
    {
        foreach (var (key, value) in more)
        {
            form[key] = value;
        }

        return form;
    }

    private Task<HttpResponseMessage> PostAsync(string url, Dictionary<string, string> form, string? dpopProof = null, string? basicSecret = null, string? clientId = null) =>
        suite.PostFormAsync(url, form, basicSecret is null ? null : (clientId!, basicSecret), dpopProof is null ? [] : [dpopProof]);

    private static Dictionary<string, string> PushedParameters(string challenge, string method = "S256") => new()
    {
        ["response_type"] = "code", ["redirect_uri"] = Redirect, ["scope"] = "openid offline_access", ["state"] = "s1",
        ["code_challenge"] = challenge, ["code_challenge_method"] = method,
    };

    /// <summary>Push (with the key), sign the user in through the pushed request, and return the code.</summary>
    private async Task<(SignInSetup Setup, string Code, string Verifier)> CodeAsync()
    {
        var setup = await suite.SetUpAsync(FapiClient());
        var (verifier, challenge) = HostedFlow.Pkce();
        using var pushed = await PostAsync(setup.Issuer + "/oauth/par", With(PushedParameters(challenge), KeyAuthentication(setup)));
        var requestUri = (await HttpAssert.JsonAsync(pushed, HttpStatusCode.Created)).GetProperty("request_uri").GetString()!;
        using var browser = suite.Browser();
        var authorize = QueryHelpers.AddQueryString($"{setup.Tenant.Api}/oauth/authorize", new Dictionary<string, string?> { ["client_id"] = setup.ClientId, ["request_uri"] = requestUri });
        var redirect = await HostedFlow.SignInAsync(browser, setup, authorize);
        return (setup, HostedFlow.Parameters(redirect)["code"], verifier);
    }

    private Task<HttpResponseMessage> RedeemAsync(SignInSetup setup, string code, string verifier, DPoPKey key) =>
        PostAsync(setup.TokenEndpoint, With(new()
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = Redirect, ["code_verifier"] = verifier,
        }, KeyAuthentication(setup)), key.Proof("POST", setup.TokenEndpoint));

    [Fact]
    public async Task Registration_FixesTheProfilesRules()
    {
        var setup = await suite.SetUpAsync(FapiClient());
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);

        var client = (await admin.GetFromJsonAsync<JsonElement>($"{setup.Tenant.Api}/admin/clients/{setup.ClientId}")).GetProperty("data");

        Assert.Equal("fapi2_baseline", client.GetProperty("fapiProfile").GetString());
        Assert.True(client.GetProperty("requiresPushedAuthorization").GetBoolean());
        Assert.True(client.GetProperty("requiresPkce").GetBoolean());
        Assert.True(client.GetProperty("dpopBoundAccessTokens").GetBoolean());
        Assert.Equal(300, client.GetProperty("accessTokenLifetime").GetInt32());
    }

    public static TheoryData<string> RefusedRegistrations => ["public", "no keys", "advanced without signed requests", "long-lived tokens", "implicit", "par off", "unknown profile", "RS256 ID tokens"];

    [Theory]
    [MemberData(nameof(RefusedRegistrations))]
    public async Task Registration_AgainstTheProfile_ValidationError(string flaw)
    {
        var setup = await suite.SetUpAsync();
        var jwks = ClientAssertions.PublicJwks(ClientKey);
        object body = flaw switch
        {
            "public" => new { name = "x", applicationType = "spa", redirectUris = new[] { Redirect }, fapiProfile = "fapi2_baseline" },
            "no keys" => new { name = "x", applicationType = "web", redirectUris = new[] { Redirect }, fapiProfile = "fapi2_baseline" },
            "advanced without signed requests" => new { name = "x", applicationType = "web", redirectUris = new[] { Redirect }, jwks, fapiProfile = "fapi2_advanced", requireSignedRequestObject = false },
            "long-lived tokens" => new { name = "x", applicationType = "web", redirectUris = new[] { Redirect }, jwks, fapiProfile = "fapi2_baseline", accessTokenLifetime = 3600 },
            "implicit" => new { name = "x", applicationType = "web", redirectUris = new[] { Redirect }, jwks, fapiProfile = "fapi2_baseline", grantTypes = new[] { "authorization_code", "implicit" } },
            "par off" => new { name = "x", applicationType = "web", redirectUris = new[] { Redirect }, jwks, fapiProfile = "fapi2_baseline", requiresPushedAuthorization = false },
            "RS256 ID tokens" => new { name = "x", applicationType = "web", redirectUris = new[] { Redirect }, jwks, fapiProfile = "fapi2_baseline", idTokenSignedResponseAlg = "RS256" },
            _ => new { name = "x", applicationType = "web", redirectUris = new[] { Redirect }, jwks, fapiProfile = "fapi3" },
        };
        using var admin = suite.Token.CreateClient();
        admin.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);

        using var response = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", body);

        await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
    }

    [Fact]
    public async Task PushedRequest_SignIn_Redeem_GivesDPoPBoundShortLivedTokens()
    {
        var (setup, code, verifier) = await CodeAsync();
        using var key = new DPoPKey();

        using var redeemed = await RedeemAsync(setup, code, verifier, key);

        var tokens = await HttpAssert.JsonAsync(redeemed, HttpStatusCode.OK);
        Assert.Equal("DPoP", tokens.GetProperty("token_type").GetString());
        Assert.InRange(tokens.GetProperty("expires_in").GetInt32(), 295, 300);
        var accessToken = tokens.GetProperty("access_token").GetString()!;
        var jkt = new JsonWebToken(accessToken).GetPayloadValue<JsonElement>("cnf").GetProperty("jkt").GetString();
        Assert.Equal(key.Thumbprint, jkt);

        // Security Profile §5.4.1: PS256 from the tenant's RSA key, never RS256 — for the access token and the ID token,
        // whose at_hash names the access token as the client receives it.
        using var http = suite.Token.CreateClient();
        var signingKeys = new JsonWebKeySet(await http.GetStringAsync(setup.Issuer + "/.well-known/jwks.json")).GetSigningKeys();
        foreach (var name in new[] { "access_token", "id_token" })
        {
            var jwt = tokens.GetProperty(name).GetString()!;
            Assert.Equal("PS256", new JsonWebToken(jwt).Alg);
            var verified = await new JsonWebTokenHandler().ValidateTokenAsync(jwt, new TokenValidationParameters
            {
                ValidIssuer = setup.Issuer, ValidateAudience = false, IssuerSigningKeys = signingKeys, ValidTypes = [name == "access_token" ? "at+jwt" : "JWT"],
            });
            Assert.True(verified.IsValid, name + ": " + verified.Exception?.Message);
        }

        var atHash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.ASCII.GetBytes(accessToken))[..16];
        Assert.Equal(Base64UrlEncoder.Encode(atHash), new JsonWebToken(tokens.GetProperty("id_token").GetString()).GetPayloadValue<string>("at_hash"));
    }

    [Fact]
    public async Task RedeemWithoutDPoP_InvalidDPoPProof()
    {
        var (setup, code, verifier) = await CodeAsync();

        using var response = await PostAsync(setup.TokenEndpoint, With(new()
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = Redirect, ["code_verifier"] = verifier,
        }, KeyAuthentication(setup)));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_dpop_proof");
    }

    [Fact]
    public async Task ClientSecret_IsNotAcceptedAtParOrToken()
    {
        var setup = await suite.SetUpAsync(FapiClient());
        var (_, challenge) = HostedFlow.Pkce();
        using var key = new DPoPKey();

        using var pushed = await PostAsync(setup.Issuer + "/oauth/par", PushedParameters(challenge), basicSecret: setup.ClientSecret, clientId: setup.ClientId);
        using var token = await PostAsync(setup.TokenEndpoint, new()
        {
            ["grant_type"] = "authorization_code", ["code"] = "any", ["redirect_uri"] = Redirect, ["code_verifier"] = new string('v', 43),
        }, key.Proof("POST", setup.TokenEndpoint), basicSecret: setup.ClientSecret, clientId: setup.ClientId);

        await HttpAssert.OAuthErrorAsync(pushed, HttpStatusCode.Unauthorized, "invalid_client");
        await HttpAssert.OAuthErrorAsync(token, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task PushedRequest_WithPlainPkce_InvalidRequest()
    {
        var setup = await suite.SetUpAsync(FapiClient());
        var (verifier, _) = HostedFlow.Pkce();

        using var pushed = await PostAsync(setup.Issuer + "/oauth/par", With(PushedParameters(verifier, "plain"), KeyAuthentication(setup)));

        await HttpAssert.OAuthErrorAsync(pushed, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task AuthorizationCode_LivesSixtySeconds()
    {
        var (setup, _, _) = await CodeAsync();

        await using var scope = suite.Token.Services.CreateAsyncScope();
        var lifetime = await scope.ServiceProvider.GetRequiredService<TokenDbContext>().Set<TokenToken>().IgnoreQueryFilters()
            .Where(t => t.Type == OpenIddict.Abstractions.OpenIddictConstants.TokenTypeIdentifiers.Private.AuthorizationCode && t.Application!.ClientId == setup.ClientId)
            .Select(t => t.ExpirationDate - t.CreationDate)
            .SingleAsync();

        Assert.Equal(TimeSpan.FromSeconds(60), lifetime);
    }
}
