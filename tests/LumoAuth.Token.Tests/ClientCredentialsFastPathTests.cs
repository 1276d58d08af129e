using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CounterByTag = LumoAuth.Testing.CounterByTag;
using LumoAuth.Token.Protocol;
using LumoAuth.Token.Tests.Support;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The token endpoint answers plain client-credentials requests on a direct path (ClientCredentialsFastPath) and
/// everything else through OpenIddict. These tests prove which path ran (by the issuance metric, so the class runs
/// alone), that both give the same response and token, and that refusals still come from OpenIddict.
/// </summary>
[Collection(FastPathCollection.Name)]
public sealed class ClientCredentialsFastPathTests(TokenFactory factory) : IClassFixture<TokenFactory>, IDisposable
{
    // Unknown to OpenIddict and ignored by it, but not a field the direct path serves: forces the full pipeline.
    private const string PipelineOnlyField = "x_pipeline";

    private readonly CounterByTag _issued = new("lumoauth.token.access_tokens_issued", "path");

    public void Dispose() => _issued.Dispose();

    public static TheoryData<string?, bool, bool> Shapes() => new()
    {
        { null, true, true },
        { null, false, true },
        { "orders.read", true, true },
        { "orders.write orders.read", false, true },
        { null, true, false },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task DirectPath_IssuesWhatTheOpenIddictPipelineIssues(string? scope, bool basicAuth, bool clientHasScopes)
    {
        var tenant = factory.AddTenant("fast");
        var client = await factory.CreateOAuthClientAsync(tenant, new
        {
            name = "m2m", allowedScopes = clientHasScopes ? new[] { "orders.read", "orders.write" } : [], accessTokenLifetime = 900,
        });

        var (pipelineResponse, pipelineBody) = await RequestAsync(tenant, client, scope, basicAuth, forcePipeline: true);
        Assert.Equal((0, 1), Issued());
        var (directResponse, directBody) = await RequestAsync(tenant, client, scope, basicAuth, forcePipeline: false);
        Assert.Equal((1, 0), Issued());

        // The response: same fields and values (but the token), same caching headers.
        Assert.Equal(Names(pipelineBody), Names(directBody));
        Assert.Equal(pipelineBody.GetProperty("token_type").GetString(), directBody.GetProperty("token_type").GetString());
        Assert.InRange(directBody.GetProperty("expires_in").GetInt32() - pipelineBody.GetProperty("expires_in").GetInt32(), 0, 1);
        Assert.Equal(Scope(pipelineBody), Scope(directBody));
        foreach (var header in new[] { "Cache-Control", "Pragma" })
        {
            Assert.Equal(pipelineResponse.Headers.GetValues(header), directResponse.Headers.GetValues(header));
        }

        Assert.Equal(pipelineResponse.Content.Headers.ContentType?.MediaType, directResponse.Content.Headers.ContentType?.MediaType);
        Assert.Equal(pipelineResponse.Content.Headers.Expires, directResponse.Content.Headers.Expires);

        // The token: same header, same claims in the same order, same values but the token's own id and times.
        var pipelineToken = pipelineBody.GetProperty("access_token").GetString()!;
        var directToken = directBody.GetProperty("access_token").GetString()!;
        Assert.Equal(Part(pipelineToken, 0).ToString(), Part(directToken, 0).ToString());
        var pipelineClaims = Part(pipelineToken, 1);
        var directClaims = Part(directToken, 1);
        Assert.Equal(Names(pipelineClaims), Names(directClaims));
        foreach (var claim in Names(directClaims).Except(["jti", "iat", "exp"]))
        {
            Assert.Equal(pipelineClaims.GetProperty(claim).ToString(), directClaims.GetProperty(claim).ToString());
        }

        Assert.NotEqual(pipelineClaims.GetProperty("jti").GetString(), directClaims.GetProperty("jti").GetString());
        // Both ids are random UUIDs (version 4), whichever generator made them.
        Assert.All(new[] { pipelineClaims, directClaims }, claims =>
            Assert.Equal(4, Guid.Parse(claims.GetProperty("jti").GetString()!).Version));
        Assert.Equal(900, directClaims.GetProperty("exp").GetInt64() - directClaims.GetProperty("iat").GetInt64());

        // And OpenIddict's introspection sees the same token.
        var pipelineIntrospection = await IntrospectAsync(tenant, client, pipelineToken);
        var directIntrospection = await IntrospectAsync(tenant, client, directToken);
        Assert.True(directIntrospection.GetProperty("active").GetBoolean());
        Assert.Equal(Names(pipelineIntrospection), Names(directIntrospection));
        foreach (var field in Names(directIntrospection).Except(["jti", "iat", "exp", "nbf"]))
        {
            Assert.Equal(pipelineIntrospection.GetProperty(field).ToString(), directIntrospection.GetProperty(field).ToString());
        }
    }

    [Theory]
    [InlineData("ES256")]
    [InlineData("PS256")]
    public async Task DirectPath_SignsWithTheTenantsActiveKey(string algorithm)
    {
        var tenant = factory.AddTenant("fastkey");
        var client = await factory.CreateOAuthClientAsync(tenant);
        using (var admin = factory.AdminClient(tenant))
        using (var rotated = await admin.PostAsJsonAsync($"/t/{tenant.Slug}/api/v1/admin/signing-keys/rotate", new { algorithm, gracePeriodHours = 1 }))
        {
            Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        }

        var (_, pipelineBody) = await RequestAsync(tenant, client, null, basicAuth: true, forcePipeline: true);
        var (_, directBody) = await RequestAsync(tenant, client, null, basicAuth: true, forcePipeline: false);
        Assert.Equal((1, 1), Issued());

        var pipelineToken = pipelineBody.GetProperty("access_token").GetString()!;
        var directToken = directBody.GetProperty("access_token").GetString()!;
        Assert.Equal(Part(pipelineToken, 0).ToString(), Part(directToken, 0).ToString());
        Assert.Equal(algorithm, Part(directToken, 0).GetProperty("alg").GetString());
        using var http = factory.CreateClient();
        var jwks = new JsonWebKeySet(await http.GetStringAsync($"{tenant.Issuer}/.well-known/jwks.json"));
        var validation = await new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().ValidateTokenAsync(directToken, new TokenValidationParameters
        {
            ValidIssuer = tenant.Issuer,
            ValidAudience = tenant.Issuer,
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidTypes = ["at+jwt"],
        });
        Assert.True(validation.IsValid, validation.Exception?.ToString());
    }

    [Fact]
    public async Task DirectPath_RecordsTheIssuanceLikeThePipeline()
    {
        var tenant = factory.AddTenant("fastaudit");
        var client = await factory.CreateOAuthClientAsync(tenant);
        var token = await factory.AccessTokenAsync(tenant, client, "orders.read");
        Assert.Equal((1, 0), Issued());

        var jti = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(token).Id;
        var (_, body) = await factory.AccessTokenIssuedAsync(tenant, jti);
        Assert.Equal(client.ClientId, body.GetProperty("clientId").GetString());
        Assert.Equal("client_credentials", body.GetProperty("grantType").GetString());
        Assert.Equal(["orders.read"], body.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
    }

    /// <summary>
    /// A client allowed <c>openid</c> and <c>offline_access</c> for its users gets neither from the client-credentials grant:
    /// without <c>scope</c> they are left out (on the direct path, as through OpenIddict), and asking for them is
    /// <c>invalid_scope</c> — no ID token about nobody, no refresh token (RFC 6749 §4.4.3).
    /// </summary>
    [Fact]
    public async Task ClientCredentials_NeverIssueAnIdTokenOrRefreshToken()
    {
        var tenant = factory.AddTenant("fastuser");
        var client = await factory.CreateOAuthClientAsync(tenant, new
        {
            name = "web and m2m", applicationType = "web", redirectUris = new[] { "https://app.example.com/callback" },
            grantTypes = new[] { "authorization_code", "refresh_token", "client_credentials" },
            allowedScopes = new[] { "openid", "offline_access", "orders.read" },
        });

        foreach (var (forcePipeline, issued) in new[] { (false, (1, 0)), (true, (0, 1)) })
        {
            var (_, body) = await RequestAsync(tenant, client, scope: null, basicAuth: true, forcePipeline);
            Assert.Equal(issued, Issued());
            Assert.Equal("orders.read", Scope(body));
            Assert.False(body.TryGetProperty("refresh_token", out _));
            Assert.False(body.TryGetProperty("id_token", out _));
            Assert.Equal("orders.read", Part(body.GetProperty("access_token").GetString()!, 1).GetProperty("scope").GetString());

            foreach (var scope in new[] { "openid", "offline_access", "orders.read openid offline_access" })
            {
                var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = scope };
                if (forcePipeline)
                {
                    form[PipelineOnlyField] = "1";
                }

                using var refused = await factory.PostFormAsync(tenant, "oauth/token", form, HttpAssert.Basic(client.ClientId, client.Secret!));
                await HttpAssert.OAuthErrorAsync(refused, HttpStatusCode.BadRequest, "invalid_scope");
                Assert.Equal((0, 0), Issued());
            }
        }
    }

    public static TheoryData<string, HttpStatusCode, string> Refusals() => new()
    {
        { "wrong secret", HttpStatusCode.Unauthorized, "invalid_client" },
        { "scope not held", HttpStatusCode.BadRequest, "invalid_scope" },
        { "credentials twice", HttpStatusCode.BadRequest, "invalid_request" },
        { "deactivated", HttpStatusCode.Unauthorized, "invalid_client" },
        { "secret rotated", HttpStatusCode.Unauthorized, "invalid_client" },
        { "scope withdrawn", HttpStatusCode.BadRequest, "invalid_scope" },
    };

    /// <summary>For a client the direct path serves (from its first request on), refusals still come from OpenIddict.</summary>
    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task DirectPathClient_BadRequests_GetOpenIddictsErrors(string mistake, HttpStatusCode status, string error)
    {
        var tenant = factory.AddTenant("fastbad");
        var client = await factory.CreateOAuthClientAsync(tenant);
        await factory.AccessTokenAsync(tenant, client);
        Assert.Equal((1, 0), Issued());

        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };
        var secret = client.Secret!;
        switch (mistake)
        {
            case "wrong secret":
                secret += "x";
                break;
            case "scope not held":
                form["scope"] = "orders.read admin";
                break;
            case "credentials twice":
                form["client_id"] = client.ClientId;
                form["client_secret"] = client.Secret!;
                break;
            case "deactivated":
                using (var admin = factory.AdminClient(tenant))
                using (var off = await admin.PutAsJsonAsync($"/t/{tenant.Slug}/api/v1/admin/clients/{client.ClientId}", new { isActive = false }))
                {
                    Assert.Equal(HttpStatusCode.OK, off.StatusCode);
                }

                break;
            case "secret rotated":
                using (var admin = factory.AdminClient(tenant))
                using (var rotated = await admin.PostAsync($"/t/{tenant.Slug}/api/v1/admin/clients/{client.ClientId}/rotate-secret", null))
                {
                    Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
                }

                break;
            case "scope withdrawn":
                form["scope"] = "orders.write";
                using (var admin = factory.AdminClient(tenant))
                using (var narrowed = await admin.PutAsJsonAsync($"/t/{tenant.Slug}/api/v1/admin/clients/{client.ClientId}", new { allowedScopes = new[] { "orders.read" } }))
                {
                    Assert.Equal(HttpStatusCode.OK, narrowed.StatusCode);
                }

                break;
        }

        using var response = await factory.PostFormAsync(tenant, "oauth/token", form, HttpAssert.Basic(client.ClientId, secret));

        await HttpAssert.OAuthErrorAsync(response, status, error);
        Assert.Equal((0, 0), Issued());
    }

    private async Task<(HttpResponseMessage Response, JsonElement Body)> RequestAsync(
        TestTenant tenant, CreatedClient client, string? scope, bool basicAuth, bool forcePipeline)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };
        if (scope is not null)
        {
            form["scope"] = scope;
        }

        if (!basicAuth)
        {
            form["client_id"] = client.ClientId;
            form["client_secret"] = client.Secret!;
        }

        if (forcePipeline)
        {
            form[PipelineOnlyField] = "1";
        }

        var response = await factory.PostFormAsync(tenant, "oauth/token", form, basicAuth ? HttpAssert.Basic(client.ClientId, client.Secret!) : null);
        return (response, await HttpAssert.JsonAsync(response, HttpStatusCode.OK));
    }

    private async Task<JsonElement> IntrospectAsync(TestTenant tenant, CreatedClient client, string token)
    {
        using var response = await factory.PostFormAsync(tenant, "oauth/introspect", new() { ["token"] = token }, HttpAssert.Basic(client.ClientId, client.Secret!));
        return await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
    }

    private static string[] Names(JsonElement json) => json.EnumerateObject().Select(p => p.Name).ToArray();

    private static string? Scope(JsonElement body) => body.TryGetProperty("scope", out var scope) ? scope.GetString() : null;

    private static JsonElement Part(string jwt, int index) =>
        JsonDocument.Parse(Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(jwt.Split('.')[index]))).RootElement;

    /// <summary>Issued access tokens (direct path, OpenIddict pipeline) since the last call, from the service's own metric.</summary>
    private (int Direct, int Pipeline) Issued() =>
        ((int)_issued.Take(RecordAccessTokenIssued.DirectPath), (int)_issued.Take(RecordAccessTokenIssued.OpenIddictPath));
}

/// <summary>Runs alone: the issuance metric it reads is process-wide.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FastPathCollection
{
    public const string Name = "client credentials fast path";
}

public sealed class TokenIdsTests
{
    [Fact]
    public void New_GivesDistinctVersion4Uuids()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => TokenIds.New()).ToList();

        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id =>
        {
            var guid = Guid.Parse(id);
            Assert.Equal(4, guid.Version);
            Assert.Equal(0b10, guid.Variant >> 2);
        });
    }
}
