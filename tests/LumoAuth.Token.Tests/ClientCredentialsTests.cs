using System.Net;
using System.Text;
using System.Text.Json;
using Duende.IdentityModel.Client;
using LumoAuth.Contracts.Clients;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Protocol;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;

namespace LumoAuth.Token.Tests;

public sealed class ClientCredentialsTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    private static DiscoveryDocumentRequest Discovery(TestTenant tenant) => new()
    {
        Address = tenant.Issuer,
        Policy = new DiscoveryPolicy { RequireHttps = false, ValidateIssuerName = true, ValidateEndpoints = true },
    };

    [Fact]
    public async Task ClientCredentials_BasicAuth_IssuesAtJwtSignedByTheTenantsKey()
    {
        var tenant = factory.Acme;
        var oauthClient = await factory.CreateOAuthClientAsync(tenant);
        using var http = factory.CreateClient();

        var disco = await http.GetDiscoveryDocumentAsync(Discovery(tenant));
        Assert.False(disco.IsError, disco.Error);
        Assert.Equal(tenant.Issuer, disco.Issuer);
        Assert.Equal(tenant.TokenEndpoint, disco.TokenEndpoint);
        Assert.Contains("client_credentials", disco.GrantTypesSupported);

        var response = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = disco.TokenEndpoint,
            ClientId = oauthClient.ClientId,
            ClientSecret = oauthClient.Secret!,
            ClientCredentialStyle = ClientCredentialStyle.AuthorizationHeader,
            Scope = "orders.read",
        });

        Assert.False(response.IsError, response.Error + " " + response.ErrorDescription);
        Assert.Equal("Bearer", response.TokenType);
        Assert.InRange(response.ExpiresIn, 60, 3600);
        Assert.Null(response.RefreshToken);

        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(response.AccessToken, new TokenValidationParameters
        {
            ValidIssuer = tenant.Issuer,
            ValidAudience = tenant.Issuer,
            IssuerSigningKeys = disco.KeySet!.Keys.Select(k => (SecurityKey)new JsonWebKey(JsonSerializer.Serialize(k))).ToList(),
            ValidTypes = ["at+jwt"],
        });
        Assert.True(validation.IsValid, validation.Exception?.ToString());

        var jwt = new JsonWebToken(response.AccessToken);
        Assert.Equal("at+jwt", jwt.Typ);
        Assert.Equal("RS256", jwt.Alg);
        Assert.Contains(jwt.Kid, disco.KeySet.Keys.Select(k => k.Kid));
        Assert.Equal(tenant.Issuer, jwt.Issuer);
        Assert.Equal(oauthClient.ClientId, jwt.Subject);
        Assert.Equal(oauthClient.ClientId, jwt.GetClaim("client_id").Value);
        Assert.Equal([tenant.Issuer], jwt.Audiences);
        Assert.Equal("orders.read", jwt.GetClaim("scope").Value);
        Assert.Equal(tenant.Info.Id.ToString(), jwt.GetClaim("tenant_id").Value);
        Assert.Equal(tenant.Info.Slug, jwt.GetClaim("tenant").Value);
        Assert.False(string.IsNullOrEmpty(jwt.Id));
        Assert.True(jwt.TryGetPayloadValue<long>("iat", out _));
        Assert.True(jwt.ValidTo > DateTime.UtcNow);
    }

    [Fact]
    public async Task ClientCredentials_PostBodyWithoutScope_GrantsAllAllowedScopes()
    {
        var tenant = factory.Acme;
        var oauthClient = await factory.CreateOAuthClientAsync(tenant);
        using var http = factory.CreateClient();

        var response = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = tenant.TokenEndpoint,
            ClientId = oauthClient.ClientId,
            ClientSecret = oauthClient.Secret!,
            ClientCredentialStyle = ClientCredentialStyle.PostBody,
        });

        Assert.False(response.IsError, response.Error + " " + response.ErrorDescription);
        var scopes = new JsonWebToken(response.AccessToken).GetClaim("scope").Value.Split(' ');
        Assert.Equal(["orders.read", "orders.write"], scopes.Order());
    }

    [Fact]
    public async Task ClientCredentials_NotAllowedScope_ReturnsInvalidScope()
    {
        var oauthClient = await factory.CreateOAuthClientAsync(factory.Acme);

        using var response = await PostTokenAsync(factory.Acme, new()
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = oauthClient.ClientId,
            ["client_secret"] = oauthClient.Secret!,
            ["scope"] = "orders.read admin",
        });

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_scope");
    }

    [Fact]
    public async Task ClientCredentials_WrongSecret_ReturnsInvalidClient()
    {
        var oauthClient = await factory.CreateOAuthClientAsync(factory.Acme);
        using var http = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, factory.Acme.TokenEndpoint)
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }),
        };
        request.Headers.Authorization = HttpAssert.Basic(oauthClient.ClientId, oauthClient.Secret + "x");

        using var response = await http.SendAsync(request);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task ClientCredentials_UnknownClient_ReturnsInvalidClient()
    {
        using var response = await PostTokenAsync(factory.Acme, new()
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = Guid.NewGuid().ToString(),
            ["client_secret"] = "cs_whatever",
        });

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task Token_MissingGrantType_ReturnsInvalidRequest()
    {
        var oauthClient = await factory.CreateOAuthClientAsync(factory.Acme);

        using var response = await PostTokenAsync(factory.Acme, new()
        {
            ["client_id"] = oauthClient.ClientId,
            ["client_secret"] = oauthClient.Secret!,
        });

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Token_PasswordGrant_ReturnsUnsupportedGrantType()
    {
        var oauthClient = await factory.CreateOAuthClientAsync(factory.Acme);

        using var response = await PostTokenAsync(factory.Acme, new()
        {
            ["grant_type"] = "password",
            ["username"] = "alice",
            ["password"] = "secret",
            ["client_id"] = oauthClient.ClientId,
            ["client_secret"] = oauthClient.Secret!,
        });

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "unsupported_grant_type");
    }

    [Fact]
    public async Task ClientCredentials_ClientWithoutTheGrant_ReturnsUnauthorizedClient()
    {
        var oauthClient = await factory.CreateOAuthClientAsync(factory.Acme, new
        {
            name = "web app",
            grantTypes = new[] { "authorization_code" },
            redirectUris = new[] { "https://app.example.com/cb" },
        });

        using var response = await PostTokenAsync(factory.Acme, new()
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = oauthClient.ClientId,
            ["client_secret"] = oauthClient.Secret!,
        });

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "unauthorized_client");
    }

    [Theory]
    [InlineData("application/json", """{"grant_type":"client_credentials"}""")]
    [InlineData("application/x-www-form-urlencoded", "grant_type=client_credentials&client_id=%zz&=&&%")]
    [InlineData("text/plain", "grant_type=client_credentials")]
    public async Task Token_MalformedBody_ReturnsInvalidRequest(string contentType, string body)
    {
        using var http = factory.CreateClient();
        using var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);

        using var response = await http.PostAsync(factory.Acme.TokenEndpoint, content);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task ClientCredentials_OtherTenantsClient_ReturnsInvalidClient()
    {
        var acmeClient = await factory.CreateOAuthClientAsync(factory.Acme);

        using var response = await PostTokenAsync(factory.Globex, new()
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = acmeClient.ClientId,
            ["client_secret"] = acmeClient.Secret!,
        });

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task ClientCredentials_SameClientIdInTwoTenants_EachSecretWorksOnlyInItsTenant()
    {
        var acmeClient = await factory.CreateOAuthClientAsync(factory.Acme);
        var globexSecret = ClientSecrets.Generate();
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TenantContext>().Set(factory.Globex.Info);
            var manager = scope.ServiceProvider.GetRequiredService<TokenApplicationManager>();
            var descriptor = new OpenIddictApplicationDescriptor
            {
                ClientId = acmeClient.ClientId,
                ClientType = OpenIddictConstants.ClientTypes.Confidential,
                DisplayName = "globex twin",
            };
            descriptor.Permissions.UnionWith(
            [
                OpenIddictConstants.Permissions.Endpoints.Token,
                OpenIddictConstants.Permissions.GrantTypes.ClientCredentials,
            ]);
            var application = new TokenApplication { TenantId = factory.Globex.Info.Id, CreatedAt = DateTimeOffset.UtcNow };
            await manager.PopulateAsync(application, descriptor);
            await manager.CreateAsync(application, globexSecret);
        }

        async Task<HttpStatusCode> StatusAsync(TestTenant tenant, string secret)
        {
            using var response = await PostTokenAsync(tenant, new()
            {
                ["grant_type"] = "client_credentials",
                ["client_id"] = acmeClient.ClientId,
                ["client_secret"] = secret,
            });
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(factory.Acme, acmeClient.Secret!));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(factory.Globex, globexSecret));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(factory.Globex, acmeClient.Secret!));
        Assert.Equal(HttpStatusCode.Unauthorized, await StatusAsync(factory.Acme, globexSecret));
    }

    [Fact]
    public async Task ClientCredentials_TokenIsAcceptedOnlyByItsTenantsApi()
    {
        var tenant = factory.AddTenant("bearer");
        var oauthClient = await factory.CreateOAuthClientAsync(tenant, new { name = "automation", allowedScopes = new[] { "admin:read" } });
        var token = await TokenAsync(tenant, oauthClient);
        using var http = factory.CreateClient();
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);

        using var own = await http.GetAsync($"/t/{tenant.Slug}/api/v1/admin/clients");
        using var other = await http.GetAsync($"/t/{factory.Globex.Slug}/api/v1/admin/clients");

        var json = await HttpAssert.JsonAsync(own, HttpStatusCode.OK);
        Assert.Equal(oauthClient.ClientId, json.GetProperty("data")[0].GetProperty("clientId").GetString());
        await HttpAssert.EnvelopeAsync(other, HttpStatusCode.Unauthorized, "invalid_token");
    }

    [Fact]
    public async Task ClientCredentials_WritesNoTokenRowAndRecordsIssuance()
    {
        var tenant = factory.AddTenant("audit");
        var oauthClient = await factory.CreateOAuthClientAsync(tenant);

        var token = await TokenAsync(tenant, oauthClient);
        var jti = new JsonWebToken(token).Id;

        Assert.Equal(0, await factory.WithDbAsync(db => db.Set<TokenToken>().IgnoreQueryFilters().CountAsync()));
        Assert.Equal(0, await factory.WithDbAsync(db => db.Set<TokenAuthorization>().IgnoreQueryFilters().CountAsync()));

        var (message, body) = await factory.AccessTokenIssuedAsync(tenant, jti);
        Assert.Equal(oauthClient.ClientId, body.GetProperty("clientId").GetString());
        Assert.Equal("client_credentials", body.GetProperty("grantType").GetString());
        Assert.DoesNotContain(token, message, StringComparison.Ordinal);
        // Each item carries only what differs per token: no tenant or actor (the batch's and the client's), no nulls.
        var properties = body.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Superset(new HashSet<string> { "clientId", "correlationId", "grantType", "occurredAt", "scopes", "tokenId" }, properties.ToHashSet());
        Assert.DoesNotContain("tenantId", properties);
        Assert.DoesNotContain("actor", properties);
        Assert.DoesNotContain("subject", properties);
    }

    private async Task<string> TokenAsync(TestTenant tenant, CreatedClient oauthClient)
    {
        using var http = factory.CreateClient();
        var response = await http.RequestClientCredentialsTokenAsync(new ClientCredentialsTokenRequest
        {
            Address = tenant.TokenEndpoint,
            ClientId = oauthClient.ClientId,
            ClientSecret = oauthClient.Secret!,
        });
        Assert.False(response.IsError, response.Error + " " + response.ErrorDescription);
        return response.AccessToken!;
    }

    private async Task<HttpResponseMessage> PostTokenAsync(TestTenant tenant, Dictionary<string, string> form)
    {
        using var http = factory.CreateClient();
        using var content = new FormUrlEncodedContent(form);
        return await http.PostAsync(tenant.TokenEndpoint, content);
    }
}
