using System.Net;
using System.Net.Http.Json;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>
/// CORS for browser-based clients: only origins a client registered (<c>allowedOrigins</c>) may read the token,
/// revocation and userinfo answers; discovery and the key set are open to all; tenants share nothing.
/// </summary>
public sealed class ClientCorsTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    private const string SpaOrigin = "https://app.example.com";

    private Task<CreatedClient> SpaAsync(TestTenant tenant, string origin = SpaOrigin) => factory.CreateOAuthClientAsync(tenant, new
    {
        name = "spa", applicationType = "spa", redirectUris = new[] { origin + "/callback" }, allowedOrigins = new[] { origin },
    });

    private async Task<HttpResponseMessage> PreflightAsync(TestTenant tenant, string endpoint, string origin, string method = "POST")
    {
        using var http = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Options, $"/t/{tenant.Slug}/api/v1/{endpoint}");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", method);
        request.Headers.Add("Access-Control-Request-Headers", "content-type");
        return await http.SendAsync(request);
    }

    private async Task<HttpResponseMessage> PostFromAsync(TestTenant tenant, string endpoint, string origin, Dictionary<string, string> form)
    {
        using var http = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/t/{tenant.Slug}/api/v1/{endpoint}") { Content = new FormUrlEncodedContent(form) };
        request.Headers.Add("Origin", origin);
        return await http.SendAsync(request);
    }

    private static string? AllowedOrigin(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Access-Control-Allow-Origin", out var values) ? values.Single() : null;

    [Theory]
    [InlineData("oauth/token", "POST")]
    [InlineData("oauth/revoke", "POST")]
    [InlineData("oauth/userinfo", "GET")]
    public async Task Preflight_FromARegisteredOrigin_IsAllowed_WithoutCredentials(string endpoint, string method)
    {
        var tenant = factory.AddTenant("cors");
        await SpaAsync(tenant);

        using var response = await PreflightAsync(tenant, endpoint, SpaOrigin, method);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(SpaOrigin, AllowedOrigin(response));
        Assert.Contains(method, response.Headers.GetValues("Access-Control-Allow-Methods").Single(), StringComparison.Ordinal);
        Assert.Contains("Content-Type", response.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.Ordinal);
        // A browser client may send DPoP proofs (RFC 9449).
        Assert.Contains("DPoP", response.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.Ordinal);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Credentials"));
        Assert.Contains("Origin", response.Headers.Vary);
    }

    [Fact]
    public async Task Preflight_FromAnUnregisteredOrigin_OrAnotherTenantsOrigin_GetsNoCorsHeaders()
    {
        var tenant = factory.AddTenant("cors");
        var other = factory.AddTenant("cors");
        await SpaAsync(tenant);
        await SpaAsync(other, "https://other.example.com");

        foreach (var origin in new[] { "https://evil.example.com", "https://other.example.com", "null", "https://app.example.com.evil.com" })
        {
            using var response = await PreflightAsync(tenant, "oauth/token", origin);
            Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
            Assert.Null(AllowedOrigin(response));
        }
    }

    [Fact]
    public async Task TokenRequest_ErrorAnswer_IsReadableByTheClientsOwnOrigin_Only()
    {
        var tenant = factory.AddTenant("cors");
        var spa = await SpaAsync(tenant);
        await SpaAsync(tenant, "https://second.example.com");
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["client_id"] = spa.ClientId, ["code"] = "not-a-code",
            ["redirect_uri"] = SpaOrigin + "/callback", ["code_verifier"] = new string('v', 43),
        };

        using var own = await PostFromAsync(tenant, "oauth/token", SpaOrigin, form);
        await HttpAssert.OAuthErrorAsync(own, HttpStatusCode.BadRequest, "invalid_grant");
        Assert.Equal(SpaOrigin, AllowedOrigin(own));
        Assert.Contains("DPoP-Nonce", own.Headers.GetValues("Access-Control-Expose-Headers").Single(), StringComparison.Ordinal);

        // Another client's origin may not read this client's answers (the answer itself is the same).
        using var foreign = await PostFromAsync(tenant, "oauth/token", "https://second.example.com", form);
        await HttpAssert.OAuthErrorAsync(foreign, HttpStatusCode.BadRequest, "invalid_grant");
        Assert.Null(AllowedOrigin(foreign));
    }

    [Fact]
    public async Task ClientRequestWithoutOrigin_GetsNoCorsHeaders()
    {
        var tenant = factory.AddTenant("cors");
        var client = await factory.CreateOAuthClientAsync(tenant);

        using var response = await factory.PostFormAsync(tenant, "oauth/token", new() { ["grant_type"] = "client_credentials" },
            HttpAssert.Basic(client.ClientId, client.Secret!));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(AllowedOrigin(response));
    }

    [Fact]
    public async Task RemovingTheOrigin_EndsItsAccess()
    {
        var tenant = factory.AddTenant("cors");
        var spa = await SpaAsync(tenant);
        using (var allowed = await PreflightAsync(tenant, "oauth/token", SpaOrigin))
        {
            Assert.Equal(SpaOrigin, AllowedOrigin(allowed));
        }

        using (var admin = factory.AdminClient(tenant))
        using (var updated = await admin.PutAsJsonAsync($"/t/{tenant.Slug}/api/v1/admin/clients/{spa.ClientId}", new { allowedOrigins = Array.Empty<string>() }))
        {
            Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        }

        using var refused = await PreflightAsync(tenant, "oauth/token", SpaOrigin);
        Assert.Null(AllowedOrigin(refused));
    }

    [Theory]
    [InlineData(".well-known/openid-configuration")]
    [InlineData(".well-known/jwks.json")]
    public async Task PublicMetadata_IsOpenToEveryOrigin(string document)
    {
        var tenant = factory.AddTenant("cors");
        using var http = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/t/{tenant.Slug}/api/v1/{document}");
        request.Headers.Add("Origin", "https://anyone.example.org");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("*", AllowedOrigin(response));
    }
}
