using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Security.Cryptography;
using LumoAuth.Token.Protocol;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Token.Tests;

public sealed class DiscoveryTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    [Fact]
    public async Task Discovery_ListsTheTenantsCustomScopes_AndNoOtherTenants()
    {
        var tenant = factory.AddTenant("scopes");
        var other = factory.AddTenant("scopes");
        using (var admin = factory.AdminClient(tenant))
        using (var created = await admin.PostAsJsonAsync($"/t/{tenant.Slug}/api/v1/admin/scopes", new { name = "orders.read", description = "See your orders" }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using var http = factory.CreateClient();
        async Task<List<string?>> ScopesOf(TestTenant t) =>
            (await HttpAssert.JsonAsync(await http.GetAsync($"/t/{t.Slug}/.well-known/openid-configuration"), HttpStatusCode.OK))
                .GetProperty("scopes_supported").EnumerateArray().Select(e => e.GetString()).ToList();

        var own = await ScopesOf(tenant);
        Assert.Contains("orders.read", own);
        Assert.Contains("openid", own);
        Assert.DoesNotContain("orders.read", await ScopesOf(other));
    }

    [Theory]
    [InlineData("/api/v1/.well-known/openid-configuration")]
    [InlineData("/api/v1/.well-known/oauth-authorization-server")]
    [InlineData("/.well-known/openid-configuration")]
    [InlineData("/.well-known/oauth-authorization-server")]
    public async Task Discovery_EveryPath_NamesTheTenantsIssuerAndEndpoints(string suffix)
    {
        var tenant = factory.Acme;
        using var http = factory.CreateClient();

        using var response = await http.GetAsync($"/t/{tenant.Slug}{suffix}");

        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        Assert.Equal(tenant.Issuer, json.GetProperty("issuer").GetString());
        Assert.Equal(tenant.Issuer + "/oauth/token", json.GetProperty("token_endpoint").GetString());
        Assert.Equal(tenant.Issuer + "/.well-known/jwks.json", json.GetProperty("jwks_uri").GetString());
        var grants = json.GetProperty("grant_types_supported").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("client_credentials", grants);
        Assert.DoesNotContain("password", grants);
        Assert.True(json.GetProperty("backchannel_logout_supported").GetBoolean());
        Assert.True(json.GetProperty("backchannel_logout_session_supported").GetBoolean());
        Assert.True(json.GetProperty("frontchannel_logout_supported").GetBoolean());
        Assert.True(json.GetProperty("frontchannel_logout_session_supported").GetBoolean());
        // Those are the provider's names (Back-Channel Logout §2.1, Front-Channel Logout §3); "…_required" is a client's.
        Assert.False(json.TryGetProperty("backchannel_logout_session_required", out _));
        Assert.Equal(tenant.Issuer + "/oauth/logout", json.GetProperty("end_session_endpoint").GetString());
        Assert.True(json.GetProperty("authorization_response_iss_parameter_supported").GetBoolean());
        Assert.Superset(
            new HashSet<string?> { "openid", "profile", "email", "phone", "address", "offline_access" },
            json.GetProperty("scopes_supported").EnumerateArray().Select(e => e.GetString()).ToHashSet());
        Assert.Superset(
            new HashSet<string?> { "sub", "iss", "aud", "email", "acr", "amr", "auth_time", "address", "roles", "groups", "tenant_id", "tenant" },
            json.GetProperty("claims_supported").EnumerateArray().Select(e => e.GetString()).ToHashSet());
    }

    [Fact]
    public async Task Jwks_BothPaths_PublishTheSamePublicRsaKey()
    {
        var tenant = factory.Acme;
        using var http = factory.CreateClient();

        var canonical = await KeysAsync(http, $"/t/{tenant.Slug}/api/v1/.well-known/jwks.json");
        var alias = await KeysAsync(http, $"/t/{tenant.Slug}/.well-known/jwks.json");

        var key = Assert.Single(canonical);
        Assert.Equal(key.ToString(), Assert.Single(alias).ToString());
        Assert.Equal("RSA", key.GetProperty("kty").GetString());
        Assert.Equal("RS256", key.GetProperty("alg").GetString());
        Assert.Equal("sig", key.GetProperty("use").GetString());
        Assert.False(string.IsNullOrEmpty(key.GetProperty("kid").GetString()));
        foreach (var privatePart in new[] { "d", "p", "q", "dp", "dq", "qi", "k" })
        {
            Assert.False(key.TryGetProperty(privatePart, out _), privatePart);
        }
    }

    [Fact]
    public async Task Jwks_TwoTenants_HaveDifferentKeys()
    {
        using var http = factory.CreateClient();

        var acme = Assert.Single(await KeysAsync(http, $"/t/{factory.Acme.Slug}/api/v1/.well-known/jwks.json"));
        var globex = Assert.Single(await KeysAsync(http, $"/t/{factory.Globex.Slug}/api/v1/.well-known/jwks.json"));

        Assert.NotEqual(acme.GetProperty("kid").GetString(), globex.GetProperty("kid").GetString());
        Assert.NotEqual(acme.GetProperty("n").GetString(), globex.GetProperty("n").GetString());
    }

    [Fact]
    public async Task SigningKey_IsStoredProtected_AndReloadedAfterEviction()
    {
        var tenant = factory.AddTenant("keys");
        using var http = factory.CreateClient();
        var before = Assert.Single(await KeysAsync(http, $"/t/{tenant.Slug}/api/v1/.well-known/jwks.json"));

        var rows = await factory.WithDbAsync(db => db.TenantKeys.Where(k => k.TenantId == tenant.Info.Id).ToListAsync());
        var signing = Assert.Single(rows, k => k.Use == "sig");
        Assert.Single(rows, k => k.Use == "enc");
        Assert.Equal(before.GetProperty("kid").GetString(), signing.KeyId);
        using (var rsa = RSA.Create())
        {
            // What is stored is Data Protection ciphertext, not a usable private key.
            Assert.ThrowsAny<CryptographicException>(() => rsa.ImportPkcs8PrivateKey(Convert.FromBase64String(signing.ProtectedMaterial), out _));
        }

        factory.Services.GetRequiredService<TenantServerOptionsMonitor>().Evict(tenant.Info.Id);
        var after = Assert.Single(await KeysAsync(http, $"/t/{tenant.Slug}/.well-known/jwks.json"));

        Assert.Equal(before.GetProperty("kid").GetString(), after.GetProperty("kid").GetString());
        Assert.Equal(before.GetProperty("n").GetString(), after.GetProperty("n").GetString());
    }

    [Fact]
    public async Task Discovery_UnknownTenant_Returns404Envelope()
    {
        using var http = factory.CreateClient();

        using var response = await http.GetAsync("/t/nobody-here/api/v1/.well-known/openid-configuration");

        await HttpAssert.EnvelopeAsync(response, HttpStatusCode.NotFound, "tenant_not_found");
    }

    [Fact]
    public async Task Discovery_SpoofedHostHeader_KeepsThePinnedIssuer()
    {
        var tenant = factory.Acme;
        using var http = factory.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/t/{tenant.Slug}/api/v1/.well-known/openid-configuration");
        request.Headers.Host = "evil.example";

        using var response = await http.SendAsync(request);

        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        Assert.Equal(tenant.Issuer, json.GetProperty("issuer").GetString());
        Assert.StartsWith(tenant.Issuer, json.GetProperty("token_endpoint").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OAuthPaths_WithoutTenant_AreNotServed()
    {
        using var http = factory.CreateClient();

        using var discovery = await http.GetAsync("/.well-known/openid-configuration");
        using var token = await http.PostAsync("/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }));

        Assert.Equal(HttpStatusCode.NotFound, discovery.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, token.StatusCode);
    }

    private static async Task<List<JsonElement>> KeysAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        // The signing keys; the one key clients encrypt to (use "enc") is EncryptedRequestsTests' subject.
        return json.GetProperty("keys").EnumerateArray().Where(k => k.GetProperty("use").GetString() == "sig").ToList();
    }
}
