using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// JWT introspection responses (RFC 9701; FAPI 2.0 Message Signing): asked for with
/// <c>Accept: application/token-introspection+jwt</c>, the answer is a JWT signed with the tenant's key, addressed to the
/// calling client; errors stay JSON; without the header nothing changes.
/// </summary>
public sealed class SignedIntrospectionTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    private const string MediaType = "application/token-introspection+jwt";

    private async Task<HttpResponseMessage> IntrospectAsync(TestTenant tenant, CreatedClient caller, string token, string accept, string? secret = null)
    {
        using var http = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Issuer}/oauth/introspect")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token }),
        };
        request.Headers.Authorization = HttpAssert.Basic(caller.ClientId, secret ?? caller.Secret!);
        request.Headers.Accept.ParseAdd(accept);
        return await http.SendAsync(request);
    }

    /// <summary>The answer's claims after checking signature, issuer, audience and type against the tenant's published keys.</summary>
    private async Task<JsonWebToken> VerifiedAsync(TestTenant tenant, CreatedClient caller, HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal(MediaType, response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString() ?? string.Empty, StringComparison.Ordinal);
        using var http = factory.CreateClient();
        var jwks = new JsonWebKeySet(await http.GetStringAsync(tenant.Issuer + "/.well-known/jwks.json"));
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(body, new TokenValidationParameters
        {
            ValidIssuer = tenant.Issuer, ValidAudience = caller.ClientId, IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidTypes = ["token-introspection+jwt"], RequireExpirationTime = false, ValidateLifetime = false,
        });
        Assert.True(result.IsValid, result.Exception?.Message);
        var jwt = new JsonWebToken(body);
        Assert.InRange(jwt.GetPayloadValue<long>("iat"), DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeSeconds());
        // RFC 9701 §5: the token's own claims live under token_introspection, never at the top where they could pass for an access token's.
        Assert.False(jwt.TryGetPayloadValue<string>("sub", out _));
        Assert.False(jwt.TryGetPayloadValue<long>("exp", out _));
        return jwt;
    }

    private static JsonElement Introspection(JsonWebToken jwt) => jwt.GetPayloadValue<JsonElement>("token_introspection");

    [Fact]
    public async Task ActiveToken_TheAnswerComesSigned()
    {
        var tenant = factory.Acme;
        var issuedTo = await factory.CreateOAuthClientAsync(tenant);
        var resourceServer = await factory.CreateOAuthClientAsync(tenant, new { name = "orders api" });
        var token = await factory.AccessTokenAsync(tenant, issuedTo, "orders.read");

        using var response = await IntrospectAsync(tenant, resourceServer, token, MediaType);

        var answer = Introspection(await VerifiedAsync(tenant, resourceServer, response));
        Assert.True(answer.GetProperty("active").GetBoolean());
        Assert.Equal(issuedTo.ClientId, answer.GetProperty("client_id").GetString());
        Assert.Equal("orders.read", answer.GetProperty("scope").GetString());
        Assert.Equal(new JsonWebToken(token).Id, answer.GetProperty("jti").GetString());
    }

    [Fact]
    public async Task InactiveToken_SaysSoSigned()
    {
        var tenant = factory.Acme;
        var caller = await factory.CreateOAuthClientAsync(tenant);

        using var response = await IntrospectAsync(tenant, caller, "not-a-token", $"application/json;q=0.5, {MediaType}");

        var answer = Introspection(await VerifiedAsync(tenant, caller, response));
        Assert.False(answer.GetProperty("active").GetBoolean());
        Assert.Single(answer.EnumerateObject());
    }

    [Fact]
    public async Task WrongSecret_StaysAPlainJsonError()
    {
        var tenant = factory.Acme;
        var caller = await factory.CreateOAuthClientAsync(tenant);

        using var response = await IntrospectAsync(tenant, caller, "whatever", MediaType, secret: "wrong");

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/token-introspection+jwt;q=0")]
    [InlineData("application/json, application/token-introspection+jwt;q=0.1")]
    public async Task WithoutAskingForAJwt_TheAnswerIsJson(string accept)
    {
        var tenant = factory.Acme;
        var caller = await factory.CreateOAuthClientAsync(tenant);
        var token = await factory.AccessTokenAsync(tenant, caller);

        using var response = await IntrospectAsync(tenant, caller, token, accept);

        Assert.True((await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("active").GetBoolean());
    }

    [Fact]
    public async Task Discovery_NamesTheSigningAlgorithm()
    {
        using var http = factory.CreateClient();

        var metadata = JsonDocument.Parse(await http.GetStringAsync(factory.Acme.Issuer + "/.well-known/openid-configuration")).RootElement;

        Assert.Equal(["RS256", "PS256"], metadata.GetProperty("introspection_signing_alg_values_supported").EnumerateArray().Select(a => a.GetString()));
    }
}
