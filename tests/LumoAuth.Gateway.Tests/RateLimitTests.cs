using System.Net;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

namespace LumoAuth.Gateway.Tests;

public sealed class LimitedGatewayFixture : GatewayFixture
{
    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["Gateway:RateLimits:Categories:token:PermitLimit"] = "3",
        ["Gateway:RateLimits:Categories:admin-write:PermitLimit"] = "2",
    };
}

public sealed class RateLimitTests(LimitedGatewayFixture fixture) : IClassFixture<LimitedGatewayFixture>
{
    [Fact]
    public async Task TokenEndpoint_OverTheLimit_Returns429InOAuthFormat_WithRetryAfter()
    {
        using var client = fixture.Gateway.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            using var ok = await client.PostAsync("/t/limits-a/api/v1/oauth/token", new FormUrlEncodedContent([]));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("3", ok.Headers.GetValues("X-RateLimit-Limit").Single());
            Assert.Equal((2 - i).ToString(System.Globalization.CultureInfo.InvariantCulture), ok.Headers.GetValues("X-RateLimit-Remaining").Single());
        }

        using var refused = await client.PostAsync("/t/limits-a/api/v1/oauth/token", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(int.Parse(refused.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal("3", refused.Headers.GetValues("X-RateLimit-Limit").Single());
        Assert.Equal("0", refused.Headers.GetValues("X-RateLimit-Remaining").Single());
        var reset = long.Parse(refused.Headers.GetValues("X-RateLimit-Reset").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(reset, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 61);
        var body = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
        Assert.Equal("rate_limit_exceeded", body["error"]!.GetValue<string>());
        Assert.True(body["retry_after"]!.GetValue<int>() >= 1);
        Assert.False(string.IsNullOrEmpty(body["error_description"]!.GetValue<string>()));

        // Another spelling of the same endpoint and tenant is the same budget.
        using var respelled = await client.PostAsync("/t/LIMITS-A/api/v1/OAuth/Token", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.TooManyRequests, respelled.StatusCode);

        // Another tenant's token endpoint has its own budget.
        using var otherTenant = await client.PostAsync("/t/limits-b/api/v1/oauth/token", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.OK, otherTenant.StatusCode);
    }

    [Theory]
    [InlineData("GET", "/t/defaults/api/v1/oauth/authorize", 60)]
    [InlineData("POST", "/t/defaults/api/v1/oauth/introspect", 100)]
    [InlineData("POST", "/t/defaults/login", 10)]
    [InlineData("GET", "/t/defaults/api/v1/scim/v2/Users", 100)]
    [InlineData("GET", "/t/defaults/api/v1/admin/users", 1000)]
    [InlineData("POST", "/t/defaults/api/v1/zanzibar/check", 10_000)]
    [InlineData("GET", "/t/defaults/api/v1/admin/audit-logs/export", 10)]
    [InlineData("GET", "/api/v1/tenants", 60)]
    public async Task Defaults_FollowTheDocs_AndTellWhenTheWindowResets(string method, string path, int limit)
    {
        using var client = fixture.Gateway.CreateClient();
        var before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));

        Assert.Equal(limit.ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers.GetValues("X-RateLimit-Limit").Single());
        var reset = long.Parse(response.Headers.GetValues("X-RateLimit-Reset").Single(), System.Globalization.CultureInfo.InvariantCulture);
        // A Unix time at the end of the current window: after now, at most one window (an hour for exports) ahead.
        Assert.InRange(reset, before + 1, before + (path.EndsWith("/export", StringComparison.Ordinal) ? 3600 : 60) + 1);
    }

    [Theory]
    [InlineData("POST", "/t/acme/login", "login")]
    [InlineData("POST", "/t/acme/check-email", "login")]
    [InlineData("POST", "/t/acme/webauthn/authenticate", "login")]
    [InlineData("POST", "/t/acme/webauthn/register/options", "login")]
    [InlineData("GET", "/t/acme/webauthn/passkeys.js", null)]
    [InlineData("POST", "/t/acme/api/v1/oauth/token", "token")]
    [InlineData("POST", "/t/acme/api/v1/oauth/bc-authorize", "token")]
    [InlineData("POST", "/t/acme/api/v1/oauth/device_authorization", "token")]
    [InlineData("GET", "/t/acme/api/v1/oauth/userinfo", "check")]
    // The routes behind the edge ignore case, so the edge does too.
    [InlineData("POST", "/t/acme/api/v1/OAuth/Token", "token")]
    [InlineData("POST", "/t/acme/API/V1/oauth/BC-Authorize", "token")]
    [InlineData("POST", "/t/acme/WebAuthn/Authenticate", "login")]
    [InlineData("POST", "/T/acme/Login", "login")]
    [InlineData("POST", "/t/acme/api/v1/Connect/Register", "registration")]
    [InlineData("POST", "/t/acme/forgot-password", "login")]
    [InlineData("GET", "/t/acme/login?login_hint=ann%40example.com", "login")]
    [InlineData("GET", "/t/acme/login?returnUrl=%2F", null)]
    [InlineData("GET", "/t/acme/api/v1/oauth/device?user_code=BCDF-GHJK", "login")]
    [InlineData("POST", "/t/acme/api/v1/oauth/device", "login")]
    [InlineData("GET", "/t/acme/api/v1/oauth/device", "check")]
    [InlineData("POST", "/t/acme/register", "registration")]
    [InlineData("POST", "/t/acme/register/invitation", "registration")]
    [InlineData("POST", "/t/acme/api/v1/connect/register", "registration")]
    [InlineData("POST", "/t/acme/api/v1/oauth/register", "registration")]
    [InlineData("POST", "/t/acme/api/v1/oidc/register", "registration")]
    [InlineData("GET", "/t/acme/register", null)]
    [InlineData("GET", "/t/acme/api/v1/scim/v2/Users", "scim")]
    [InlineData("POST", "/t/acme/api/v1/scim2.0/Users", "scim")]
    [InlineData("POST", "/t/acme/api/v1/admin/users", "admin-write")]
    [InlineData("POST", "/t/acme/api/v1/invitations/bulk", "admin-write")]
    [InlineData("POST", "/t/acme/api/v1/gdpr/data-deletion", "admin-write")]
    [InlineData("GET", "/t/acme/api/v1/groups", "admin-read")]
    [InlineData("POST", "/t/acme/api/v1/Roles/viewer/permissions", "admin-write")]
    [InlineData("POST", "/t/acme/api/v1/permissions", "admin-write")]
    [InlineData("GET", "/t/acme/api/v1/users/8c6f0a5e-0000-0000-0000-000000000001/roles", "admin-read")]
    [InlineData("POST", "/t/acme/api/v1/users/8c6f0a5e-0000-0000-0000-000000000001/roles/", "admin-write")]
    [InlineData("PUT", "/t/acme/api/v1/abac/policies/8c6f0a5e-0000-0000-0000-000000000001", "admin-write")]
    [InlineData("POST", "/t/acme/api/v1/abac/check", "check")]
    [InlineData("GET", "/t/acme/api/v1/rolesx", "check")]
    [InlineData("GET", "/t/acme/api/v1/users/me/roles/extra", "check")]
    [InlineData("POST", "/t/acme/api/v1/authz/check", "check")]
    [InlineData("GET", "/t/acme/api/v1/users/roles", "check")]
    [InlineData("GET", "/t/acme/api/v1/users//roles", "check")]
    [InlineData("PUT", "/t/acme/api/v1/abac/users/.well-known/attributes/x", "admin-write")]
    [InlineData("PUT", "/t/acme/api/v1/abac/resources/.well-known/x/attributes", "admin-write")]
    [InlineData("PUT", "/t/acme/api/v1/zanzibar/schema", "admin-write")]
    [InlineData("GET", "/t/acme/api/v1/zanzibar/schema", "check")]
    [InlineData("POST", "/t/acme/api/v1/zanzibar/.well-known/check", "check")]
    [InlineData("GET", "/t/acme/.well-known/openid-configuration", null)]
    [InlineData("GET", "/t/acme/api/v1/.well-known/oauth-protected-resource/mcp", null)]
    [InlineData("GET", "/t/acme/api/v1/.well-known/openid-configuration", null)]
    // A trailing slash or an empty segment reaches the same endpoint, so it counts as that endpoint.
    [InlineData("POST", "/t/acme/api/v1/oauth/device/", "login")]
    [InlineData("GET", "/t/acme/api/v1/oauth/device/?user_code=BCDF-GHJK", "login")]
    [InlineData("POST", "/t/acme/api/v1/connect/register/", "registration")]
    [InlineData("POST", "/t/acme/api/v1//oidc//register//", "registration")]
    [InlineData("POST", "/t/acme//login/", "login")]
    [InlineData("POST", "/t/acme/account/verify-email/request", "login")]
    public void Categories_FollowThePath(string method, string path, string? category)
    {
        Assert.Equal(category, Categorize(method, path));
    }

    [Theory]
    [InlineData("Basic YW5uQGV4YW1wbGUuY29tOmd1ZXNz", "login")]
    [InlineData("  basic YW5uQGV4YW1wbGUuY29tOmd1ZXNz", "login")]
    [InlineData("Bearer lmk_key", "scim")]
    public void ScimWithHttpBasic_IsASignIn_CountedPerAddress(string authorization, string category)
    {
        Assert.Equal(category, Categorize("GET", "/t/acme/api/v1/scim/v2/Me", authorization));
    }

    private static string? Categorize(string method, string path, string? authorization = null)
    {
        var context = new Microsoft.AspNetCore.Http.DefaultHttpContext();
        context.Request.Method = method;
        var query = path.IndexOf('?', StringComparison.Ordinal);
        context.Request.Path = query < 0 ? path : path[..query];
        context.Request.QueryString = query < 0 ? default : new Microsoft.AspNetCore.Http.QueryString(path[query..]);
        if (authorization is not null)
        {
            context.Request.Headers.Authorization = authorization;
        }

        return LumoAuth.Gateway.RateLimiting.EdgeRateLimitMiddleware.Categorize(context.Request);
    }

    [Fact]
    public void DefaultLimits_AreTheDocumentedOnes()
    {
        // Figures per minute unless said; the token endpoint's is per address (api-decisions.md), the export's per hour.
        var limits = new LumoAuth.Gateway.RateLimiting.EdgeRateLimitOptions().Categories.ToDictionary(c => c.Key, c => (c.Value.PermitLimit, c.Value.WindowSeconds));
        Assert.Equal((100, 60), limits["token"]);
        Assert.Equal((60, 60), limits["authorize"]);
        Assert.Equal((100, 60), limits["introspection"]);
        Assert.Equal((60, 60), limits["platform"]);
        Assert.Equal((10, 60), limits["login"]);
        Assert.Equal((5, 60), limits["registration"]);
        Assert.Equal((1000, 60), limits["admin-read"]);
        Assert.Equal((100, 60), limits["admin-write"]);
        Assert.Equal((10_000, 60), limits["check"]);
        Assert.Equal((100, 60), limits["scim"]);
        Assert.Equal((10, 3600), limits["audit-export"]);
    }

    [Fact]
    public async Task Registration_HasFiveAMinutePerAddress()
    {
        using var client = fixture.Gateway.CreateClient();
        for (var i = 0; i < 5; i++)
        {
            using var ok = await client.PostAsync("/t/limits-e/register", new FormUrlEncodedContent([]));
            Assert.Equal("5", ok.Headers.GetValues("X-RateLimit-Limit").Single());
            Assert.NotEqual(HttpStatusCode.TooManyRequests, ok.StatusCode);
        }

        using var refused = await client.PostAsync("/t/limits-e/api/v1/connect/register", new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("rate_limit_exceeded", JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task AdminWrites_AreCountedPerCredential_AndAnswerTheEnvelope()
    {
        using var client = fixture.Gateway.CreateClient();
        async Task<HttpResponseMessage> Post(string key)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/t/limits-c/api/v1/admin/users");
            request.Headers.Add("X-API-Key", key);
            return await client.SendAsync(request);
        }

        (await Post("lmk_first")).Dispose();
        (await Post("lmk_first")).Dispose();
        using var refused = await Post("lmk_first");
        await ApiAssert.ErrorAsync(refused, 429, "rate_limit_exceeded");
        using var otherKey = await Post("lmk_second");
        Assert.Equal(HttpStatusCode.OK, otherKey.StatusCode);

        // Reads have their own, larger budget.
        using var read = await client.GetAsync("/t/limits-c/api/v1/admin/users");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
    }

    /// <summary>One key spelt three ways (the header the services read, the ApiKey scheme in any case, extra spaces) is one budget.</summary>
    [Fact]
    public async Task AdminWrites_OneKeySpeltDifferently_IsOneBudget()
    {
        using var client = fixture.Gateway.CreateClient();
        async Task<HttpResponseMessage> Post(Action<HttpRequestMessage> credential)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/t/limits-f/api/v1/admin/users");
            credential(request);
            return await client.SendAsync(request);
        }

        (await Post(r => r.Headers.Add("X-API-Key", "lmk_spelt"))).Dispose();
        (await Post(r => r.Headers.TryAddWithoutValidation("Authorization", "ApiKey   lmk_spelt "))).Dispose();
        using var refused = await Post(r => r.Headers.TryAddWithoutValidation("Authorization", "APIKEY lmk_spelt"));
        await ApiAssert.ErrorAsync(refused, 429, "rate_limit_exceeded");
        // As SCIM clients send it: the key as a bearer token.
        using var asBearer = await Post(r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer lmk_spelt"));
        await ApiAssert.ErrorAsync(asBearer, 429, "rate_limit_exceeded");

        // Bearer tokens likewise: the scheme's case and surrounding spaces do not make a new budget.
        (await Post(r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer tok.en.one"))).Dispose();
        (await Post(r => r.Headers.TryAddWithoutValidation("Authorization", "bearer  tok.en.one"))).Dispose();
        using var refusedBearer = await Post(r => r.Headers.TryAddWithoutValidation("Authorization", " BEARER tok.en.one "));
        await ApiAssert.ErrorAsync(refusedBearer, 429, "rate_limit_exceeded");
    }

    [Fact]
    public async Task AuditExport_HasItsOwnHourlyBudget()
    {
        using var client = fixture.Gateway.CreateClient();
        for (var i = 0; i < 10; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/t/limits-e/api/v1/admin/audit-logs/export?format=csv");
            request.Headers.Add("X-API-Key", "lmk_exporter");
            using var ok = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var refusedRequest = new HttpRequestMessage(HttpMethod.Get, "/t/limits-e/api/v1/admin/audit-logs/export?format=csv");
        refusedRequest.Headers.Add("X-API-Key", "lmk_exporter");
        using var refused = await client.SendAsync(refusedRequest);
        await ApiAssert.ErrorAsync(refused, 429, "rate_limit_exceeded");
        Assert.True(int.Parse(refused.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture) > 60);
    }

    [Fact]
    public async Task Discovery_IsNotLimited()
    {
        using var client = fixture.Gateway.CreateClient();
        using var response = await client.GetAsync("/t/limits-d/api/v1/.well-known/jwks.json");
        Assert.False(response.Headers.Contains("X-RateLimit-Limit"));
    }
}
