using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Authorization.Tests.Agents;

/// <summary>
/// MCP server authorization (AG-17…22) through the gateway: registration, RFC 9728 discovery and the challenge at the
/// agents service, and tokens bound to the server by the token service (audience, lifetime, allowed clients, PKCE).
/// </summary>
public sealed class McpTests(AgentsSuite suite) : IClassFixture<AgentsSuite>
{
    [Fact]
    public async Task Registration_Discovery_AndTheChallenge_NameTheServerAndItsAuthorizationServer()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        var server = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/mcp-servers", new
        {
            name = "Code Search MCP Server",
            resource_uri = "https://mcp.example.com/code",
            endpoint_url = "https://mcp.example.com/code/mcp",
            scopes_supported = new[] { "mcp:read", "mcp:write" },
            token_lifetime = 600,
        }), 201))["data"]!;
        var serverId = server["server_id"]!.GetValue<string>();
        Assert.StartsWith("mcp_", serverId);
        Assert.Equal("http_streamable", server["transport"]!.GetValue<string>());
        Assert.True(server["require_pkce"]!.GetValue<bool>());
        var issuer = $"{suite.Agents.PublicBaseUrl}/t/{tenant.Slug}/api/v1";
        var metadataUrl = $"{issuer}/.well-known/oauth-protected-resource/mcp/{serverId}";
        Assert.Equal(metadataUrl, server["discovery"]!["protected_resource_metadata"]!.GetValue<string>());

        using var anonymous = suite.Agents.CreateClient();
        var metadata = await ApiAssert.OkAsync(await anonymous.GetAsync($"{tenant.Api}/.well-known/oauth-protected-resource/mcp/{serverId}"));
        Assert.Equal("https://mcp.example.com/code", metadata["resource"]!.GetValue<string>());
        Assert.Equal([issuer], metadata["authorization_servers"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(["header"], metadata["bearer_methods_supported"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(["mcp:read", "mcp:write"], metadata["scopes_supported"]!.AsArray().Select(n => n!.GetValue<string>()));

        // One server: the root document is that server's.
        var root = await ApiAssert.OkAsync(await anonymous.GetAsync($"{tenant.Api}/.well-known/oauth-protected-resource"));
        Assert.Equal("https://mcp.example.com/code", root["resource"]!.GetValue<string>());

        using var challenge = await anonymous.GetAsync($"{tenant.Api}/mcp/{serverId}/challenge");
        Assert.Equal(HttpStatusCode.Unauthorized, challenge.StatusCode);
        Assert.Equal($"Bearer resource_metadata=\"{metadataUrl}\", scope=\"mcp:read mcp:write\"", challenge.Headers.WwwAuthenticate.ToString());
        using var posted = await anonymous.PostAsync($"{tenant.Api}/mcp/{serverId}/challenge", null);
        Assert.Equal(HttpStatusCode.Unauthorized, posted.StatusCode);

        // The list for clients needs a credential and shows active servers only; two servers make the root a list.
        await ApiAssert.ErrorAsync(await anonymous.GetAsync($"{tenant.Api}/mcp/servers"), 401, "unauthorized");
        var second = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/mcp-servers", new { name = "Docs", resource_uri = "https://mcp.example.com/docs" }), 201))["data"]!;
        var listed = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/mcp/servers"));
        Assert.Equal(2, listed["servers"]!.AsArray().Count);
        var both = await ApiAssert.OkAsync(await anonymous.GetAsync($"{tenant.Api}/.well-known/oauth-protected-resource"));
        Assert.Equal(issuer, both["resource"]!.GetValue<string>());
        Assert.Equal(2, both["mcp_servers"]!.AsArray().Count);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/mcp-servers/{second["server_id"]}", new { status = "inactive" }));
        Assert.Single((await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/mcp/servers")))["servers"]!.AsArray());
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{tenant.Api}/mcp/servers/{second["server_id"]}"), 404, "resource_not_found");
        var detail = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/mcp/servers/{serverId}"));
        Assert.Equal($"{issuer}/.well-known/oauth-authorization-server", detail["discovery"]!["authorization_server_metadata"]!.GetValue<string>());
    }

    [Fact]
    public async Task Tokens_ForAnMcpServer_AreBoundToIt_ForItsLifetime_AndOnlyForTheClientsItAllows()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        var (allowedId, allowedSecret) = await MachineClientAsync(tenant);
        var (otherId, otherSecret) = await MachineClientAsync(tenant);
        var server = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/mcp-servers", new
        {
            name = "Weather",
            resource_uri = "https://mcp.example.com/weather",
            token_lifetime = 120,
            allowed_client_ids = new[] { allowedId },
        }), 201))["data"]!;

        var granted = await ApiAssert.EventuallyAsync(async () =>
        {
            using var response = await ClientCredentialsAsync(tenant, allowedId, allowedSecret, "https://mcp.example.com/weather");
            return response.StatusCode == HttpStatusCode.OK ? await ApiAssert.OkAsync(response) : null;
        });
        var token = new JsonWebToken(granted["access_token"]!.GetValue<string>());
        Assert.Equal(["https://mcp.example.com/weather"], token.Audiences);
        Assert.Equal(120, (int)(token.ValidTo - token.IssuedAt).TotalSeconds);
        Assert.InRange(granted["expires_in"]!.GetValue<int>(), 110, 120);

        // A client the server does not list, and a resource nobody registered, are refused.
        using (var refused = await ClientCredentialsAsync(tenant, otherId, otherSecret, "https://mcp.example.com/weather"))
        {
            Assert.Equal("invalid_target", (await ApiAssert.OkAsync(refused, 400))["error"]!.GetValue<string>());
        }

        using (var unknown = await ClientCredentialsAsync(tenant, allowedId, allowedSecret, "https://mcp.example.com/nowhere"))
        {
            Assert.Equal("invalid_target", (await ApiAssert.OkAsync(unknown, 400))["error"]!.GetValue<string>());
        }

        // Opened to every client of the tenant, the other client gets tokens too (the token service hears of the change).
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/mcp-servers/{server["server_id"]}", new { allowed_client_ids = Array.Empty<string>() }));
        await ApiAssert.EventuallyAsync(async () =>
        {
            using var response = await ClientCredentialsAsync(tenant, otherId, otherSecret, "https://mcp.example.com/weather");
            return response.StatusCode == HttpStatusCode.OK ? "granted" : null;
        });

        // Another tenant's clients know nothing of it.
        var elsewhere = await suite.Admin.CreateTenantAsync();
        var (foreignId, foreignSecret) = await MachineClientAsync(elsewhere);
        using var foreign = await ClientCredentialsAsync(elsewhere, foreignId, foreignSecret, "https://mcp.example.com/weather");
        Assert.Equal("invalid_target", (await ApiAssert.OkAsync(foreign, 400))["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task AuthorizationRequests_ForAnMcpServer_MustUsePkceWithS256()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/mcp-servers", new { name = "Files", resource_uri = "https://mcp.example.com/files" }), 201);
        using var tokenAdmin = TokenAdmin(tenant);
        var client = (await ApiAssert.OkAsync(await tokenAdmin.PostAsJsonAsync($"{tenant.Api}/admin/clients", new
        {
            name = "MCP host",
            type = "web",
            redirectUris = new[] { "https://host.example.com/callback" },
            allowedScopes = new[] { "openid" },
        }), 201))["data"]!;
        var clientId = client["clientId"]!.GetValue<string>();

        using var browser = suite.Token.CreateClient(new Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        string Authorize(string? method) => QueryHelpers.AddQueryString($"{tenant.Api}/oauth/authorize", new Dictionary<string, string?>
        {
            ["client_id"] = clientId,
            ["redirect_uri"] = "https://host.example.com/callback",
            ["response_type"] = "code",
            ["scope"] = "openid",
            ["state"] = "s1",
            ["resource"] = "https://mcp.example.com/files",
            ["code_challenge"] = method is null ? null : "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ["code_challenge_method"] = method,
        }.Where(p => p.Value is not null));

        foreach (var method in new string?[] { null, "plain" })
        {
            using var refused = await ApiAssert.EventuallyAsync(async () =>
            {
                var response = await browser.GetAsync(Authorize(method));
                if (response.Headers.Location?.ToString().Contains("error=invalid_request", StringComparison.Ordinal) == true)
                {
                    return response;
                }

                response.Dispose();
                return null;
            });
            Assert.StartsWith("https://host.example.com/callback", refused.Headers.Location!.ToString());
        }

        // With S256 the request goes on to sign-in.
        using var accepted = await browser.GetAsync(Authorize("S256"));
        Assert.True(accepted.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.SeeOther, $"{accepted.StatusCode}");
        Assert.DoesNotContain("error=", accepted.Headers.Location!.ToString());
    }

    [Fact]
    public async Task Registration_RefusesBadInput_AndKeepsTenantsApart()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        var api = $"{tenant.Api}/admin/mcp-servers";
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { resource_uri = "https://mcp.example.com/a" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "A" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "A", resource_uri = "http://mcp.example.com/a" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "A", resource_uri = "https://mcp.example.com/a#x" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "A", resource_uri = "https://mcp.example.com/a", token_lifetime = 59 }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "A", resource_uri = "https://mcp.example.com/a", transport = "carrier-pigeon" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "A", resource_uri = "https://mcp.example.com/a", auth_mode = "magic" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "A", resource_uri = "https://mcp.example.com/a", scopes_supported = new[] { "two words" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "A", resource_uri = "http://localhost/t/x/api/v1" }), 400, "validation_error");
        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync(api, new { name = "A", resource_uri = "https://mcp.example.com/a" }), 201))["data"]!;
        await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{api}/{created["server_id"]}", new { name = "  " }), 400, "validation_error");

        // A key for agents may read servers, not register or change them: they decide who gets which tokens.
        using var keys = suite.Admin.ClientFor(tenant);
        var scoped = (await ApiAssert.OkAsync(await keys.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "agents only", scopes = new[] { "admin:agents" } }), 201))["data"]!["key"]!.GetValue<string>();
        using var agentsAdmin = suite.Agents.CreateClient();
        agentsAdmin.DefaultRequestHeaders.Add("X-API-Key", scoped);
        await ApiAssert.OkAsync(await agentsAdmin.GetAsync(api));
        await ApiAssert.ErrorAsync(await agentsAdmin.PostAsJsonAsync(api, new { name = "C", resource_uri = "https://mcp.example.com/c" }), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await agentsAdmin.DeleteAsync($"{api}/{created["server_id"]}"), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "B", resource_uri = "https://mcp.example.com/a" }), 409, "duplicate_resource");
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{api}/mcp_{Guid.NewGuid():N}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{api}/not-an-id"), 404, "resource_not_found");

        using var anonymous = suite.Agents.CreateClient();
        await ApiAssert.ErrorAsync(await anonymous.GetAsync($"{tenant.Api}/.well-known/oauth-protected-resource/mcp/mcp_{Guid.NewGuid():N}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await anonymous.GetAsync($"{tenant.Api}/mcp/mcp_{Guid.NewGuid():N}/challenge"), 404, "resource_not_found");

        // Another tenant sees none of it, at any of its routes.
        var other = await suite.Admin.CreateTenantAsync();
        using var otherAdmin = suite.AdminClientFor(other);
        var id = created["server_id"]!.GetValue<string>();
        await ApiAssert.ErrorAsync(await otherAdmin.GetAsync($"{other.Api}/admin/mcp-servers/{id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherAdmin.DeleteAsync($"{other.Api}/admin/mcp-servers/{id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherAdmin.GetAsync($"{other.Api}/mcp/servers/{id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await anonymous.GetAsync($"{other.Api}/.well-known/oauth-protected-resource/mcp/{id}"), 404, "resource_not_found");
        Assert.Empty((await ApiAssert.OkAsync(await otherAdmin.GetAsync($"{other.Api}/mcp/servers")))["servers"]!.AsArray());

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{api}/{id}")).StatusCode);
        await ApiAssert.ErrorAsync(await anonymous.GetAsync($"{tenant.Api}/.well-known/oauth-protected-resource/mcp/{id}"), 404, "resource_not_found");
    }

    private HttpClient TokenAdmin(TestTenant tenant)
    {
        var client = suite.Token.CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        return client;
    }

    /// <summary>
    /// The SDKs' <c>get_mcp_token</c>: an agent's access token exchanged (RFC 8693) for one bound to an MCP server, with the
    /// server's audience and lifetime, and only for a client the server admits.
    /// </summary>
    [Fact]
    public async Task McpTokenExchange_BindsTheAgentsTokenToTheServer()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        using var tokenAdmin = TokenAdmin(tenant);
        var grantTypes = new[] { "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange" };
        var agent = (await ApiAssert.OkAsync(await tokenAdmin.PostAsJsonAsync($"{tenant.Api}/admin/clients", new { name = "Analyst agent", type = "m2m", grantTypes }), 201))["data"]!;
        var outsider = (await ApiAssert.OkAsync(await tokenAdmin.PostAsJsonAsync($"{tenant.Api}/admin/clients", new { name = "Outsider", type = "m2m", grantTypes }), 201))["data"]!;
        var (agentId, agentSecret) = (agent["clientId"]!.GetValue<string>(), agent["secret"]!.GetValue<string>());
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/mcp-servers",
            new { name = "Financial data", resource_uri = "https://mcp.example.com/financial", token_lifetime = 300, allowed_client_ids = new[] { agentId } }), 201);

        async Task<HttpResponseMessage> PostAsync(string clientId, string secret, Dictionary<string, string> form)
        {
            using var http = suite.Token.CreateClient();
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/token") { Content = new FormUrlEncodedContent(form) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{clientId}:{secret}")));
            return await http.SendAsync(request);
        }

        Dictionary<string, string> Exchange(string subject) => new()
        {
            ["grant_type"] = "urn:ietf:params:oauth:grant-type:token-exchange", ["subject_token"] = subject,
            ["subject_token_type"] = "urn:ietf:params:oauth:token-type:access_token", ["resource"] = "https://mcp.example.com/financial",
        };

        var own = (await ApiAssert.OkAsync(await PostAsync(agentId, agentSecret, new() { ["grant_type"] = "client_credentials" })))["access_token"]!.GetValue<string>();
        var exchanged = await ApiAssert.EventuallyAsync(async () =>
        {
            using var response = await PostAsync(agentId, agentSecret, Exchange(own));
            return response.StatusCode == HttpStatusCode.OK ? await ApiAssert.OkAsync(response) : null;
        });
        var bound = new JsonWebToken(exchanged["access_token"]!.GetValue<string>());
        Assert.Equal(["https://mcp.example.com/financial"], bound.Audiences);
        Assert.True((bound.ValidTo - bound.IssuedAt).TotalSeconds <= 300);
        Assert.Equal("urn:ietf:params:oauth:token-type:access_token", exchanged["issued_token_type"]!.GetValue<string>());

        // A client the server does not admit cannot exchange its own token for it.
        var outsiderToken = (await ApiAssert.OkAsync(await PostAsync(outsider["clientId"]!.GetValue<string>(), outsider["secret"]!.GetValue<string>(),
            new() { ["grant_type"] = "client_credentials" })))["access_token"]!.GetValue<string>();
        using var refused = await PostAsync(outsider["clientId"]!.GetValue<string>(), outsider["secret"]!.GetValue<string>(), Exchange(outsiderToken));
        Assert.Equal("invalid_target", (await ApiAssert.OkAsync(refused, 400))["error"]!.GetValue<string>());
    }

    private async Task<(string Id, string Secret)> MachineClientAsync(TestTenant tenant)
    {
        using var tokenAdmin = TokenAdmin(tenant);
        var client = (await ApiAssert.OkAsync(await tokenAdmin.PostAsJsonAsync($"{tenant.Api}/admin/clients", new { name = "MCP caller", type = "m2m" }), 201))["data"]!;
        return (client["clientId"]!.GetValue<string>(), client["secret"]!.GetValue<string>());
    }

    private async Task<HttpResponseMessage> ClientCredentialsAsync(TestTenant tenant, string clientId, string secret, string resource)
    {
        using var http = suite.Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["resource"] = resource }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{clientId}:{secret}")));
        return await http.SendAsync(request);
    }
}
