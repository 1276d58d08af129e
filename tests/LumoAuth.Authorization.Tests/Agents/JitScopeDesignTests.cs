using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Authorization.Tests.Agents;

/// <summary>
/// The API reference's scope-based JIT design: a task opened with <c>required_scopes</c>, more scopes asked with
/// <c>scope</c>, the task's status polled at <c>/jit/status/{task_id}</c>, and the token got by token exchange naming
/// <c>jit_task_id</c> — only ever for scopes the agent's capabilities or roles name.
/// </summary>
public sealed class JitScopeDesignTests(AgentsSuite suite) : IClassFixture<AgentsSuite>
{
    private const string TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange";
    private const string AccessTokenType = "urn:ietf:params:oauth:token-type:access_token";

    [Fact]
    public async Task ATaskOfScopes_IsApproved_Polled_AndExchanged_ThenMoreScopesWaitForAPerson_AndCompletingItRevokesEveryToken()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var agent = await AgentAsync(tenant, ["calendar:*", "email:send", "payment:read"]);
        using var asAgent = suite.AgentClient(agent.Token);

        // Medium risk (writes and sends): approved at once.
        var task = await ApiAssert.OkAsync(await asAgent.PostAsJsonAsync($"{tenant.Api}/jit/task", new
        {
            task_description = "Send a meeting invitation to the team",
            required_scopes = new[] { "calendar:write", "email:send" },
            duration = 600,
            resources = new[] { "calendar/team" },
        }), 201);
        var taskId = task["task_id"]!.GetValue<string>();
        Assert.StartsWith("task_", taskId);
        Assert.Equal("approved", task["status"]!.GetValue<string>());
        Assert.Null(task["approval_url"]);
        Assert.InRange(task["expires_in"]!.GetValue<int>(), 1, 600);
        Assert.Equal(["calendar:write", "email:send"], task["required_scopes"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal($"/t/{tenant.Slug}/api/v1/jit/status/{taskId}", task["status_url"]!.GetValue<string>());
        // The design's task is a task like any other: named by its description.
        Assert.Equal("Send a meeting invitation to the team", (await ApiAssert.OkAsync(await asAgent.GetAsync($"{tenant.Api}/jit/task/{taskId}")))["name"]!.GetValue<string>());

        var status = await ApiAssert.OkAsync(await asAgent.GetAsync($"{tenant.Api}/jit/status/{taskId}"));
        Assert.Equal("approved", status["status"]!.GetValue<string>());
        Assert.Equal(["calendar:write", "email:send"], status["approved_scopes"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Null(status["approved_by"]);
        Assert.NotNull(status["approved_at"]);

        using (var exchanged = await ExchangeAsync(tenant, agent, taskId, "calendar:write email:send"))
        {
            var answer = await ApiAssert.OkAsync(exchanged);
            Assert.Equal("Bearer", answer["token_type"]!.GetValue<string>());
            Assert.Equal(AccessTokenType, answer["issued_token_type"]!.GetValue<string>());
            Assert.Equal("calendar:write email:send", answer["scope"]!.GetValue<string>());
            Assert.InRange(answer["expires_in"]!.GetValue<int>(), 500, 600);
            Assert.Equal("no-store", exchanged.Headers.CacheControl?.ToString());
            var jwt = new JsonWebToken(answer["access_token"]!.GetValue<string>());
            Assert.True(jwt.GetPayloadValue<bool>("jit"));
            Assert.Equal("calendar:write email:send", jwt.GetPayloadValue<string>("scope"));
            Assert.Equal(taskId, jwt.GetPayloadValue<string>("task_id"));
            Assert.EndsWith($":task:{taskId}", jwt.Subject);
            Assert.Contains("calendar/team", jwt.GetClaim("authorization_details").Value);
            Assert.True((await IntrospectAsync(tenant, answer["access_token"]!.GetValue<string>()))["active"]!.GetValue<bool>());
        }

        // One approval, one token.
        await OAuthErrorAsync(await ExchangeAsync(tenant, agent, taskId, "calendar:write"), "invalid_grant");

        // Paying is critical: a person decides, and the poll shows it waiting.
        using var asked = await asAgent.PostAsJsonAsync($"{tenant.Api}/jit/request", new { task_id = taskId, scope = "payment:read", justification = "Check the invoice" });
        var pending = await ApiAssert.OkAsync(asked, 202);
        Assert.Equal("critical", pending["risk_level"]!.GetValue<string>());
        Assert.Equal("pending", (await ApiAssert.OkAsync(await asAgent.GetAsync($"{tenant.Api}/jit/status/{taskId}")))["status"]!.GetValue<string>());
        await OAuthErrorAsync(await ExchangeAsync(tenant, agent, taskId, "payment:read"), "invalid_grant");

        using var admin = suite.AdminClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/agents/jit-requests/{pending["request_id"]}/approve", null));
        status = await ApiAssert.OkAsync(await asAgent.GetAsync($"{tenant.Api}/jit/status/{taskId}"));
        Assert.Equal("approved", status["status"]!.GetValue<string>());
        Assert.Contains("payment:read", status["approved_scopes"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.StartsWith("api_key:", status["approved_by"]!.GetValue<string>());

        // Only what was approved; then what was.
        await OAuthErrorAsync(await ExchangeAsync(tenant, agent, taskId, "calendar:read"), "invalid_scope");
        var paying = (await ApiAssert.OkAsync(await ExchangeAsync(tenant, agent, taskId, null)))["access_token"]!.GetValue<string>();
        Assert.Equal("payment:read", new JsonWebToken(paying).GetPayloadValue<string>("scope"));

        var completed = await ApiAssert.OkAsync(await asAgent.PostAsync($"{tenant.Api}/jit/task/{taskId}/complete", null));
        Assert.Equal(2, completed["revoked_tokens"]!.GetValue<int>());
        Assert.False((await IntrospectAsync(tenant, paying))["active"]!.GetValue<bool>());
        Assert.Equal("expired", (await ApiAssert.OkAsync(await asAgent.GetAsync($"{tenant.Api}/jit/status/{taskId}")))["status"]!.GetValue<string>());
        await OAuthErrorAsync(await ExchangeAsync(tenant, agent, taskId, null), "invalid_grant");
    }

    [Fact]
    public async Task ScopesOutsideTheAgentsCapabilities_OrAdministeringTheTenant_AreNeverAsked_AndOnlyTheAgentItselfExchangesItsTask()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var agent = await AgentAsync(tenant, ["reports.*", "*"]);
        var other = await AgentAsync(tenant, ["reports.*"]);
        using var asAgent = suite.AgentClient(agent.Token);

        foreach (var scopes in new object?[] { Array.Empty<string>(), new[] { "admin:users" }, new[] { "admin" }, new[] { "openid" }, new[] { "offline_access" }, new[] { "a\"b" }, new[] { "" }, "reports.read", new[] { 5 } })
        {
            using var bad = await asAgent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { task_description = "Bad", required_scopes = scopes });
            Assert.True(bad.StatusCode == HttpStatusCode.BadRequest, $"{System.Text.Json.JsonSerializer.Serialize(scopes)}: {bad.StatusCode}");
        }

        await ApiAssert.ErrorAsync(await asAgent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { required_scopes = new[] { "reports.read" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await asAgent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { task_description = "x", required_scopes = new[] { "reports.read" }, duration = 0 }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await asAgent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { task_description = "x", required_scopes = new[] { "reports.read" }, resources = new[] { "" } }), 400, "validation_error");
        // Every scope is judged: more than can be, or too much to judge together, is refused rather than waved through.
        await ApiAssert.ErrorAsync(await asAgent.PostAsJsonAsync($"{tenant.Api}/jit/task",
            new { task_description = "x", required_scopes = Enumerable.Range(0, 11).Select(i => $"reports.r{i}").ToArray() }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await asAgent.PostAsJsonAsync($"{tenant.Api}/jit/task", new
        {
            task_description = "x", required_scopes = Enumerable.Range(0, 5).Select(i => $"reports.r{i}").ToArray(),
            resources = Enumerable.Range(0, 20).Select(i => new string('r', 400) + i).ToArray(),
        }), 400, "validation_error");

        // The other agent may hold reports.* only.
        using var asOther = suite.AgentClient(other.Token);
        await ApiAssert.ErrorAsync(await asOther.PostAsJsonAsync($"{tenant.Api}/jit/task", new { task_description = "Files", required_scopes = new[] { "files:delete" } }), 403, "capability_denied");
        var otherTask = (await ApiAssert.OkAsync(await asOther.PostAsJsonAsync($"{tenant.Api}/jit/task", new { task_description = "Reports", required_scopes = new[] { "reports.read" } }), 201))["task_id"]!.GetValue<string>();
        await ApiAssert.ErrorAsync(await asOther.PostAsJsonAsync($"{tenant.Api}/jit/request", new { task_id = otherTask, scope = "files:read" }), 403, "capability_denied");
        await ApiAssert.ErrorAsync(await asOther.PostAsJsonAsync($"{tenant.Api}/jit/request", new { task_id = otherTask, scope = "reports.list", authorization_details = new { type = "x" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await asOther.PostAsJsonAsync($"{tenant.Api}/jit/request", new { task_id = otherTask, scope = "  " }), 400, "validation_error");

        // Another agent's task is not found, for its status and its exchange; nor is a task of another tenant.
        await ApiAssert.ErrorAsync(await asAgent.GetAsync($"{tenant.Api}/jit/status/{otherTask}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await asAgent.GetAsync($"{tenant.Api}/jit/status/not-a-task"), 404, "resource_not_found");
        await OAuthErrorAsync(await ExchangeAsync(tenant, agent, otherTask, null), "invalid_grant");
        await OAuthErrorAsync(await ExchangeAsync(tenant, agent, "not-a-task", null), "invalid_request");
        var elsewhere = await suite.Admin.CreateTenantAsync();
        var stranger = await AgentAsync(elsewhere, ["reports.*"]);
        await OAuthErrorAsync(await ExchangeAsync(elsewhere, stranger, otherTask, null), "invalid_grant");

        // Only the agent's client, with its own token, alone.
        await OAuthErrorAsync(await suite.TokenRequestAsync(tenant, other.ClientId, other.Secret, Exchange(agent.Token, otherTask, null)), "invalid_request");
        var withActor = Exchange(other.Token, otherTask, null);
        withActor["actor_token"] = other.Token;
        withActor["actor_token_type"] = AccessTokenType;
        await OAuthErrorAsync(await suite.TokenRequestAsync(tenant, other.ClientId, other.Secret, withActor), "invalid_request");
        var withResource = Exchange(other.Token, otherTask, null);
        withResource["resource"] = "https://api.example.com";
        await OAuthErrorAsync(await suite.TokenRequestAsync(tenant, other.ClientId, other.Secret, withResource), "invalid_target");
        var (appId, appSecret) = await suite.AppClientAsync(tenant);
        var appToken = (await ApiAssert.OkAsync(await suite.TokenRequestAsync(tenant, appId, appSecret, new() { ["grant_type"] = "client_credentials" })))["access_token"]!.GetValue<string>();
        await OAuthErrorAsync(await suite.TokenRequestAsync(tenant, appId, appSecret, Exchange(appToken, otherTask, null)), "invalid_request");

        // Its own exchange still works after all that.
        var token = (await ApiAssert.OkAsync(await ExchangeAsync(tenant, other, otherTask, null)))["access_token"]!.GetValue<string>();
        Assert.Equal("reports.read", new JsonWebToken(token).GetPayloadValue<string>("scope"));
    }

    private sealed record ScopedAgent(string Id, string ClientId, string Secret, string Token);

    private async Task<ScopedAgent> AgentAsync(TestTenant tenant, string[] capabilities)
    {
        using var admin = suite.AdminClientFor(tenant);
        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new
        {
            name = $"Agent {Guid.NewGuid():N}",
            identityType = "client_credentials",
            capabilities,
        }), 201))["data"]!;
        var clientId = created["clientId"]!.GetValue<string>();
        var secret = created["clientSecret"]!.GetValue<string>();
        var token = (await ApiAssert.OkAsync(await suite.TokenRequestAsync(tenant, clientId, secret, new() { ["grant_type"] = "client_credentials" })))["access_token"]!.GetValue<string>();
        return new ScopedAgent(created["id"]!.GetValue<string>(), clientId, secret, token);
    }

    private static Dictionary<string, string> Exchange(string subjectToken, string taskId, string? scope)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = TokenExchange,
            ["subject_token"] = subjectToken,
            ["subject_token_type"] = AccessTokenType,
            ["jit_task_id"] = taskId,
        };
        if (scope is not null)
        {
            form["scope"] = scope;
        }

        return form;
    }

    private Task<HttpResponseMessage> ExchangeAsync(TestTenant tenant, ScopedAgent agent, string taskId, string? scope) =>
        suite.TokenRequestAsync(tenant, agent.ClientId, agent.Secret, Exchange(agent.Token, taskId, scope));

    private static async Task OAuthErrorAsync(HttpResponseMessage response, string error)
    {
        using (response)
        {
            var body = await response.Content.ReadFromJsonAsync<JsonObject>();
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{response.StatusCode}: {body}");
            Assert.Equal(error, body!["error"]!.GetValue<string>());
        }
    }

    private async Task<JsonObject> IntrospectAsync(TestTenant tenant, string token)
    {
        var (id, secret) = await suite.AppClientAsync(tenant);
        return await ApiAssert.OkAsync(await suite.TokenRequestAsync(tenant, id, secret, new() { ["token"] = token }, "oauth/introspect"));
    }
}
