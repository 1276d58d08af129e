using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Duende.IdentityModel;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// A client held to the authentication method it registered (<c>tokenEndpointAuthMethod</c>, RFC 7591 §2): the other
/// methods it could use authenticate nothing, at the token, introspection and revocation endpoints alike.
/// </summary>
public sealed class ClientAuthMethodTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    private static readonly RsaSecurityKey SigningKey = new(RSA.Create(2048)) { KeyId = "held-key" };

    [Fact]
    public async Task AClientHeldToPrivateKeyJwt_IsRefusedItsSecret_UntilTheRegistrationIsCleared()
    {
        var tenant = factory.AddTenant("held");
        var client = await factory.CreateOAuthClientAsync(tenant, new
        {
            name = "keys only", allowedScopes = new[] { "orders.read" }, jwks = ClientAssertions.PublicJwks(SigningKey), tokenEndpointAuthMethod = "private_key_jwt",
        });
        Assert.Equal("private_key_jwt", client.Data.GetProperty("tokenEndpointAuthMethod").GetString());
        Assert.NotNull(client.Secret);

        using (var basic = await factory.ClientCredentialsAsync(tenant, client))
        {
            var error = await HttpAssert.OAuthErrorAsync(basic, HttpStatusCode.Unauthorized, "invalid_client");
            Assert.Contains("private_key_jwt", error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
        }

        using (var posted = await factory.PostFormAsync(tenant, "oauth/token", new()
               {
                   ["grant_type"] = "client_credentials", ["client_id"] = client.ClientId, ["client_secret"] = client.Secret!,
               }))
        {
            await HttpAssert.OAuthErrorAsync(posted, HttpStatusCode.Unauthorized, "invalid_client");
        }

        using (var introspection = await factory.PostFormAsync(tenant, "oauth/introspect", new() { ["token"] = "anything" },
                   HttpAssert.Basic(client.ClientId, client.Secret!)))
        {
            await HttpAssert.OAuthErrorAsync(introspection, HttpStatusCode.Unauthorized, "invalid_client");
        }

        using (var signed = await factory.PostFormAsync(tenant, "oauth/token", new()
               {
                   ["grant_type"] = "client_credentials", ["client_id"] = client.ClientId,
                   ["client_assertion_type"] = OidcConstants.ClientAssertionTypes.JwtBearer,
                   ["client_assertion"] = ClientAssertions.Create(client.ClientId, tenant.Issuer, SigningKey),
               }))
        {
            await HttpAssert.JsonAsync(signed, HttpStatusCode.OK);
        }

        // Cleared (an empty value), the client may use its secret again.
        using var admin = factory.AdminClient(tenant);
        using (var cleared = await admin.PutAsJsonAsync($"/t/{tenant.Slug}/api/v1/admin/clients/{client.ClientId}", new { tokenEndpointAuthMethod = "" }))
        {
            var data = (await HttpAssert.JsonAsync(cleared, HttpStatusCode.OK)).GetProperty("data");
            Assert.Equal(System.Text.Json.JsonValueKind.Null, data.GetProperty("tokenEndpointAuthMethod").ValueKind);
        }

        await ApiAssert.EventuallyAsync(async () =>
        {
            using var again = await factory.ClientCredentialsAsync(tenant, client);
            return again.StatusCode == HttpStatusCode.OK ? "ok" : null;
        });
    }

    [Fact]
    public async Task AClientHeldToAPostedSecret_IsRefusedBasic_AndTheFastPathAgrees()
    {
        var tenant = factory.AddTenant("post");
        var client = await factory.CreateOAuthClientAsync(tenant, new { name = "posts", allowedScopes = new[] { "orders.read" }, tokenEndpointAuthMethod = "client_secret_post" });

        using (var basic = await factory.ClientCredentialsAsync(tenant, client, "orders.read"))
        {
            var error = await HttpAssert.OAuthErrorAsync(basic, HttpStatusCode.Unauthorized, "invalid_client");
            Assert.Contains("client_secret_post", error.GetProperty("error_description").GetString(), StringComparison.Ordinal);
        }

        using var posted = await factory.PostFormAsync(tenant, "oauth/token", new()
        {
            ["grant_type"] = "client_credentials", ["client_id"] = client.ClientId, ["client_secret"] = client.Secret!, ["scope"] = "orders.read",
        });
        await HttpAssert.JsonAsync(posted, HttpStatusCode.OK);

        using var revocation = await factory.PostFormAsync(tenant, "oauth/revoke", new() { ["token"] = "anything" }, HttpAssert.Basic(client.ClientId, client.Secret!));
        await HttpAssert.OAuthErrorAsync(revocation, HttpStatusCode.Unauthorized, "invalid_client");
    }

    public static TheoryData<string, object> Refusals => new()
    {
        { "an unknown method", new { name = "x", tokenEndpointAuthMethod = "client_secret_jwt" } },
        { "keys without a key set", new { name = "x", tokenEndpointAuthMethod = "private_key_jwt" } },
        { "a certificate without its subject", new { name = "x", tokenEndpointAuthMethod = "tls_client_auth" } },
        { "a confidential client that does not authenticate", new { name = "x", tokenEndpointAuthMethod = "none" } },
        {
            "a public client that authenticates",
            new { name = "x", applicationType = "spa", redirectUris = new[] { "https://app.example.com/cb" }, tokenEndpointAuthMethod = "client_secret_basic" }
        },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task ARegistrationTheClientCannotHonour_IsAValidationError(string why, object body)
    {
        using var admin = factory.AdminClient(factory.Acme);
        using var response = await admin.PostAsJsonAsync($"/t/{factory.Acme.Slug}/api/v1/admin/clients", body);
        var error = await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(error.GetProperty("details").TryGetProperty("tokenEndpointAuthMethod", out _), why);
    }

    [Fact]
    public async Task APublicClientSayingNone_IsTakenAsNoRegisteredMethod()
    {
        var client = await factory.CreateOAuthClientAsync(factory.Acme, new
        {
            name = "spa", applicationType = "spa", redirectUris = new[] { "https://app.example.com/cb" }, tokenEndpointAuthMethod = "none",
        });
        Assert.Equal(System.Text.Json.JsonValueKind.Null, client.Data.GetProperty("tokenEndpointAuthMethod").ValueKind);
    }
}
