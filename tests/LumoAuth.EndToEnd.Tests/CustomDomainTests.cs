using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.EndToEnd.Tests;

/// <summary>A tenant's own domain across the real processes: admin proves it by DNS, the gateway learns it with its key.</summary>
[Collection(SuiteCollection.Name)]
public sealed class CustomDomainTests(SuiteFixture suite)
{
    [Fact]
    public async Task AVerifiedDomain_IsServedByTheGateway_WithItsOwnIssuer_AndItsTokensOpenTheTenantsApis()
    {
        var tenant = await suite.CreateTenantAsync();
        var key = SuiteFixture.ApiKey(tenant.ApiKey);
        var domain = $"login-{Guid.NewGuid().ToString("N")[..10]}.acme.example";
        using var added = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/custom-domains", new { domain }, key);
        var record = (await ApiAssert.OkAsync(added, 201))["data"]!;
        suite.Dns.Publish(record["dnsRecords"]!);
        using var verified = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/custom-domains/{record["id"]}/verify", configure: key);
        await ApiAssert.OkAsync(verified);

        // Port and scheme are the deployment's; the host is the tenant's.
        var origin = $"http://{domain}:{new Uri(suite.BaseUrl).Port}";
        var issuer = origin + "/api/v1";
        Task<HttpResponseMessage> OnDomainAsync(HttpMethod method, string path, HttpContent? content = null, string? bearer = null)
        {
            var request = new HttpRequestMessage(method, path) { Content = content };
            request.Headers.Host = new Uri(origin).Authority;
            if (bearer is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            }

            return suite.Gateway.SendAsync(request);
        }

        // The gateway polls admin for the map; the token service hears of the domain by event.
        var discovery = await ApiAssert.EventuallyAsync(async () =>
        {
            using var response = await OnDomainAsync(HttpMethod.Get, "/.well-known/openid-configuration");
            var body = response.StatusCode == HttpStatusCode.OK ? JsonNode.Parse(await response.Content.ReadAsStringAsync()) : null;
            return body?["issuer"]?.GetValue<string>() == issuer ? body : null;
        }, TimeSpan.FromSeconds(60));
        Assert.Equal(issuer + "/oauth/token", discovery!["token_endpoint"]!.GetValue<string>());

        var (clientId, secret, _) = await suite.ClientTokenAsync(tenant);
        using var tokenResponse = await OnDomainAsync(HttpMethod.Post, "/api/v1/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = secret, ["scope"] = "zanzibar.write",
        }));
        var tokenBody = await tokenResponse.Content.ReadAsStringAsync();
        Assert.True(tokenResponse.StatusCode == HttpStatusCode.OK, tokenBody);
        var accessToken = JsonNode.Parse(tokenBody)!["access_token"]!.GetValue<string>();
        Assert.Equal(issuer, new JsonWebToken(accessToken).Issuer);

        // The authorization service (another process) takes it, on the domain and on the deployment's host.
        static object Write(string user) => new { writes = new[] { new { @object = "document:plan", relation = "viewer", user } } };
        using var onDomain = await OnDomainAsync(HttpMethod.Post, "/api/v1/zanzibar/write", System.Net.Http.Json.JsonContent.Create(Write("user:ana")), accessToken);
        Assert.True(onDomain.IsSuccessStatusCode, await onDomain.Content.ReadAsStringAsync());
        using var onDeployment = await suite.SendAsync(HttpMethod.Post, $"{tenant.Api}/zanzibar/write", Write("user:ben"), SuiteFixture.Bearer(accessToken));
        Assert.True(onDeployment.IsSuccessStatusCode, await onDeployment.Content.ReadAsStringAsync());

        // Another tenant's paths are no route there.
        var other = await suite.CreateTenantAsync();
        using var foreign = await OnDomainAsync(HttpMethod.Get, $"{other.Api}/.well-known/openid-configuration");
        await ApiAssert.ErrorAsync(foreign, 404, "route_not_found");
    }
}
