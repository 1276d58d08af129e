using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Hosting;
using LumoAuth.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.EndToEnd.Tests;

/// <summary>The thin slice through every service, through the gateway (issue 2).</summary>
[Collection(SuiteCollection.Name)]
public sealed class WalkingSkeletonTests(SuiteFixture suite)
{
    [Fact]
    public async Task EveryService_SpeaksHttp2ToTheGateway_OnItsH2cEndpoint_AndHttp11OnItsHttpEndpoint()
    {
        string[] services = [ServiceNames.Admin, ServiceNames.Token, ServiceNames.Authorization, ServiceNames.Agents, ServiceNames.Federation];
        var gateway = await suite.EnvironmentNamesOf(ServiceNames.Gateway);
        foreach (var service in services)
        {
            // The gateway is told of both endpoints and so forwards over HTTP/2 (GatewayRoutes.Clusters).
            Assert.Contains($"services__{service}__{Http2Port.EndpointName}__0", gateway);
            Assert.Contains($"services__{service}__http__0", gateway);

            using var http2 = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using var overHttp2 = await http2.GetAsync(new Uri(suite.EndpointOf(service, Http2Port.EndpointName), "/health"));
            Assert.Equal(HttpStatusCode.OK, overHttp2.StatusCode);
            Assert.Equal(HttpVersion.Version20, overHttp2.Version);

            using var http11 = new HttpClient();
            using var overHttp11 = await http11.GetAsync(new Uri(suite.EndpointOf(service, "http"), "/health"));
            Assert.Equal(HttpStatusCode.OK, overHttp11.StatusCode);
            Assert.Equal(HttpVersion.Version11, overHttp11.Version);
        }
    }

    [Fact]
    public async Task Slice_TenantUserClientTokenTupleCheckAndAudit_WorksThroughTheGateway()
    {
        // 1. platform API
        var tenant = await suite.CreateTenantAsync();

        // 2. admin: create and fetch a user
        using var createdUser = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users", new { email = "alice@example.com", name = "Alice" }, SuiteFixture.ApiKey(tenant.ApiKey));
        var userId = (await ApiAssert.OkAsync(createdUser, 201))["data"]!["id"]!.GetValue<string>();
        using var fetchedUser = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users/{userId}", configure: SuiteFixture.ApiKey(tenant.ApiKey));
        Assert.Equal("alice@example.com", (await ApiAssert.OkAsync(fetchedUser))["data"]!["email"]!.GetValue<string>());

        // 3. token: client, client-credentials token signed with the tenant's key, discovery and JWKS
        var (clientId, _, accessToken) = await suite.ClientTokenAsync(tenant);
        using var discoveryResponse = await suite.Gateway.GetAsync($"{tenant.Api}/.well-known/openid-configuration");
        var discovery = await ApiAssert.OkAsync(discoveryResponse);
        var issuer = discovery["issuer"]!.GetValue<string>();
        Assert.EndsWith($"/t/{tenant.Slug}/api/v1", issuer);
        using var jwksResponse = await suite.Gateway.GetAsync($"{tenant.Api}/.well-known/jwks.json");
        var jwks = new JsonWebKeySet(await jwksResponse.Content.ReadAsStringAsync());
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(accessToken, new TokenValidationParameters
        {
            ValidIssuer = issuer,
            ValidAudience = issuer,
            IssuerSigningKeys = jwks.GetSigningKeys(),
            ValidTypes = ["at+jwt"],
        });
        Assert.True(validation.IsValid, validation.Exception?.Message);
        Assert.Equal(clientId, validation.Claims["client_id"]);

        // 4. authorization: write a tuple and check it with the bearer token
        var tuple = new { @object = "document:readme", relation = "viewer", user = "user:alice" };
        using var written = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/tuples", tuple, SuiteFixture.Bearer(accessToken));
        await ApiAssert.OkAsync(written);
        using var checkResponse = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(accessToken));
        Assert.True((await ApiAssert.OkAsync(checkResponse))["allowed"]!.GetValue<bool>());
        using var denied = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", new { @object = "document:readme", relation = "viewer", user = "user:bob" }, SuiteFixture.Bearer(accessToken));
        Assert.False((await ApiAssert.OkAsync(denied))["allowed"]!.GetValue<bool>());

        // ...and another tenant's token is refused there
        var other = await suite.CreateTenantAsync();
        var (_, _, foreignToken) = await suite.ClientTokenAsync(other);
        using var foreign = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", tuple, SuiteFixture.Bearer(foreignToken));
        await ApiAssert.ErrorAsync(foreign, 401, "invalid_token");

        // 5. the audit log has an entry for each step, built from the events
        foreach (var action in new[] { "tenant_created", "user_created", "api_key_created", "client_created", "access_token_issued", "relationships_written" })
        {
            await ApiAssert.EventuallyAsync(async () =>
            {
                using var response = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/audit-logs?action={action}", configure: SuiteFixture.ApiKey(tenant.ApiKey));
                var page = await ApiAssert.OkAsync(response);
                return page["meta"]!["total"]!.GetValue<long>() > 0 ? page : null;
            }, TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public async Task UnknownTenant_Returns404TenantNotFound()
    {
        using var response = await suite.Gateway.GetAsync("/t/no-such-tenant/api/v1/admin/users");
        await ApiAssert.ErrorAsync(response, 404, "tenant_not_found");
        using var token = await suite.Gateway.PostAsync("/t/no-such-tenant/api/v1/zanzibar/check", JsonContent.Create(new { }));
        await ApiAssert.ErrorAsync(token, 404, "tenant_not_found");
    }

    [Fact]
    public async Task MissingInvalidAndRevokedApiKeys_Return401()
    {
        var tenant = await suite.CreateTenantAsync();
        using var missing = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users");
        await ApiAssert.ErrorAsync(missing, 401, "unauthorized");
        using var invalid = await suite.SendAsync(HttpMethod.Get, $"{tenant.Api}/admin/users", configure: SuiteFixture.ApiKey("lmk_invalid"));
        await ApiAssert.ErrorAsync(invalid, 401, "unauthorized");

        using var created = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/api-keys", new { name = "temp" }, SuiteFixture.ApiKey(tenant.ApiKey));
        var key = (await ApiAssert.OkAsync(created, 201))["data"]!;
        var secret = key["key"]!.GetValue<string>();
        // Used on another service first, so its cache holds the key when it is revoked.
        using var before = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", new { @object = "doc:1", relation = "viewer", user = "user:x" }, SuiteFixture.ApiKey(secret));
        await ApiAssert.OkAsync(before);
        using var revoked = await suite.SendAsync(HttpMethod.Delete, $"{tenant.Api}/admin/api-keys/{key["id"]!.GetValue<string>()}", configure: SuiteFixture.ApiKey(tenant.ApiKey));
        Assert.Equal(HttpStatusCode.NoContent, revoked.StatusCode);
        await ApiAssert.EventuallyAsync(async () =>
        {
            var response = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", new { @object = "doc:1", relation = "viewer", user = "user:x" }, SuiteFixture.ApiKey(secret));
            return response.StatusCode == HttpStatusCode.Unauthorized ? response : null;
        }, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task MalformedJsonAndOversizedBodies_GetTheEnvelope()
    {
        var tenant = await suite.CreateTenantAsync();
        using var malformed = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/admin/users", configure: r =>
        {
            r.Headers.Add("X-API-Key", tenant.ApiKey);
            r.Content = new StringContent("{\"email\":", Encoding.UTF8, "application/json");
        });
        await ApiAssert.ErrorAsync(malformed, 400, "invalid_request");

        using var oversized = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/tuples", configure: r =>
        {
            r.Headers.Add("X-API-Key", tenant.ApiKey);
            r.Content = new StringContent("{\"object\":\"" + new string('x', 2 * 1024 * 1024) + "\"}", Encoding.UTF8, "application/json");
        });
        await ApiAssert.ErrorAsync(oversized, 413, "payload_too_large");

        using var missingFields = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/check", new { relation = "viewer" }, SuiteFixture.ApiKey(tenant.ApiKey));
        await ApiAssert.ErrorAsync(missingFields, 400, "MISSING_FIELDS");
    }

    [Fact]
    public async Task Gateway_UnknownRouteAndInternalPaths_Return404Envelope_AndEchoCorrelationId()
    {
        using var unknown = await suite.Gateway.GetAsync("/nowhere");
        await ApiAssert.ErrorAsync(unknown, 404, "route_not_found");
        using var @internal = await suite.Gateway.GetAsync("/internal/v1/tenants/by-slug/demo");
        await ApiAssert.ErrorAsync(@internal, 404, "route_not_found");

        using var correlated = await suite.SendAsync(HttpMethod.Get, "/t/no-such-tenant/api/v1/admin/users", configure: r => r.Headers.Add("X-Correlation-Id", "trace-me-123"));
        Assert.Equal("trace-me-123", correlated.Headers.GetValues("X-Correlation-Id").Single());
        Assert.Equal("trace-me-123", (await correlated.Content.ReadFromJsonAsync<JsonObject>())!["correlationId"]!.GetValue<string>());
    }
}
