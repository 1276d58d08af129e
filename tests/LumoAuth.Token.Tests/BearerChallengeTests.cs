using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// RFC 6750 §3 challenges on the services' REST APIs (the same handler serves every service): no credential gets the
/// bare scheme, a bad token <c>invalid_token</c>, and a good token without the scope a 403 that says
/// <c>insufficient_scope</c>.
/// </summary>
[Collection(SharedTokenSuite.Name)]
public sealed class BearerChallengeTests(TokenSuite suite)
{
    [Fact]
    public async Task AdminApi_ChallengesByRfc6750()
    {
        var setup = await suite.SetUpAsync();
        using var http = suite.Token.CreateClient();
        http.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var created = await http.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new
        {
            name = "Orders job", applicationType = "m2m", grantTypes = new[] { "client_credentials" }, allowedScopes = new[] { "orders.read" },
        });
        var client = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data");
        http.DefaultRequestHeaders.Remove("X-API-Key");
        using var issued = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials", ["scope"] = "orders.read",
            ["client_id"] = client.GetProperty("clientId").GetString()!, ["client_secret"] = client.GetProperty("secret").GetString()!,
        }));
        var accessToken = (await HttpAssert.JsonAsync(issued, HttpStatusCode.OK)).GetProperty("access_token").GetString();
        var sessions = $"{setup.Tenant.Api}/admin/sessions";

        using var anonymous = await http.GetAsync(sessions);
        Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.ToString());
        await HttpAssert.EnvelopeAsync(anonymous, HttpStatusCode.Unauthorized, "unauthorized");

        using var garbled = new HttpRequestMessage(HttpMethod.Get, sessions) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", "not.a.jwt") } };
        using var invalid = await http.SendAsync(garbled);
        Assert.Equal("Bearer error=\"invalid_token\"", invalid.Headers.WwwAuthenticate.ToString());

        using var unscoped = new HttpRequestMessage(HttpMethod.Get, sessions) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", accessToken) } };
        using var forbidden = await http.SendAsync(unscoped);
        Assert.Equal("Bearer error=\"insufficient_scope\"", forbidden.Headers.WwwAuthenticate.ToString());
        await HttpAssert.EnvelopeAsync(forbidden, HttpStatusCode.Forbidden, "insufficient_scope");
    }
}
