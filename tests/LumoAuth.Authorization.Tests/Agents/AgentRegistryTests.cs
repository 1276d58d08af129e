using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

namespace LumoAuth.Authorization.Tests.Agents;

/// <summary>The agent registry (AG-01…06), an agent's own key, <c>/agents/me</c> and the Ask API, through the gateway.</summary>
public sealed class AgentRegistryTests(AgentsSuite suite) : IClassFixture<AgentsSuite>
{
    [Fact]
    public async Task Create_ShowsTheKeyOnce_TheAgentCallsWithIt_AndRotationEndsTheOldKey()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        await CreateRoleAsync(tenant, "researcher", "document.read");
        using var admin = suite.AdminClientFor(tenant);

        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new
        {
            name = "Research Assistant",
            type = "ai_assistant",
            description = "Reads papers",
            roles = new[] { "researcher" },
            capabilities = new[] { "tool:search_web" },
        }), 201))["data"]!;
        var id = created["id"]!.GetValue<string>();
        var key = created["apiKey"]!.GetValue<string>();
        Assert.StartsWith("sk_agent_live_", key);
        Assert.Equal(["researcher"], Strings(created["roles"]));
        Assert.Equal(["document.read"], Strings(created["permissions"]));
        Assert.Equal("ai_assistant", created["type"]!.GetValue<string>());
        Assert.True(created["isActive"]!.GetValue<bool>());
        Assert.Null(created["lastUsedAt"]);

        var read = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/agents/{id}")))["data"]!;
        Assert.Null(read["apiKey"]);
        Assert.Equal(["document.read"], Strings(read["permissions"]));
        var list = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/agents"));
        var listed = Assert.Single(list["data"]!.AsArray())!;
        Assert.Equal(id, listed["id"]!.GetValue<string>());
        Assert.Null(listed["apiKey"]);
        Assert.Equal(1, list["meta"]!["total"]!.GetValue<int>());

        using (var agent = suite.AgentClient(key))
        {
            var me = await ApiAssert.OkAsync(await agent.GetAsync($"{tenant.Api}/agents/me"));
            Assert.Equal(id, me["identity"]!["id"]!.GetValue<string>());
            Assert.Equal("agent", me["identity"]!["type"]!.GetValue<string>());
            Assert.Equal(["document.read", "tool:search_web"], Strings(me["capabilities"]));
            Assert.Equal(["researcher"], Strings(me["roles"]));
            Assert.Equal(tenant.Slug, me["workspace"]!["slug"]!.GetValue<string>());
            Assert.Equal($"/t/{tenant.Slug}/api/v1/", me["workspace"]!["api_base"]!.GetValue<string>());
        }

        var used = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/agents/{id}")))["data"]!;
        Assert.NotNull(used["lastUsedAt"]);

        var rotated = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/agents/{id}/rotate-key", null)))["data"]!;
        var newKey = rotated["apiKey"]!.GetValue<string>();
        Assert.NotEqual(key, newKey);
        using (var old = suite.AgentClient(key))
        {
            await ApiAssert.ErrorAsync(await old.GetAsync($"{tenant.Api}/agents/me"), 401, "invalid_token");
        }

        using (var renewed = suite.AgentClient(newKey))
        {
            await ApiAssert.OkAsync(await renewed.GetAsync($"{tenant.Api}/agents/me"));
        }

        // Disabled, the agent's key stops working; enabled again, it works again.
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/agents/{id}", new { isActive = false }));
        using (var disabled = suite.AgentClient(newKey))
        {
            await ApiAssert.ErrorAsync(await disabled.GetAsync($"{tenant.Api}/agents/me"), 401, "invalid_token");
            await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{id}", new { isActive = true }));
            await ApiAssert.OkAsync(await disabled.GetAsync($"{tenant.Api}/agents/me"));
        }
    }

    [Fact]
    public async Task Ask_AllowsWhatRolesAndCapabilitiesGrant_DeniesTheRest_AndAuditsEachAnswer()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        await CreateRoleAsync(tenant, "reader", "document.read");
        var (_, key) = await CreateAgentAsync(tenant, new { name = "Asker", roles = new[] { "reader" }, capabilities = new[] { "reports.*", "tool:search_web" } });
        using var agent = suite.AgentClient(key);

        var byRole = await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = "document.read", context = new { id = "doc_99" } }));
        Assert.True(byRole["allowed"]!.GetValue<bool>());
        Assert.Equal("document.read", byRole["action"]!.GetValue<string>());
        Assert.Equal("doc_99", byRole["context"]!["id"]!.GetValue<string>());
        var byCapability = await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = "tool:search_web" }));
        Assert.True(byCapability["allowed"]!.GetValue<bool>());
        var byWildcard = await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = "reports.export" }));
        Assert.True(byWildcard["allowed"]!.GetValue<bool>());

        var denied = await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = "document.delete" }));
        Assert.False(denied["allowed"]!.GetValue<bool>());
        Assert.StartsWith("insufficient_permissions", denied["reason"]!.GetValue<string>());
        Assert.Null(denied["context"]);

        // The answer's audit id is the id of the audit log's entry for it, with the agent as actor.
        var auditId = denied["audit_id"]!.GetValue<string>();
        using var adminApi = suite.Admin.ClientFor(tenant);
        var entry = await ApiAssert.EventuallyAsync(async () =>
        {
            using var response = await adminApi.GetAsync($"{tenant.Api}/admin/audit-logs/{auditId}");
            return response.StatusCode == HttpStatusCode.OK ? (await ApiAssert.OkAsync(response))["data"] : null;
        });
        Assert.Equal("agent_action_asked", entry["action"]!.GetValue<string>());
        Assert.Equal("authorization", entry["category"]!.GetValue<string>());
        Assert.Equal("agent", entry["actor"]!["type"]!.GetValue<string>());

        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { context = new { id = 1 } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { question = "Can I read doc 99?" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = "document.read", context = "doc_99" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = new string('a', 201) }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsync($"{tenant.Api}/agents/ask", new StringContent("{\"action\":", System.Text.Encoding.UTF8, "application/json")), 400, "invalid_request");

        // Only an agent's own key reaches the agent endpoints: not the tenant's API key, not nothing, not a made-up key.
        using var apiKeyCaller = suite.AdminClientFor(tenant);
        await ApiAssert.ErrorAsync(await apiKeyCaller.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = "document.read" }), 401, "unauthorized");
        using var anonymous = suite.Agents.CreateClient();
        await ApiAssert.ErrorAsync(await anonymous.GetAsync($"{tenant.Api}/agents/me"), 401, "unauthorized");
        using var madeUp = suite.AgentClient("sk_agent_live_" + new string('x', 43));
        await ApiAssert.ErrorAsync(await madeUp.GetAsync($"{tenant.Api}/agents/me"), 401, "invalid_token");
        using var huge = suite.AgentClient("sk_agent_live_" + new string('x', 5000));
        await ApiAssert.ErrorAsync(await huge.GetAsync($"{tenant.Api}/agents/me"), 401, "invalid_token");
    }

    [Fact]
    public async Task Roles_AreHeldAtTheAuthorizationService_ChangeWithUpdates_AndGoWithTheAgentOrTheRole()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        await CreateRoleAsync(tenant, "reader", "document.read");
        await CreateRoleAsync(tenant, "writer", "document.write");
        var (id, key) = await CreateAgentAsync(tenant, new { name = "Scribe", roles = new[] { "reader" } });
        using var admin = suite.AdminClientFor(tenant);
        using var authz = AuthorizationSuite.ClientFor(suite.Authorization, tenant);
        using var agent = suite.AgentClient(key);

        // The authorization service answers for the agent as a subject of its own.
        Assert.True(await AllowedAsync(authz, tenant, $"agent:{id}", "document.read"));
        await ApiAssert.ErrorAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/agents/{id}", new { roles = new[] { "no-such-role" } }), 400, "validation_error");
        Assert.True(await AllowedAsync(authz, tenant, $"agent:{id}", "document.read"));

        var updated = (await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/agents/{id}", new { roles = new[] { "writer" }, description = "Writes" })))["data"]!;
        Assert.Equal(["writer"], Strings(updated["roles"]));
        Assert.Equal(["document.write"], Strings(updated["permissions"]));
        Assert.Equal("Writes", updated["description"]!.GetValue<string>());
        Assert.False((await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = "document.read" })))["allowed"]!.GetValue<bool>());
        Assert.True((await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = "document.write" })))["allowed"]!.GetValue<bool>());

        // A deleted role leaves the registry's record of the agent too.
        await ApiAssert.OkAsync(await authz.DeleteAsync($"{tenant.Api}/admin/roles/writer"));
        await ApiAssert.EventuallyAsync(async () =>
        {
            var roles = Strings((await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/agents")))["data"]![0]!["roles"]);
            return roles.Count == 0 ? roles : null;
        });

        // A deleted agent's key fails at once; its relationships go when the authorization service takes the event.
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/agents/{id}", new { roles = new[] { "reader" } }));
        Assert.True(await AllowedAsync(authz, tenant, $"agent:{id}", "document.read"));
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{tenant.Api}/admin/agents/{id}")).StatusCode);
        await ApiAssert.ErrorAsync(await agent.GetAsync($"{tenant.Api}/agents/me"), 401, "invalid_token");
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{tenant.Api}/admin/agents/{id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await admin.DeleteAsync($"{tenant.Api}/admin/agents/{id}"), 404, "resource_not_found");
        await ApiAssert.EventuallyAsync(async () => await AllowedAsync(authz, tenant, $"agent:{id}", "document.read") ? null : "gone");
    }

    [Fact]
    public async Task AllowedIps_LetOnlyTheListedAddressesCall()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new { name = "Bad", allowedIps = new[] { "not-an-ip" } }), 400, "validation_error");
        var (id, key) = await CreateAgentAsync(tenant, new { name = "Fenced", allowedIps = new[] { "203.0.113.0/24", "2001:db8::1" } });

        using (var inside = suite.AgentClient(key, IPAddress.Parse("203.0.113.7")))
        {
            await ApiAssert.OkAsync(await inside.GetAsync($"{tenant.Api}/agents/me"));
        }

        using (var v6 = suite.AgentClient(key, IPAddress.Parse("2001:db8::1")))
        {
            await ApiAssert.OkAsync(await v6.GetAsync($"{tenant.Api}/agents/me"));
        }

        using (var outside = suite.AgentClient(key, IPAddress.Parse("198.51.100.1")))
        {
            await ApiAssert.ErrorAsync(await outside.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = "x" }), 403, "access_denied");
        }

        // An empty list lifts the restriction.
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/agents/{id}", new { allowedIps = Array.Empty<string>() }));
        using var anywhere = suite.AgentClient(key, IPAddress.Parse("198.51.100.1"));
        await ApiAssert.OkAsync(await anywhere.GetAsync($"{tenant.Api}/agents/me"));
    }

    [Fact]
    public async Task Budget_RefusesCallsBeyondTheHoursLimit_With429()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var (_, key) = await CreateAgentAsync(tenant, new { name = "Thrifty", budgetPolicy = new { maxApiCallsPerHour = 2 } });
        using var agent = suite.AgentClient(key);
        var me = await ApiAssert.OkAsync(await agent.GetAsync($"{tenant.Api}/agents/me"));
        Assert.Equal(2, me["budget"]!["max_api_calls_per_hour"]!.GetValue<int>());
        Assert.Equal(1, me["budget"]!["api_calls_this_hour"]!.GetValue<int>());
        await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = "x" }));

        using var refused = await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = "x" });
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        await ApiAssert.ErrorAsync(refused, 429, "budget_exceeded");
        await ApiAssert.ErrorAsync(await agent.GetAsync($"{tenant.Api}/agents/me"), 429, "budget_exceeded");
    }

    [Fact]
    public async Task AnAgentsOAuthClient_GetsTokensOnlyWithinItsBudget_AndTheTokenRequestsCountAsCalls()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var (id, clientId, secret) = await CreateClientAgentAsync(tenant, new { budgetPolicy = new { maxApiCallsPerHour = 3, maxTokensPerDay = 100 } });
        var grant = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };

        // Two token requests and one call with the token: the hour's three calls.
        await ApiAssert.OkAsync(await suite.TokenRequestAsync(tenant, clientId, secret, grant));
        var token = (await ApiAssert.OkAsync(await suite.TokenRequestAsync(tenant, clientId, secret, grant)))["access_token"]!.GetValue<string>();
        using (var asAgent = suite.AgentClient(token))
        {
            await ApiAssert.OkAsync(await asAgent.GetAsync($"{tenant.Api}/agents/me"));
        }

        using (var refused = await suite.TokenRequestAsync(tenant, clientId, secret, grant))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            var error = JsonNode.Parse(await refused.Content.ReadAsStringAsync())!;
            Assert.Equal("budget_exceeded", error["error"]!.GetValue<string>());
        }

        // With the hour's limit lifted, the day's model tokens (reported by the agent) still bound it.
        using var admin = suite.AdminClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/agents/{id}", new { budgetPolicy = new { maxTokensPerDay = 100 } }));
        var next = (await ApiAssert.OkAsync(await suite.TokenRequestAsync(tenant, clientId, secret, grant)))["access_token"]!.GetValue<string>();
        using (var asAgent = suite.AgentClient(next))
        {
            await ApiAssert.OkAsync(await asAgent.PostAsJsonAsync($"{tenant.Api}/agents/me/usage", new { tokens = 150 }));
        }

        using var spent = await suite.TokenRequestAsync(tenant, clientId, secret, grant);
        Assert.Equal(HttpStatusCode.TooManyRequests, spent.StatusCode);
        Assert.Contains("max_tokens_per_day", await spent.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnAgentsOAuthClient_GetsNoTokenFromOutsideItsAllowList()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var (id, clientId, secret) = await CreateClientAgentAsync(tenant, new { allowedIps = new[] { "203.0.113.0/24" } });
        var grant = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };

        // The token service's test host is not in the agent's network.
        using (var refused = await suite.TokenRequestAsync(tenant, clientId, secret, grant))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal("access_denied", JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!.GetValue<string>());
        }

        // A wrong secret is still invalid_client, never a question to the agents service.
        using (var wrong = await suite.TokenRequestAsync(tenant, clientId, "not-the-secret", grant))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using var admin = suite.AdminClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/agents/{id}", new { allowedIps = Array.Empty<string>() }));
        await ApiAssert.OkAsync(await suite.TokenRequestAsync(tenant, clientId, secret, grant));
    }

    private async Task<(string Id, string ClientId, string Secret)> CreateClientAgentAsync(TestTenant tenant, object settings)
    {
        using var admin = suite.AdminClientFor(tenant);
        var body = JsonSerializer.SerializeToNode(settings)!.AsObject();
        body["name"] = $"Agent {Guid.NewGuid():N}";
        body["identityType"] = "client_credentials";
        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", body), 201))["data"]!;
        return (created["id"]!.GetValue<string>(), created["clientId"]!.GetValue<string>(), created["clientSecret"]!.GetValue<string>());
    }

    [Fact]
    public async Task ReportedUse_CountsAgainstTheDaysTokensAndTheMonthsSpending_AndOnlyForAllowedModels()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var (id, key) = await CreateAgentAsync(tenant, new
        {
            name = "Spender",
            budgetPolicy = new { maxTokensPerDay = 1000, maxCostPerMonthUsd = 5.00m, allowedModels = new[] { "gpt-4", "claude-3-sonnet" } },
        });
        using var agent = suite.AgentClient(key);
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/me/usage", new { tokens = 10, model = "gpt-2" }), 403, "model_not_allowed");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/me/usage", new { tokens = 10 }), 403, "model_not_allowed");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/me/usage", new { tokens = -1, model = "gpt-4" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/me/usage", new { model = "gpt-4" }), 400, "validation_error");

        var after = await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/me/usage", new { tokens = 600, cost_usd = 1.25m, model = "gpt-4" }));
        Assert.Equal(600, after["tokens_used_today"]!.GetValue<long>());
        Assert.Equal(1.25m, after["cost_this_month_usd"]!.GetValue<decimal>());
        var me = await ApiAssert.OkAsync(await agent.GetAsync($"{tenant.Api}/agents/me"));
        Assert.Equal(1000, me["budget"]!["max_tokens_per_day"]!.GetValue<long>());
        Assert.Equal(["gpt-4", "claude-3-sonnet"], me["budget"]!["allowed_models"]!.AsArray().Select(n => n!.GetValue<string>()));

        // Over the day's tokens, every call is refused until the day turns.
        await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/me/usage", new { tokens = 500, model = "claude-3-sonnet" }));
        using var refused = await agent.PostAsJsonAsync($"{tenant.Api}/agents/ask", new { action = "x" });
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        var error = await ApiAssert.ErrorAsync(refused, 429, "budget_exceeded");
        Assert.Equal("max_tokens_per_day", error["details"]!["limit"]!.GetValue<string>());

        // Lifting the token limit leaves the month's spending, which a larger bill then uses up.
        using var admin = suite.AdminClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/agents/{id}", new { budgetPolicy = new { maxCostPerMonthUsd = 5.00m } }));
        await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/agents/me/usage", new { cost_usd = 4.00m, model = "anything" }));
        var spent = await ApiAssert.ErrorAsync(await agent.GetAsync($"{tenant.Api}/agents/me"), 429, "budget_exceeded");
        Assert.Equal("max_cost_per_month_usd", spent["details"]!["limit"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/agents/{id}", new { budgetPolicy = new { maxCostPerMonthUsd = 0 } }), 400, "validation_error");
    }

    [Fact]
    public async Task Registry_RefusesBadInput_AndKeepsTenantsApart()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        var api = $"{tenant.Api}/admin/agents";
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { type = "bot" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "  " }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "X", type = "robot" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "X", capabilities = new[] { "has space" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "X", budgetPolicy = new { maxApiCallsPerHour = 0 } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "X", roles = new[] { "nope" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = 5 }), 400, "invalid_request");
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{api}?type=robot"), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{api}/{Guid.NewGuid()}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await admin.PostAsync($"{api}/{Guid.NewGuid()}/rotate-key", null), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await admin.PutAsJsonAsync($"{api}/{Guid.NewGuid()}", new { name = "Y" }), 404, "resource_not_found");

        var (id, key) = await CreateAgentAsync(tenant, new { name = "Only one" });
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync(api, new { name = "Only one" }), 409, "duplicate_resource");
        var (otherId, _) = await CreateAgentAsync(tenant, new { name = "Another" });
        await ApiAssert.ErrorAsync(await admin.PutAsJsonAsync($"{api}/{otherId}", new { name = "Only one" }), 409, "duplicate_resource");
        Assert.Single((await ApiAssert.OkAsync(await admin.GetAsync($"{api}?search=only")))["data"]!.AsArray());

        // Another tenant sees none of it, and the agent's key is not a key there.
        var other = await suite.Admin.CreateTenantAsync();
        using var otherAdmin = suite.AdminClientFor(other);
        Assert.Empty((await ApiAssert.OkAsync(await otherAdmin.GetAsync($"{other.Api}/admin/agents")))["data"]!.AsArray());
        await ApiAssert.ErrorAsync(await otherAdmin.GetAsync($"{other.Api}/admin/agents/{id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherAdmin.DeleteAsync($"{other.Api}/admin/agents/{id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherAdmin.PostAsync($"{other.Api}/admin/agents/{id}/rotate-key", null), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherAdmin.GetAsync($"{tenant.Api}/admin/agents"), 401, "unauthorized");
        using var agentElsewhere = suite.AgentClient(key);
        await ApiAssert.ErrorAsync(await agentElsewhere.GetAsync($"{other.Api}/agents/me"), 401, "invalid_token");
        await ApiAssert.OkAsync(await agentElsewhere.GetAsync($"{tenant.Api}/agents/me"));

        // An agent's key is no admin credential.
        await ApiAssert.ErrorAsync(await agentElsewhere.GetAsync(api), 401, "invalid_token");
    }

    private async Task<(string Id, string Key)> CreateAgentAsync(TestTenant tenant, object body)
    {
        using var admin = suite.AdminClientFor(tenant);
        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", body), 201))["data"]!;
        return (created["id"]!.GetValue<string>(), created["apiKey"]!.GetValue<string>());
    }

    private async Task CreateRoleAsync(TestTenant tenant, string slug, string permission)
    {
        using var authz = AuthorizationSuite.ClientFor(suite.Authorization, tenant);
        using var created = await authz.PostAsJsonAsync($"{tenant.Api}/admin/permissions", new { name = permission, slug = permission });
        if (created.StatusCode != HttpStatusCode.Conflict)
        {
            await ApiAssert.OkAsync(created, 201);
        }

        await ApiAssert.OkAsync(await authz.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = slug, slug, permissions = new[] { permission } }), 201);
    }

    private static async Task<bool> AllowedAsync(HttpClient authz, TestTenant tenant, string subject, string permission) =>
        (await ApiAssert.OkAsync(await authz.PostAsJsonAsync($"{tenant.Api}/authz/check", new { permission, subject, consistency = "fully_consistent" })))["allowed"]!.GetValue<bool>();

    private static List<string> Strings(JsonNode? array) => [.. array!.AsArray().Select(n => n!.GetValue<string>())];
}
