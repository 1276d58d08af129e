extern alias TokenService;

using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text.Json;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Keys;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using StackExchange.Redis;

namespace LumoAuth.Token.Tests;

/// <summary>RFC 7662 introspection and RFC 7009 revocation, with the Redis deny-list for stateless access tokens.</summary>
public sealed class IntrospectionRevocationTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    private Task<HttpResponseMessage> IntrospectAsync(TestTenant tenant, CreatedClient caller, string token, string? secret = null) =>
        factory.PostFormAsync(tenant, "oauth/introspect", new() { ["token"] = token }, HttpAssert.Basic(caller.ClientId, secret ?? caller.Secret!));

    private Task<HttpResponseMessage> RevokeAsync(TestTenant tenant, CreatedClient caller, string token) =>
        factory.PostFormAsync(tenant, "oauth/revoke", new() { ["token"] = token, ["token_type_hint"] = "access_token" }, HttpAssert.Basic(caller.ClientId, caller.Secret!));

    private static async Task<bool> IsActiveAsync(HttpResponseMessage response)
    {
        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        var active = json.GetProperty("active").GetBoolean();
        if (!active)
        {
            // RFC 7662 §2.2: about a token that is not active, the answer says nothing else.
            Assert.Single(json.EnumerateObject());
        }

        return active;
    }

    [Fact]
    public async Task Introspect_ActiveToken_ReturnsItsMetadata()
    {
        var tenant = factory.Acme;
        var client = await factory.CreateOAuthClientAsync(tenant);
        var token = await factory.AccessTokenAsync(tenant, client, "orders.read");

        using var response = await IntrospectAsync(tenant, client, token);

        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        Assert.True(json.GetProperty("active").GetBoolean());
        Assert.Equal(client.ClientId, json.GetProperty("client_id").GetString());
        Assert.Equal(client.ClientId, json.GetProperty("sub").GetString());
        Assert.Equal("orders.read", json.GetProperty("scope").GetString());
        Assert.Equal(tenant.Issuer, json.GetProperty("iss").GetString());
        Assert.Equal(new JsonWebToken(token).Id, json.GetProperty("jti").GetString());
        Assert.True(json.GetProperty("exp").GetInt64() > DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.Equal("Bearer", json.GetProperty("token_type").GetString());
        Assert.InRange(json.GetProperty("iat").GetInt64(), DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeSeconds());
        Assert.Equal(json.GetProperty("iat").GetInt64(), json.GetProperty("nbf").GetInt64());
        // A client-credentials token has no resource owner, hence no username.
        Assert.False(json.TryGetProperty("username", out _));
        var audience = json.GetProperty("aud");
        Assert.Contains(tenant.Issuer, audience.ValueKind == JsonValueKind.Array ? audience.EnumerateArray().Select(a => a.GetString()) : [audience.GetString()]);
        // RFC 7662 §2.2: the answer is about a credential, so it must not be cached.
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString() ?? string.Empty, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Introspect_ByAnotherConfidentialClientOfTheTenant_IsAllowed()
    {
        var tenant = factory.Acme;
        var issuedTo = await factory.CreateOAuthClientAsync(tenant);
        var resourceServer = await factory.CreateOAuthClientAsync(tenant, new { name = "orders api" });
        var token = await factory.AccessTokenAsync(tenant, issuedTo);

        using var response = await IntrospectAsync(tenant, resourceServer, token);

        Assert.True(await IsActiveAsync(response));
    }

    [Fact]
    public async Task Introspect_WithTheClientsSecretInTheForm_IsAllowed()
    {
        var tenant = factory.Acme;
        var client = await factory.CreateOAuthClientAsync(tenant);
        var token = await factory.AccessTokenAsync(tenant, client);

        using var response = await factory.PostFormAsync(tenant, "oauth/introspect", new()
        {
            ["token"] = token, ["client_id"] = client.ClientId, ["client_secret"] = client.Secret!,
        });

        Assert.True(await IsActiveAsync(response));
    }

    [Fact]
    public async Task Introspect_OtherTenantsToken_IsInactive()
    {
        var acmeClient = await factory.CreateOAuthClientAsync(factory.Acme);
        var globexClient = await factory.CreateOAuthClientAsync(factory.Globex);
        var acmeToken = await factory.AccessTokenAsync(factory.Acme, acmeClient);

        using var response = await IntrospectAsync(factory.Globex, globexClient, acmeToken);

        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        Assert.False(json.GetProperty("active").GetBoolean());
        Assert.Single(json.EnumerateObject());
    }

    [Theory]
    [InlineData("not-a-token")]
    [InlineData("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.")]
    [InlineData("a.b.c")]
    public async Task Introspect_MalformedToken_IsInactive(string token)
    {
        var client = await factory.CreateOAuthClientAsync(factory.Acme);

        using var response = await IntrospectAsync(factory.Acme, client, token);

        Assert.False(await IsActiveAsync(response));
    }

    [Fact]
    public async Task Introspect_ExpiredToken_IsInactive()
    {
        var tenant = factory.Acme;
        var client = await factory.CreateOAuthClientAsync(tenant);
        var keys = await factory.Services.GetRequiredService<TenantKeyStore>().GetAsync(tenant.Info.Id, CancellationToken.None);
        // A token the tenant's own key signed, well-formed in every way but expired an hour ago.
        var expired = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = tenant.Issuer,
            Audience = tenant.Issuer,
            TokenType = "at+jwt",
            Subject = new ClaimsIdentity([new Claim("sub", client.ClientId), new Claim("client_id", client.ClientId), new Claim("jti", Guid.NewGuid().ToString())]),
            IssuedAt = DateTime.UtcNow.AddHours(-2),
            NotBefore = DateTime.UtcNow.AddHours(-2),
            Expires = DateTime.UtcNow.AddHours(-1),
            SigningCredentials = keys.Signing[0],
        });

        using var response = await IntrospectAsync(tenant, client, expired);

        Assert.False(await IsActiveAsync(response));
    }

    [Fact]
    public async Task Introspect_WrongSecret_ReturnsInvalidClient()
    {
        var client = await factory.CreateOAuthClientAsync(factory.Acme);
        var token = await factory.AccessTokenAsync(factory.Acme, client);

        using var response = await IntrospectAsync(factory.Acme, client, token, secret: "cs_wrong");

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task Introspect_WithoutClientAuthentication_ReturnsInvalidClient()
    {
        var client = await factory.CreateOAuthClientAsync(factory.Acme);
        var token = await factory.AccessTokenAsync(factory.Acme, client);

        using var response = await factory.PostFormAsync(factory.Acme, "oauth/introspect", new() { ["token"] = token });

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task Introspect_TokenOfDeletedClient_IsInactive()
    {
        var tenant = factory.Acme;
        var client = await factory.CreateOAuthClientAsync(tenant);
        var resourceServer = await factory.CreateOAuthClientAsync(tenant, new { name = "api" });
        var token = await factory.AccessTokenAsync(tenant, client);
        using var admin = factory.AdminClient(tenant);
        using var deleted = await admin.DeleteAsync($"/t/{tenant.Slug}/api/v1/admin/clients/{client.ClientId}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        using var response = await IntrospectAsync(tenant, resourceServer, token);

        Assert.False(await IsActiveAsync(response));
    }

    [Fact]
    public async Task Revoke_AccessToken_IntrospectionAndBearerValidationRefuseIt()
    {
        var tenant = factory.Acme;
        var client = await factory.CreateOAuthClientAsync(tenant, new { name = "ops", allowedScopes = new[] { "admin.read" } });
        var token = await factory.AccessTokenAsync(tenant, client, "admin.read");
        using var api = factory.CreateClient();
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using (var before = await api.GetAsync($"/t/{tenant.Slug}/api/v1/admin/clients"))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        using var revoked = await RevokeAsync(tenant, client, token);

        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        Assert.Equal("{}", (await revoked.Content.ReadAsStringAsync()).Trim());
        Assert.Contains("no-store", revoked.Headers.CacheControl?.ToString() ?? string.Empty, StringComparison.Ordinal);
        using var introspected = await IntrospectAsync(tenant, client, token);
        Assert.False(await IsActiveAsync(introspected));
        // Revoking it again is not an error (RFC 7009 §2.2).
        using var again = await RevokeAsync(tenant, client, token);
        await AssertRevocationAnswerAsync(again);
        using var after = await api.GetAsync($"/t/{tenant.Slug}/api/v1/admin/clients");
        await HttpAssert.EnvelopeAsync(after, HttpStatusCode.Unauthorized, "invalid_token");
        // The entry lives no longer than the token could be accepted.
        var redis = factory.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var ttl = await redis.KeyTimeToLiveAsync(RedisAccessTokenDenyList.KeyFor(tenant.Info.Id, new JsonWebToken(token).Id));
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value.TotalSeconds, 1, 3600 + 60);
        // Audited (token_revoked, webhook token.revoked) with the client as actor, through the outbox; the second request
        // revoked nothing (the token was no longer valid), so once.
        var jti = new JsonWebToken(token).Id;
        var audited = Assert.Single(await RevokedEventsAsync(tenant, jti));
        Assert.Equal((tenant.Info.Id, client.ClientId, "access_token", client.ClientId), (audited.TenantId, audited.ClientId, audited.TokenType, audited.Actor!.Id));
    }

    /// <summary>The <c>TokenRevoked</c> events the revocations of this token wrote to the outbox (this factory's relay is off).</summary>
    private Task<List<LumoAuth.Contracts.Clients.TokenRevoked>> RevokedEventsAsync(TestTenant tenant, string tokenId) =>
        factory.WithDbAsync(async db => (await db.Set<OutboxMessage>()
                .Where(m => m.MessageType == ContractTypes.NameOf(typeof(LumoAuth.Contracts.Clients.TokenRevoked)) && m.TenantId == tenant.Info.Id)
                .Select(m => m.Body).ToListAsync())
            .Select(b => JsonSerializer.Deserialize<LumoAuth.Contracts.Clients.TokenRevoked>(b, MessagingJson.Options)!)
            .Where(e => e.TokenId == tokenId).ToList());

    [Fact]
    public async Task Revoke_AnotherClientsToken_Answers200_ButTheTokenStaysActive()
    {
        var tenant = factory.Acme;
        var owner = await factory.CreateOAuthClientAsync(tenant);
        var stranger = await factory.CreateOAuthClientAsync(tenant, new { name = "stranger" });
        var token = await factory.AccessTokenAsync(tenant, owner);

        using var revoked = await RevokeAsync(tenant, stranger, token);

        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        using var introspected = await IntrospectAsync(tenant, owner, token);
        Assert.True(await IsActiveAsync(introspected));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.")]
    public async Task Revoke_UnknownOrMalformedToken_Answers200(string token)
    {
        var client = await factory.CreateOAuthClientAsync(factory.Acme);

        using var revoked = await RevokeAsync(factory.Acme, client, token);

        await AssertRevocationAnswerAsync(revoked);
    }

    /// <summary>RFC 7009 §2.2: 200 whether or not there was anything to revoke, the same empty object, never cached.</summary>
    private static async Task AssertRevocationAnswerAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("{}", (await response.Content.ReadAsStringAsync()).Trim());
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString() ?? string.Empty, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoke_OtherTenantsToken_LeavesItActive()
    {
        var acmeClient = await factory.CreateOAuthClientAsync(factory.Acme);
        var globexClient = await factory.CreateOAuthClientAsync(factory.Globex);
        var acmeToken = await factory.AccessTokenAsync(factory.Acme, acmeClient);

        using var revoked = await RevokeAsync(factory.Globex, globexClient, acmeToken);

        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        using var introspected = await IntrospectAsync(factory.Acme, acmeClient, acmeToken);
        Assert.True(await IsActiveAsync(introspected));
    }

    [Fact]
    public async Task Revoke_WithoutClientAuthentication_ReturnsInvalidClient()
    {
        var client = await factory.CreateOAuthClientAsync(factory.Acme);
        var token = await factory.AccessTokenAsync(factory.Acme, client);

        using var response = await factory.PostFormAsync(factory.Acme, "oauth/revoke", new() { ["token"] = token });

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task PasswordGrant_IsNotOffered_UnsupportedGrantType()
    {
        var client = await factory.CreateOAuthClientAsync(factory.Acme);

        using var response = await factory.PostFormAsync(factory.Acme, "oauth/token", new()
        {
            ["grant_type"] = "password",
            ["username"] = "alice@example.com",
            ["password"] = "correct horse",
        }, HttpAssert.Basic(client.ClientId, client.Secret!));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "unsupported_grant_type");
    }

    [Fact]
    public async Task Discovery_AdvertisesIntrospectionAndRevocation()
    {
        using var http = factory.CreateClient();

        var json = JsonDocument.Parse(await http.GetStringAsync($"{factory.Acme.Issuer}/.well-known/openid-configuration")).RootElement;

        Assert.Equal($"{factory.Acme.Issuer}/oauth/introspect", json.GetProperty("introspection_endpoint").GetString());
        Assert.Equal($"{factory.Acme.Issuer}/oauth/revoke", json.GetProperty("revocation_endpoint").GetString());
        Assert.DoesNotContain("password", json.GetProperty("grant_types_supported").EnumerateArray().Select(e => e.GetString()));
    }
}
