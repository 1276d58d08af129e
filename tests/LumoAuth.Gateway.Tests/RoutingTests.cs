using System.Net;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Hosting;
using LumoAuth.Testing;

namespace LumoAuth.Gateway.Tests;

public sealed class RoutingTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    public static TheoryData<string, string, string> OwnedPaths => new()
    {
        { "POST", "/api/v1/tenants", ServiceNames.Admin },
        { "GET", "/api/v1/tenants/acme", ServiceNames.Admin },
        { "GET", "/t/acme/api/v1/admin/users", ServiceNames.Admin },
        { "GET", "/t/acme/api/v1/admin/users/42", ServiceNames.Admin },
        { "GET", "/t/acme/api/v1/admin/audit-logs", ServiceNames.Admin },
        { "GET", "/t/acme/api/v1/admin/groups/eng/members", ServiceNames.Admin },
        { "GET", "/t/acme/api/v1/scim/v2/Users", ServiceNames.Admin },
        { "POST", "/t/acme/api/v1/invitations", ServiceNames.Admin },
        { "POST", "/t/acme/api/v1/invitations/bulk", ServiceNames.Admin },
        { "POST", "/t/acme/api/v1/gdpr/data-export", ServiceNames.Admin },
        { "POST", "/t/acme/api/v1/gdpr/data-deletion", ServiceNames.Admin },
        { "GET", "/t/acme/api/v1/scim2.0/Groups", ServiceNames.Admin },
        { "POST", "/t/acme/api/v1/oauth/token", ServiceNames.Token },
        { "GET", "/t/acme/api/v1/oauth/authorize", ServiceNames.Token },
        { "POST", "/t/acme/api/v1/connect/register", ServiceNames.Token },
        { "POST", "/t/acme/api/v1/oidc/register", ServiceNames.Token },
        { "GET", "/t/acme/api/v1/.well-known/openid-configuration", ServiceNames.Token },
        { "GET", "/t/acme/api/v1/.well-known/oauth-authorization-server", ServiceNames.Token },
        { "GET", "/t/acme/api/v1/.well-known/jwks.json", ServiceNames.Token },
        { "GET", "/t/acme/.well-known/openid-configuration", ServiceNames.Token },
        { "GET", "/t/acme/.well-known/jwks.json", ServiceNames.Token },
        { "GET", "/t/acme/api/v1/admin/clients", ServiceNames.Token },
        { "POST", "/t/acme/api/v1/admin/clients/abc/rotate-secret", ServiceNames.Token },
        { "GET", "/t/acme/api/v1/admin/oauth-clients", ServiceNames.Token },
        { "GET", "/t/acme/api/v1/admin/sessions", ServiceNames.Token },
        { "GET", "/t/acme/api/v1/admin/users/42/sessions", ServiceNames.Token },
        { "DELETE", "/t/acme/api/v1/admin/users/42/sessions/sess_1", ServiceNames.Token },
        { "GET", "/t/acme/api/v1/admin/users/42/trusted-devices", ServiceNames.Token },
        { "DELETE", "/t/acme/api/v1/admin/users/42/trusted-devices/7", ServiceNames.Token },
        { "DELETE", "/t/acme/api/v1/admin/users/42/tokens", ServiceNames.Token },
        { "GET", "/t/acme/api/v1/admin/scopes", ServiceNames.Token },
        { "POST", "/t/acme/api/v1/admin/signing-keys/rotate", ServiceNames.Token },
        { "GET", "/t/acme/login", ServiceNames.Token },
        { "POST", "/t/acme/login/password", ServiceNames.Token },
        { "GET", "/t/acme/logout", ServiceNames.Token },
        { "GET", "/t/acme/aauth/authorize", ServiceNames.Token },
        { "POST", "/t/acme/api/v1/zanzibar/check", ServiceNames.Authorization },
        { "POST", "/t/acme/api/v1/authz/check", ServiceNames.Authorization },
        { "POST", "/t/acme/api/v1/abac/check", ServiceNames.Authorization },
        { "POST", "/t/acme/api/v1/access/v1/evaluation", ServiceNames.Authorization },
        { "GET", "/t/acme/api/v1/.well-known/authzen-configuration", ServiceNames.Authorization },
        { "GET", "/t/acme/api/v1/admin/roles", ServiceNames.Authorization },
        { "PUT", "/t/acme/api/v1/admin/users/42/roles", ServiceNames.Authorization },
        { "PUT", "/t/acme/api/v1/admin/groups/eng/roles", ServiceNames.Authorization },
        { "POST", "/t/acme/api/v1/roles", ServiceNames.Authorization },
        { "POST", "/t/acme/api/v1/roles/editor/permissions", ServiceNames.Authorization },
        { "POST", "/t/acme/api/v1/users/u1/roles", ServiceNames.Authorization },
        { "POST", "/t/acme/api/v1/groups/eng/roles", ServiceNames.Authorization },
        { "POST", "/t/acme/api/v1/permissions", ServiceNames.Authorization },
        { "POST", "/t/acme/api/v1/groups", ServiceNames.Admin },
        { "POST", "/t/acme/api/v1/groups/eng/members", ServiceNames.Admin },
        { "GET", "/t/acme/api/v1/admin/abac/policies", ServiceNames.Authorization },
        { "GET", "/t/acme/api/v1/admin/permissions", ServiceNames.Authorization },
        { "POST", "/t/acme/api/v1/agents/ask", ServiceNames.Agents },
        { "GET", "/t/acme/api/v1/agents/me", ServiceNames.Agents },
        { "POST", "/t/acme/api/v1/jit/requests", ServiceNames.Agents },
        { "GET", "/t/acme/api/v1/mcp/servers", ServiceNames.Agents },
        { "GET", "/t/acme/api/v1/.well-known/oauth-protected-resource/mcp", ServiceNames.Agents },
        { "GET", "/t/acme/api/v1/admin/agents", ServiceNames.Agents },
        { "GET", "/t/acme/saml/idp/metadata", ServiceNames.Federation },
        { "POST", "/t/acme/saml/sp/acs", ServiceNames.Federation },
        { "GET", "/t/acme/api/v1/saml/idp/metadata", ServiceNames.Federation },
        { "GET", "/t/acme/api/v1/admin/saml-apps", ServiceNames.Federation },
        { "PATCH", "/t/acme/api/v1/admin/saml-apps/x", ServiceNames.Federation },
        { "POST", "/t/acme/api/v1/admin/saml-keys/x/activate", ServiceNames.Federation },
        { "GET", "/t/acme/auth/social/google", ServiceNames.Federation },
        { "POST", "/t/acme/auth/social/x/callback", ServiceNames.Federation },
        { "GET", "/t/acme/api/v1/admin/social-providers", ServiceNames.Federation },
        { "GET", "/t/acme/api/v1/admin/identity-providers/x", ServiceNames.Federation },
        { "GET", "/t/acme/api/v1/admin/ldap-providers/x", ServiceNames.Federation },
        { "POST", "/t/acme/login/ldap/x", ServiceNames.Token },
    };

    [Theory]
    [MemberData(nameof(OwnedPaths))]
    public async Task PublicPath_GoesToItsOwner_WithThePathUnchanged(string method, string path, string owner)
    {
        using var client = fixture.Gateway.CreateClient();
        using var response = await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(owner, response.Headers.GetValues("X-Backend").Single());
        Assert.Equal(path, response.Headers.GetValues("X-Seen-Path").Single());
    }

    [Theory]
    [InlineData("/internal/v1/tenants/by-slug/acme")]
    [InlineData("/INTERNAL/v1/api-keys/verify")]
    [InlineData("/nothing")]
    [InlineData("/t/acme/api/v1/unknown-area")]
    public async Task InternalAndUnknownPaths_Return404Envelope(string path)
    {
        using var client = fixture.Gateway.CreateClient();
        using var response = await client.GetAsync(path);
        await ApiAssert.ErrorAsync(response, 404, "route_not_found");
    }

    [Fact]
    public async Task CorrelationId_IsForwardedAndEchoed()
    {
        using var client = fixture.Gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/t/acme/api/v1/admin/users");
        request.Headers.Add("X-Correlation-Id", "abc-123");
        using var response = await client.SendAsync(request);
        Assert.Equal("abc-123", response.Headers.GetValues("X-Seen-Correlation").Single());
        Assert.Equal("abc-123", response.Headers.GetValues("X-Correlation-Id").Single());

        using var generated = await client.GetAsync("/t/acme/api/v1/admin/users");
        Assert.False(string.IsNullOrEmpty(generated.Headers.GetValues("X-Seen-Correlation").Single()));
    }

    /// <summary>A caller's id goes into logs and headers: anything but a short plain token is replaced by our own.</summary>
    [Theory]
    [InlineData("a b")]
    [InlineData("id<script>")]
    [InlineData("caf%C3%A9")]
    [InlineData("x/y")]
    public async Task CorrelationId_NotAPlainToken_IsReplaced(string supplied)
    {
        using var client = fixture.Gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/t/acme/api/v1/admin/users");
        request.Headers.TryAddWithoutValidation("X-Correlation-Id", supplied);
        using var response = await client.SendAsync(request);

        var seen = response.Headers.GetValues("X-Seen-Correlation").Single();
        Assert.NotEqual(supplied, seen);
        Assert.Matches("^[0-9a-f]{32}$", seen);
        Assert.Equal(seen, response.Headers.GetValues("X-Correlation-Id").Single());
    }

    [Fact]
    public async Task CorrelationId_LongerThan128_IsReplaced()
    {
        using var client = fixture.Gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/t/acme/api/v1/admin/users");
        request.Headers.Add("X-Correlation-Id", new string('a', 129));
        using var response = await client.SendAsync(request);

        Assert.Matches("^[0-9a-f]{32}$", response.Headers.GetValues("X-Correlation-Id").Single());
    }

    [Fact]
    public async Task ForwardedHeaders_AreTheGatewaysOwn_AndOnlyThoseServicesRead()
    {
        using var client = fixture.Gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/t/acme/api/v1/admin/users");
        request.Headers.Add("X-Forwarded-Host", "evil.example");
        request.Headers.Add("X-Forwarded-Prefix", "/elsewhere");
        using var response = await client.SendAsync(request);

        // The scheme is the one the gateway saw; a caller's host and prefix never reach a service.
        var seen = response.Headers.GetValues("X-Seen-Forwarded").Single().Split(';', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("x-forwarded-proto=http", seen);
        Assert.DoesNotContain(seen, h => h.StartsWith("x-forwarded-host=", StringComparison.Ordinal));
        Assert.DoesNotContain(seen, h => h.StartsWith("x-forwarded-prefix=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SmallBody_IsForwardedIntact_WithItsContentType()
    {
        using var client = fixture.Gateway.CreateClient();
        var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["scope"] = "orders.read" });
        var sent = await form.ReadAsByteArrayAsync();
        using var response = await client.PostAsync("/t/acme/api/v1/oauth/token", form);

        AssertBodySeen(response, sent);
        Assert.Equal("application/x-www-form-urlencoded", response.Headers.GetValues("X-Seen-Content-Type").Single());
    }

    [Theory]
    [InlineData(true, "/t/acme/api/v1/admin/users")]
    [InlineData(false, "/t/acme/api/v1/admin/users")]
    [InlineData(true, "/t/acme/api/v1/admin/clients")]
    [InlineData(false, "/t/acme/api/v1/admin/clients")]
    public async Task LargeOrUndeclaredBody_IsStreamedIntact(bool declaredLength, string path)
    {
        using var client = fixture.Gateway.CreateClient();
        var sent = new byte[declaredLength ? 200_000 : 5_000];
        Random.Shared.NextBytes(sent);
        HttpContent content = declaredLength ? new ByteArrayContent(sent) : new StreamContent(new UnknownLengthStream(sent));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        using var response = await client.PostAsync(path, content);

        AssertBodySeen(response, sent);
    }

    [Theory]
    [InlineData("/t/acme/api/v1/oauth/token", ServiceNames.Token, "HTTP/2")]
    [InlineData("/t/acme/api/v1/admin/clients", ServiceNames.Token, "HTTP/2")]
    [InlineData("/t/acme/api/v1/admin/users", ServiceNames.Admin, "HTTP/1.1")]
    [InlineData("/t/acme/api/v1/zanzibar/check", ServiceNames.Authorization, "HTTP/1.1")]
    public async Task AServiceWithAnH2cEndpoint_IsSpokenToOverHttp2_OthersOverHttp11(string path, string owner, string protocol)
    {
        using var client = fixture.Gateway.CreateClient();
        using var response = await client.PostAsync(path, new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(owner, response.Headers.GetValues("X-Backend").Single());
        Assert.Equal(protocol, response.Headers.GetValues("X-Seen-Protocol").Single());
    }

    [Fact]
    public async Task ALargeHeader_CrossesTheHttp2Hop()
    {
        // A bearer token with many roles can be tens of kilobytes. A request just inside the edge's bound on all headers
        // still fits after the gateway added its own (it was a 431 with the service's default bound).
        using var client = fixture.Gateway.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/t/acme/api/v1/admin/clients");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + new string('a', Http2Port.EdgeHeadersLimit - 200));
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("HTTP/2", response.Headers.GetValues("X-Seen-Protocol").Single());
    }

    private static void AssertBodySeen(HttpResponseMessage response, byte[] sent)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(sent.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers.GetValues("X-Seen-Body-Length").Single());
        Assert.Equal(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(sent)), response.Headers.GetValues("X-Seen-Body-Sha256").Single());
    }

    /// <summary>A body whose length the client cannot tell, so it goes out chunked.</summary>
    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
    }

    [Fact]
    public async Task Health_Answers()
    {
        using var client = fixture.Gateway.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/alive")).StatusCode);
    }
}
