using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Authorization.Tests.Agents;

/// <summary>
/// Client-credentials agents: an OAuth client made for the agent at the token service, whose tokens the agent endpoints
/// take, and which acts for others in a token exchange (RFC 8693) only with the delegation capability.
/// </summary>
public sealed class AgentClientTests(AgentsSuite suite) : IClassFixture<AgentsSuite>
{
    private const string TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange";
    private const string AccessTokenType = "urn:ietf:params:oauth:token-type:access_token";

    [Fact]
    public async Task AClientCredentialsAgent_GetsTokens_CallsWithThem_AndActsForOthersOnlyWithTheCapability()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new
        {
            name = "Delegate",
            identityType = "client_credentials",
        }), 201))["data"]!;
        var agentId = created["id"]!.GetValue<string>();
        var clientId = created["clientId"]!.GetValue<string>();
        var clientSecret = created["clientSecret"]!.GetValue<string>();
        Assert.Equal($"agt_{Guid.Parse(agentId):N}", clientId);
        Assert.Equal("client_credentials", created["identityType"]!.GetValue<string>());
        var read = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/agents/{agentId}")))["data"]!;
        Assert.Null(read["clientSecret"]);
        Assert.Equal(clientId, read["clientId"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { identityType = "api_key" }), 400, "validation_error");

        // The agent's own token opens the agent endpoints; an ordinary client's does not.
        var agentToken = await ClientCredentialsAsync(tenant, clientId, clientSecret);
        // The docs' agent token names the agent (agent_name) beside its client; an ordinary client's token names none.
        var issued = new JsonWebToken(agentToken);
        Assert.Equal(clientId, issued.Subject);
        Assert.Equal(agentId, issued.GetClaim("agent_id").Value);
        Assert.Equal("Delegate", issued.GetClaim("agent_name").Value);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { name = "Deputy" }));
        Assert.Equal("Deputy", new JsonWebToken(await ClientCredentialsAsync(tenant, clientId, clientSecret)).GetClaim("agent_name").Value);
        using (var asAgent = suite.AgentClient(agentToken))
        {
            var me = await ApiAssert.OkAsync(await asAgent.GetAsync($"{tenant.Api}/agents/me"));
            Assert.Equal(agentId, me["identity"]!["id"]!.GetValue<string>());
        }

        var (appId, appSecret) = await suite.AppClientAsync(tenant);
        var appToken = await ClientCredentialsAsync(tenant, appId, appSecret);
        Assert.False(new JsonWebToken(appToken).TryGetClaim("agent_name", out _));
        Assert.False(new JsonWebToken(appToken).TryGetClaim("agent_id", out _));
        using (var asApp = suite.AgentClient(appToken))
        {
            await ApiAssert.ErrorAsync(await asApp.GetAsync($"{tenant.Api}/agents/me"), 403, "permission_denied");
        }

        // The application hands its subject to the agent: refused until the agent may act for others.
        using (var refused = await ExchangeAsync(tenant, appId, appSecret, appToken, agentToken))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal("capability_denied", (await ApiAssert.OkAsync(refused, 403))["error"]!.GetValue<string>());
        }

        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { capabilities = new[] { "delegate:on_behalf" } }));
        using (var delegated = await ExchangeAsync(tenant, appId, appSecret, appToken, agentToken))
        {
            var token = new JsonWebToken((await ApiAssert.OkAsync(delegated))["access_token"]!.GetValue<string>());
            Assert.Equal(appId, token.Subject);
            Assert.Contains(clientId, token.GetClaim("act").Value);
        }

        // Disabled, it neither calls nor acts: its client's tokens are void, the actor token with them.
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { isActive = false }));
        using (var disabled = await ExchangeAsync(tenant, appId, appSecret, appToken, agentToken))
        {
            Assert.Equal("invalid_grant", (await ApiAssert.OkAsync(disabled, 400))["error"]!.GetValue<string>());
        }

        using (var asDisabled = suite.AgentClient(agentToken))
        {
            await ApiAssert.ErrorAsync(await asDisabled.GetAsync($"{tenant.Api}/agents/me"), 401, "invalid_token");
        }

        // Its OAuth client is off too: no new tokens, and the ones it had are void everywhere.
        using (var noToken = await suite.TokenRequestAsync(tenant, clientId, clientSecret, new() { ["grant_type"] = "client_credentials" }))
        {
            Assert.Equal("invalid_client", (await ApiAssert.OkAsync(noToken, 401))["error"]!.GetValue<string>());
        }

        Assert.False(await ActiveAsync(tenant, appId, appSecret, agentToken));

        // Enabled again, it gets tokens again.
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { isActive = true }));
        await ClientCredentialsAsync(tenant, clientId, clientSecret);

        // Deleted, its OAuth client goes with it.
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{tenant.Api}/admin/agents/{agentId}")).StatusCode);
        using var gone = await suite.TokenRequestAsync(tenant, clientId, clientSecret, new() { ["grant_type"] = "client_credentials" });
        Assert.Equal("invalid_client", (await ApiAssert.OkAsync(gone, 401))["error"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new { name = "Bad", identityType = "psychic" }), 400, "validation_error");
    }

    /// <summary>
    /// The docs' "Allowed Scopes" and "Token Lifetime" of an agent: set through the agent registry, held by its OAuth client
    /// (the token service), shown on single reads, refused as the Admin API refuses them.
    /// </summary>
    [Fact]
    public async Task AnAgentsScopesAndTokenLifetime_AreItsClients_SetAndShownThroughTheRegistry()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new
        {
            name = "Reporter", identityType = "client_credentials", allowedScopes = new[] { "reports:read", "reports:write" }, tokenLifetime = 600,
        }), 201))["data"]!;
        var agentId = created["id"]!.GetValue<string>();
        var clientId = created["clientId"]!.GetValue<string>();
        var secret = created["clientSecret"]!.GetValue<string>();
        Assert.Equal(["reports:read", "reports:write"], created["allowedScopes"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal(600, created["tokenLifetime"]!.GetValue<int>());

        async Task<JsonNode> TokenAsync(string? scope)
        {
            var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };
            if (scope is not null)
            {
                form["scope"] = scope;
            }

            using var response = await suite.TokenRequestAsync(tenant, clientId, secret, form);
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        }

        var issued = await TokenAsync("reports:read");
        Assert.InRange(issued["expires_in"]!.GetValue<int>(), 590, 600);
        var jwt = new JsonWebToken(issued["access_token"]!.GetValue<string>());
        Assert.Equal("reports:read", jwt.GetClaim("scope").Value);
        Assert.Equal(600, (jwt.ValidTo - jwt.IssuedAt).TotalSeconds);

        // A change goes to the client: the next token lives two minutes, and a scope taken away is refused.
        var changed = (await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { tokenLifetime = 120, allowedScopes = new[] { "reports:read" } })))["data"]!;
        Assert.Equal(120, changed["tokenLifetime"]!.GetValue<int>());
        var shorter = new JsonWebToken((await TokenAsync("reports:read"))["access_token"]!.GetValue<string>());
        Assert.Equal(120, (shorter.ValidTo - shorter.IssuedAt).TotalSeconds);
        Assert.Equal("invalid_scope", (await TokenAsync("reports:write"))["error"]!.GetValue<string>());
        var read = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/agents/{agentId}")))["data"]!;
        Assert.Equal(["reports:read"], read["allowedScopes"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal(120, read["tokenLifetime"]!.GetValue<int>());
        // Lists do not ask the token service for every agent (as for permissions).
        var listed = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/agents")))["data"]!.AsArray().Single(a => a!["id"]!.GetValue<string>() == agentId)!;
        Assert.Null(listed["tokenLifetime"]);

        // Refused as at the Admin API, under the registry's names; nothing changes.
        Assert.Contains("tokenLifetime", (await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { tokenLifetime = 10 }), 400, "validation_error")).ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("allowedScopes", (await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { allowedScopes = new[] { "two words" } }), 400, "validation_error")).ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("tokenLifetime", (await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new { name = "Keyed", tokenLifetime = 600 }), 400, "validation_error")).ToJsonString(), StringComparison.Ordinal);
        var keyed = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new { name = "Keyed" }), 201))["data"]!;
        Assert.Contains("allowedScopes", (await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{keyed["id"]}", new { allowedScopes = new[] { "reports:read" } }), 400, "validation_error")).ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(120, (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/agents/{agentId}")))["data"]!["tokenLifetime"]!.GetValue<int>());

        // Administering scopes need a credential that writes everything, as at the Admin API's clients.
        using var keys = suite.Admin.ClientFor(tenant);
        var scoped = (await ApiAssert.OkAsync(await keys.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "agents only", scopes = new[] { "admin:agents" } }), 201))["data"]!["key"]!.GetValue<string>();
        using var agentsAdmin = suite.Agents.CreateClient();
        agentsAdmin.DefaultRequestHeaders.Add("X-API-Key", scoped);
        await ApiAssert.ErrorAsync(await agentsAdmin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { allowedScopes = new[] { "admin:read" } }), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await agentsAdmin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new { name = "Escalator", identityType = "client_credentials", allowedScopes = new[] { "admin:write" } }), 403, "insufficient_scope");
        Assert.DoesNotContain((await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/agents")))["data"]!.AsArray(), a => a!["name"]!.GetValue<string>() == "Escalator");
        await ApiAssert.OkAsync(await agentsAdmin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { tokenLifetime = 300 }));
        var full = (await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { allowedScopes = new[] { "admin:read" } })))["data"]!;
        Assert.Equal(["admin:read"], full["allowedScopes"]!.AsArray().Select(s => s!.GetValue<string>()));

        // Its client deleted through the Admin API's clients: the agent still reads, without the client's settings.
        using var tokenAdmin = suite.Token.CreateClient();
        tokenAdmin.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        using (var deleted = await tokenAdmin.DeleteAsync($"{tenant.Api}/admin/clients/{clientId}"))
        {
            Assert.True(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync());
        }

        Assert.Null((await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/agents/{agentId}")))["data"]!["tokenLifetime"]);
        await ApiAssert.ErrorAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { tokenLifetime = 300 }), 409, "client_missing");
    }

    /// <summary>RFC 7662 at the token service, by a confidential client of the tenant.</summary>
    private async Task<bool> ActiveAsync(TestTenant tenant, string clientId, string secret, string token)
    {
        using var response = await suite.TokenRequestAsync(tenant, clientId, secret, new() { ["token"] = token }, "oauth/introspect");
        return (await ApiAssert.OkAsync(response))["active"]!.GetValue<bool>();
    }

    private async Task<string> ClientCredentialsAsync(TestTenant tenant, string clientId, string secret)
    {
        using var response = await suite.TokenRequestAsync(tenant, clientId, secret, new() { ["grant_type"] = "client_credentials" });
        return (await ApiAssert.OkAsync(response))["access_token"]!.GetValue<string>();
    }

    private Task<HttpResponseMessage> ExchangeAsync(TestTenant tenant, string clientId, string secret, string subjectToken, string actorToken) =>
        suite.TokenRequestAsync(tenant, clientId, secret, new()
        {
            ["grant_type"] = TokenExchange,
            ["subject_token"] = subjectToken,
            ["subject_token_type"] = AccessTokenType,
            ["actor_token"] = actorToken,
            ["actor_token_type"] = AccessTokenType,
        });
}
