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
