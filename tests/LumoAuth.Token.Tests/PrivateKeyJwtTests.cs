using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Json;
using Duende.IdentityModel;
using Duende.IdentityModel.Client;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// <c>private_key_jwt</c> client authentication (RFC 7523) with single-use assertions. Assertions follow
/// draft-ietf-oauth-rfc7523bis as OpenIddict 7 requires: audience = the issuer, <c>typ</c>
/// <c>client-authentication+jwt</c> (the older token-endpoint audience enables audience-injection attacks).
/// </summary>
public sealed class PrivateKeyJwtTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    private static readonly RSA ClientKey = RSA.Create(2048);
    private static readonly RsaSecurityKey SigningKey = new(ClientKey) { KeyId = "client-key-1" };

    private static object PublicJwks(RsaSecurityKey key) => ClientAssertions.PublicJwks(key);

    private static string Assertion(string clientId, string audience, SecurityKey key, string? jti = null, TimeSpan? lifetime = null, bool withJti = true, string type = ClientAssertions.AssertionType) =>
        ClientAssertions.Create(clientId, audience, key, jti, lifetime, withJti, type);

    private async Task<CreatedClient> KeyClientAsync(TestTenant tenant) =>
        await factory.CreateOAuthClientAsync(tenant, new { name = "signed", allowedScopes = new[] { "orders.read" }, jwks = PublicJwks(SigningKey) });

    private Task<HttpResponseMessage> TokenWithAssertionAsync(TestTenant tenant, string clientId, string assertion) =>
        factory.PostFormAsync(tenant, "oauth/token", new()
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId,
            ["client_assertion_type"] = OidcConstants.ClientAssertionTypes.JwtBearer,
            ["client_assertion"] = assertion,
        });

    [Fact]
    public async Task ClientAssertion_ValidWithDuendeClient_IssuesToken()
    {
        var tenant = factory.Acme;
        var client = await KeyClientAsync(tenant);
        using var http = factory.CreateClient();

        var response = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = tenant.TokenEndpoint,
            ClientId = client.ClientId,
            ClientCredentialStyle = ClientCredentialStyle.PostBody,
            ClientAssertion = new ClientAssertion
            {
                Type = OidcConstants.ClientAssertionTypes.JwtBearer,
                Value = Assertion(client.ClientId, tenant.Issuer, SigningKey),
            },
            Scope = "orders.read",
        });

        Assert.False(response.IsError, response.Error + " " + response.ErrorDescription);
        Assert.Equal(client.ClientId, new JsonWebToken(response.AccessToken).GetClaim("client_id").Value);
        Assert.Equal("client-key-1", client.Data.GetProperty("jwks").GetProperty("keys")[0].GetProperty("kid").GetString());
    }

    /// <summary>RFC 7521 §4.2: with an assertion, <c>client_id</c> may be left out; the assertion names the client.</summary>
    [Fact]
    public async Task ClientAssertion_WithoutClientIdParameter_IssuesTheAssertionsClientAToken()
    {
        var client = await KeyClientAsync(factory.Acme);
        using var response = await factory.PostFormAsync(factory.Acme, "oauth/token", new()
        {
            ["grant_type"] = "client_credentials",
            ["client_assertion_type"] = OidcConstants.ClientAssertionTypes.JwtBearer,
            ["client_assertion"] = Assertion(client.ClientId, factory.Acme.Issuer, SigningKey),
        });

        var body = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        var token = new JsonWebToken(body.GetProperty("access_token").GetString());
        Assert.Equal(client.ClientId, token.GetClaim("client_id").Value);
        Assert.Equal(client.ClientId, token.Subject);
    }

    [Fact]
    public async Task ClientAssertion_LegacyTokenEndpointAudienceAndJwtType_IsRefused()
    {
        var client = await KeyClientAsync(factory.Acme);

        using var response = await TokenWithAssertionAsync(factory.Acme, client.ClientId, Assertion(client.ClientId, factory.Acme.TokenEndpoint, SigningKey, type: "JWT"));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task ClientAssertion_Replayed_ReturnsInvalidClient()
    {
        var client = await KeyClientAsync(factory.Acme);
        var assertion = Assertion(client.ClientId, factory.Acme.Issuer, SigningKey);
        using var first = await TokenWithAssertionAsync(factory.Acme, client.ClientId, assertion);
        await HttpAssert.JsonAsync(first, HttpStatusCode.OK);

        using var replay = await TokenWithAssertionAsync(factory.Acme, client.ClientId, assertion);

        await HttpAssert.OAuthErrorAsync(replay, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task PushedAuthorizationRequest_WithAssertion_IsAcceptedOnceOnly()
    {
        const string redirect = "https://portal.example.com/callback";
        var client = await factory.CreateOAuthClientAsync(factory.Acme, new
        {
            name = "signed portal", applicationType = "web", redirectUris = new[] { redirect }, grantTypes = new[] { "authorization_code" },
            allowedScopes = new[] { "openid" }, jwks = PublicJwks(SigningKey),
        });
        var assertion = Assertion(client.ClientId, factory.Acme.Issuer, SigningKey);
        Dictionary<string, string> Push() => new()
        {
            ["response_type"] = "code", ["client_id"] = client.ClientId, ["redirect_uri"] = redirect, ["scope"] = "openid",
            ["code_challenge"] = new string('a', 43), ["code_challenge_method"] = "S256",
            ["client_assertion_type"] = OidcConstants.ClientAssertionTypes.JwtBearer, ["client_assertion"] = assertion,
        };

        using var first = await factory.PostFormAsync(factory.Acme, "oauth/par", Push());
        Assert.StartsWith("urn:ietf:params:oauth:request_uri:", (await HttpAssert.JsonAsync(first, HttpStatusCode.Created)).GetProperty("request_uri").GetString(), StringComparison.Ordinal);

        // The pushed authorization endpoint shares the token endpoint's replay memory.
        using var replay = await factory.PostFormAsync(factory.Acme, "oauth/par", Push());
        await HttpAssert.OAuthErrorAsync(replay, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task ClientAssertion_SameJtiNewSignature_IsStillAReplay()
    {
        var client = await KeyClientAsync(factory.Acme);
        var jti = Guid.NewGuid().ToString();
        using var first = await TokenWithAssertionAsync(factory.Acme, client.ClientId, Assertion(client.ClientId, factory.Acme.Issuer, SigningKey, jti));
        await HttpAssert.JsonAsync(first, HttpStatusCode.OK);

        using var replay = await TokenWithAssertionAsync(factory.Acme, client.ClientId, Assertion(client.ClientId, factory.Acme.Issuer, SigningKey, jti, TimeSpan.FromMinutes(3)));

        await HttpAssert.OAuthErrorAsync(replay, HttpStatusCode.Unauthorized, "invalid_client");
    }

    public static TheoryData<string> BadAssertions => new() { "wrong-key", "no-jti", "too-long", "wrong-audience", "garbage" };

    [Theory]
    [MemberData(nameof(BadAssertions))]
    public async Task ClientAssertion_Invalid_ReturnsInvalidClient(string kind)
    {
        var tenant = factory.Acme;
        var client = await KeyClientAsync(tenant);
        var assertion = kind switch
        {
            "wrong-key" => Assertion(client.ClientId, tenant.Issuer, new RsaSecurityKey(RSA.Create(2048)) { KeyId = "client-key-1" }),
            "no-jti" => Assertion(client.ClientId, tenant.Issuer, SigningKey, withJti: false),
            "too-long" => Assertion(client.ClientId, tenant.Issuer, SigningKey, lifetime: TimeSpan.FromHours(2)),
            "wrong-audience" => Assertion(client.ClientId, factory.Globex.Issuer, SigningKey),
            _ => "not.a.jwt",
        };

        using var response = await TokenWithAssertionAsync(tenant, client.ClientId, assertion);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task ClientAssertion_AtAnotherTenant_ReturnsInvalidClient()
    {
        var client = await KeyClientAsync(factory.Acme);

        using var response = await TokenWithAssertionAsync(factory.Globex, client.ClientId, Assertion(client.ClientId, factory.Globex.Issuer, SigningKey));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task CreateClient_JwksWithPrivateKey_Returns400()
    {
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(RSA.Create(2048).ExportParameters(true)));
        using var admin = factory.AdminClient(factory.Acme);

        using var response = await admin.PostAsync($"/t/{factory.Acme.Slug}/api/v1/admin/clients", new StringContent(
            JsonSerializer.Serialize(new { name = "leaky", jwks = new { keys = new[] { new { kty = "RSA", n = jwk.N, e = jwk.E, d = jwk.D } } } }),
            System.Text.Encoding.UTF8, "application/json"));

        var json = await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(json.GetProperty("details").TryGetProperty("jwks", out _));
    }

    [Theory]
    [InlineData("not base64!")]
    [InlineData("AAAA")]
    public async Task CreateClient_JwksWithAnX5cThatIsNoCertificate_Returns400(string x5c)
    {
        var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(RSA.Create(2048).ExportParameters(false)));
        using var admin = factory.AdminClient(factory.Acme);

        using var response = await admin.PostAsync($"/t/{factory.Acme.Slug}/api/v1/admin/clients", new StringContent(
            JsonSerializer.Serialize(new { name = "mtls", jwks = new { keys = new[] { new { kty = "RSA", n = jwk.N, e = jwk.E, x5c = new[] { x5c } } } } }),
            System.Text.Encoding.UTF8, "application/json"));

        var json = await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.Contains("x5c", json.GetProperty("details").GetProperty("jwks").GetRawText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateClient_JwksWithItsCertificate_IsKept()
    {
        using var certificate = LumoAuth.Testing.TestCertificates.Client("kept");
        var client = await factory.CreateOAuthClientAsync(factory.Acme, new { name = "mtls", jwks = LumoAuth.Testing.TestCertificates.Jwks(certificate) });

        Assert.Equal(Convert.ToBase64String(certificate.RawData), client.Data.GetProperty("jwks").GetProperty("keys")[0].GetProperty("x5c")[0].GetString());
    }

    [Fact]
    public async Task Discovery_AdvertisesPrivateKeyJwt()
    {
        using var http = factory.CreateClient();

        var json = JsonDocument.Parse(await http.GetStringAsync($"{factory.Acme.Issuer}/.well-known/openid-configuration")).RootElement;

        Assert.Contains("private_key_jwt", json.GetProperty("token_endpoint_auth_methods_supported").EnumerateArray().Select(e => e.GetString()));
    }
}
