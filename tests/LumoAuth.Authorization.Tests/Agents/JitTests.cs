using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Authorization.Tests.Agents;

/// <summary>Just-in-time permissions (AG-09…13) through the gateway: tasks, risk, approvals, tokens the token service signs, revocation.</summary>
public sealed class JitTests(AgentsSuite suite) : IClassFixture<AgentsSuite>
{
    private static readonly object ReadFile = new { type = "file_access", actions = new[] { "read" }, identifier = "report_2024.pdf" };
    private static readonly object DeleteFile = new { type = "file_access", actions = new[] { "delete" }, identifier = "report_2024.pdf" };

    [Fact]
    public async Task LowRisk_IsApprovedAtOnce_ItsTokenCarriesTheDetails_AndCompletingTheTaskRevokesIt()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var agent = await AgentAsync(tenant);
        var task = await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { name = "Research Task #123", type = "research", on_behalf_of = "alice@example.com" }), 201);
        var taskId = task["task_id"]!.GetValue<string>();
        Assert.StartsWith("task_", taskId);
        Assert.StartsWith("caep_", task["caep_session_id"]!.GetValue<string>());
        Assert.Equal("alice@example.com", task["on_behalf_of"]!.GetValue<string>());
        Assert.True(task["expires_at"]!.GetValue<DateTimeOffset>() > DateTimeOffset.UtcNow);

        var granted = await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/request", new { task_id = taskId, authorization_details = ReadFile, justification = "Q4 analysis", requested_ttl = 5000 }));
        Assert.Equal("approved", granted["status"]!.GetValue<string>());
        Assert.Equal("low", granted["risk_level"]!.GetValue<string>());
        Assert.Equal(900, granted["granted_ttl"]!.GetValue<int>());
        var tokenUrl = granted["token_url"]!.GetValue<string>();

        var issued = await ApiAssert.OkAsync(await agent.PostAsync(tokenUrl, null));
        var accessToken = issued["access_token"]!.GetValue<string>();
        Assert.Equal("Bearer", issued["token_type"]!.GetValue<string>());
        Assert.InRange(issued["expires_in"]!.GetValue<int>(), 800, 900);
        Assert.Equal(taskId, issued["task_id"]!.GetValue<string>());
        Assert.Equal(granted["request_id"]!.GetValue<string>(), issued["jit_request_id"]!.GetValue<string>());
        var jwt = new JsonWebToken(accessToken);
        Assert.Equal("at+jwt", jwt.Typ);
        Assert.True(jwt.GetPayloadValue<bool>("jit"));
        Assert.Equal(taskId, jwt.GetPayloadValue<string>("task_id"));
        Assert.EndsWith($":task:{taskId}", jwt.Subject);
        Assert.Equal("alice@example.com", jwt.GetPayloadValue<string>("on_behalf_of"));
        Assert.Contains("report_2024.pdf", jwt.GetClaim("authorization_details").Value);

        // A second fetch gets nothing: one request, one token.
        await ApiAssert.ErrorAsync(await agent.PostAsync(tokenUrl, null), 409, "token_already_issued");

        // The token service knows the token as its own, until the task is completed.
        var introspected = await IntrospectAsync(tenant, accessToken);
        Assert.True(introspected["active"]!.GetValue<bool>());
        var completed = await ApiAssert.OkAsync(await agent.PostAsync($"{tenant.Api}/jit/task/{taskId}/complete", null));
        Assert.Equal("completed", completed["status"]!.GetValue<string>());
        Assert.Equal(1, completed["revoked_tokens"]!.GetValue<int>());
        Assert.False((await IntrospectAsync(tenant, accessToken))["active"]!.GetValue<bool>());

        // An ended task takes no more requests and cannot end twice.
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/request", new { task_id = taskId, authorization_details = ReadFile }), 409, "task_not_active");
        await ApiAssert.ErrorAsync(await agent.PostAsync($"{tenant.Api}/jit/task/{taskId}/complete", null), 409, "task_not_active");
    }

    [Fact]
    public async Task HighRisk_WaitsForAPerson_WhoseApprovalTheStatusAndTheCallbackShow()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var (agent, agentId) = await AgentWithIdAsync(tenant);
        using var agentClient = agent;
        using var callback = new LoopbackReceiver("/jit-callback/");
        var taskId = await TaskAsync(agent, tenant);

        using var asked = await agent.PostAsJsonAsync($"{tenant.Api}/jit/request", new { task_id = taskId, authorization_details = new[] { DeleteFile }, justification = "Clean up", callback_url = callback.Uri });
        Assert.Equal(HttpStatusCode.Accepted, asked.StatusCode);
        var pending = await ApiAssert.OkAsync(asked, 202);
        Assert.Equal("pending", pending["status"]!.GetValue<string>());
        Assert.Equal("high", pending["risk_level"]!.GetValue<string>());
        Assert.Null(pending["token_url"]);
        var requestId = pending["request_id"]!.GetValue<string>();
        var statusUrl = pending["status_url"]!.GetValue<string>();
        await ApiAssert.ErrorAsync(await agent.PostAsync($"{tenant.Api}/jit/request/{requestId}/token", null), 409, "request_pending");

        // The approvers' queue shows it; they approve.
        using var admin = suite.AdminClientFor(tenant);
        var queue = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/agents/jit-requests?status=pending"));
        var waiting = Assert.Single(queue["data"]!.AsArray())!;
        Assert.Equal(requestId, waiting["request"]!["request_id"]!.GetValue<string>());
        Assert.Equal("Clean up", waiting["justification"]!.GetValue<string>());
        var approved = await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/agents/jit-requests/{requestId}/approve", null));
        Assert.StartsWith("api_key:", approved["data"]!["decidedBy"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await admin.PostAsync($"{tenant.Api}/admin/agents/jit-requests/{requestId}/deny", null), 409, "request_not_pending");

        var status = await ApiAssert.OkAsync(await agent.GetAsync(statusUrl));
        Assert.Equal("approved", status["status"]!.GetValue<string>());
        var call = JsonNode.Parse((await callback.NextAsync()).Body)!;
        Assert.Equal(requestId, call["request_id"]!.GetValue<string>());
        Assert.Equal("approved", call["status"]!.GetValue<string>());
        Assert.Equal(status["token_url"]!.GetValue<string>(), call["token_url"]!.GetValue<string>());

        var issued = await ApiAssert.OkAsync(await agent.PostAsync(status["token_url"]!.GetValue<string>(), null));
        Assert.Contains("delete", issued["authorization_details"]![0]!["actions"]!.ToJsonString());

        // Deleting the agent voids the JIT tokens it holds.
        var accessToken = issued["access_token"]!.GetValue<string>();
        Assert.True((await IntrospectAsync(tenant, accessToken))["active"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"{tenant.Api}/admin/agents/{agentId}")).StatusCode);
        Assert.False((await IntrospectAsync(tenant, accessToken))["active"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Denials_AreShownToTheAgent_AndEnoughOfThemSuspendTheTaskAndRevokeItsTokens()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var agent = await AgentAsync(tenant);
        using var admin = suite.AdminClientFor(tenant);
        var taskId = await TaskAsync(agent, tenant);
        var read = await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/request", new { task_id = taskId, authorization_details = ReadFile }));
        var token = (await ApiAssert.OkAsync(await agent.PostAsync(read["token_url"]!.GetValue<string>(), null)))["access_token"]!.GetValue<string>();

        string? lastRequest = null;
        for (var denial = 1; denial <= 3; denial++)
        {
            var asked = await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/request", new { task_id = taskId, authorization_details = DeleteFile }), 202);
            // After two denials anything the task asks is critical.
            Assert.Equal(denial < 3 ? "high" : "critical", asked["risk_level"]!.GetValue<string>());
            lastRequest = asked["request_id"]!.GetValue<string>();
            var denied = await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents/jit-requests/{lastRequest}/deny", new { reason = "not today" }));
            Assert.Equal("denied", denied["data"]!["request"]!["status"]!.GetValue<string>());
        }

        var status = await ApiAssert.OkAsync(await agent.GetAsync($"{tenant.Api}/jit/request/{lastRequest}/status"));
        Assert.Equal("denied", status["status"]!.GetValue<string>());
        Assert.Equal("not today", status["deny_reason"]!.GetValue<string>());
        var task = await ApiAssert.OkAsync(await agent.GetAsync($"{tenant.Api}/jit/task/{taskId}"));
        Assert.Equal("suspended", task["status"]!.GetValue<string>());
        Assert.Equal("risk_threshold_exceeded", task["end_reason"]!.GetValue<string>());
        Assert.Equal(3, task["denial_count"]!.GetValue<int>());
        Assert.False(task["active"]!.GetValue<bool>());
        Assert.False((await IntrospectAsync(tenant, token))["active"]!.GetValue<bool>());
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/request", new { task_id = taskId, authorization_details = ReadFile }), 409, "task_not_active");
    }

    [Fact]
    public async Task Jit_RefusesBadInput_AndKeepsAgentsAndTenantsApart()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var agent = await AgentAsync(tenant);
        var taskId = await TaskAsync(agent, tenant);
        var api = $"{tenant.Api}/jit/request";
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { on_behalf_of = "not an address" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync(api, new { authorization_details = ReadFile }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync(api, new { task_id = taskId }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync(api, new { task_id = taskId, authorization_details = new { actions = new[] { "read" } } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync(api, new { task_id = taskId, authorization_details = new { type = "file_access", actions = "read" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync(api, new { task_id = taskId, authorization_details = Array.Empty<object>() }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync(api, new { task_id = taskId, authorization_details = ReadFile, requested_ttl = 0 }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync(api, new { task_id = taskId, authorization_details = ReadFile, callback_url = "ftp://example.com/x" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync(api, new { task_id = "task_nope", authorization_details = ReadFile }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await agent.GetAsync($"{tenant.Api}/jit/request/jit_{Guid.NewGuid():N}/status"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await agent.PostAsync($"{tenant.Api}/jit/task/{Guid.NewGuid()}/complete", null), 404, "resource_not_found");

        // A request that names no actions may mean all of them: a person decides.
        var unnamed = await ApiAssert.OkAsync(await agent.PostAsJsonAsync(api, new { task_id = taskId, authorization_details = new { type = "database_query", identifier = "orders" } }), 202);
        Assert.Equal("high", unnamed["risk_level"]!.GetValue<string>());

        // Another agent of the tenant cannot use, read or end this agent's task and requests.
        var mine = await ApiAssert.OkAsync(await agent.PostAsJsonAsync(api, new { task_id = taskId, authorization_details = ReadFile }));
        using var other = await AgentAsync(tenant);
        await ApiAssert.ErrorAsync(await other.PostAsJsonAsync(api, new { task_id = taskId, authorization_details = ReadFile }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await other.GetAsync(mine["status_url"]!.GetValue<string>()), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await other.PostAsync(mine["token_url"]!.GetValue<string>(), null), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await other.PostAsync($"{tenant.Api}/jit/task/{taskId}/complete", null), 404, "resource_not_found");

        // Another tenant's administrators see none of it; the tenant's own see it.
        var elsewhere = await suite.Admin.CreateTenantAsync();
        using var elsewhereAdmin = suite.AdminClientFor(elsewhere);
        Assert.Empty((await ApiAssert.OkAsync(await elsewhereAdmin.GetAsync($"{elsewhere.Api}/admin/agents/jit-requests")))["data"]!.AsArray());
        await ApiAssert.ErrorAsync(await elsewhereAdmin.PostAsync($"{elsewhere.Api}/admin/agents/jit-requests/{mine["request_id"]}/approve", null), 404, "resource_not_found");
        using var admin = suite.AdminClientFor(tenant);
        Assert.Single((await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/agents/jit-requests?status=approved")))["data"]!.AsArray());
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{tenant.Api}/admin/agents/jit-requests?status=maybe"), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents/jit-requests/{mine["request_id"]}/deny", new { reason = new string('r', 501) }), 400, "validation_error");

        // The agent endpoints take an agent's key only.
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/jit/task", new { name = "x" }), 401, "unauthorized");
    }

    [Fact]
    public async Task Subtasks_NameTheirParent_InTheAnswerAndTheToken_NeverOutliveIt_AndEndWithIt()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var agent = await AgentAsync(tenant);
        var parent = await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { name = "Plan" }), 201);
        var parentId = parent["task_id"]!.GetValue<string>();
        Assert.Null(parent["parent_task_id"]);
        var child = await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { name = "Step 1", parent_task_id = parentId }), 201);
        var childId = child["task_id"]!.GetValue<string>();
        Assert.Equal(parentId, child["parent_task_id"]!.GetValue<string>());
        Assert.True(child["expires_at"]!.GetValue<DateTimeOffset>() <= parent["expires_at"]!.GetValue<DateTimeOffset>());

        async Task<string> TokenAsync(string taskId)
        {
            var granted = await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/request", new { task_id = taskId, authorization_details = ReadFile }));
            return (await ApiAssert.OkAsync(await agent.PostAsync(granted["token_url"]!.GetValue<string>(), null)))["access_token"]!.GetValue<string>();
        }

        // The docs' claim: the parent's id in a subtask's token, null in a top-level one.
        var childToken = await TokenAsync(childId);
        Assert.Equal(parentId, new JsonWebToken(childToken).GetPayloadValue<string>("parent_task_id"));
        var parentToken = await TokenAsync(parentId);
        Assert.True(new JsonWebToken(parentToken).TryGetPayloadValue<object>("parent_task_id", out var none) && none is null);

        // Nesting stops at the limit; another agent's task is no parent; nor is an ended one.
        var grandchild = (await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { name = "Step 1.1", parent_task_id = childId }), 201))["task_id"]!.GetValue<string>();
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { name = "Too deep", parent_task_id = grandchild }), 400, "validation_error");
        using (var other = await AgentAsync(tenant))
        {
            await ApiAssert.ErrorAsync(await other.PostAsJsonAsync($"{tenant.Api}/jit/task", new { name = "Stranger", parent_task_id = parentId }), 404, "resource_not_found");
        }

        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { name = "Bad", parent_task_id = "not-a-task" }), 400, "validation_error");

        // Completing the parent ends its subtasks, all the way down, and revokes their tokens too.
        var completed = await ApiAssert.OkAsync(await agent.PostAsync($"{tenant.Api}/jit/task/{parentId}/complete", null));
        Assert.Equal(2, completed["revoked_tokens"]!.GetValue<int>());
        foreach (var ended in new[] { childId, grandchild })
        {
            var state = await ApiAssert.OkAsync(await agent.GetAsync($"{tenant.Api}/jit/task/{ended}"));
            Assert.Equal("completed", state["status"]!.GetValue<string>());
            Assert.Equal("parent_task_ended", state["end_reason"]!.GetValue<string>());
        }

        Assert.False((await IntrospectAsync(tenant, childToken))["active"]!.GetValue<bool>());
        await ApiAssert.ErrorAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { name = "Late", parent_task_id = parentId }), 409, "task_not_active");
    }

    [Fact]
    public async Task AnAgentsApprovalLimit_SendsRequestsStatingMoreThanIt_ToAPerson_WhateverTheirRisk()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var (agent, agentId) = await AgentWithIdAsync(tenant);
        using var agentClient = agent;
        using (var admin = suite.AdminClientFor(tenant))
        {
            await ApiAssert.ErrorAsync(
                await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { budgetPolicy = new { requireApprovalAboveUsd = -1 } }), 400, "validation_error");
            var updated = await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/agents/{agentId}", new { budgetPolicy = new { requireApprovalAboveUsd = 10 } }));
            Assert.Equal(10m, updated["data"]!["budgetPolicy"]!["requireApprovalAboveUsd"]!.GetValue<decimal>());
        }

        var me = await ApiAssert.OkAsync(await agent.GetAsync($"{tenant.Api}/agents/me"));
        Assert.Matches("\"require_approval_above_usd\":10(\\.0+)?[,}]", me.ToJsonString());

        var taskId = await TaskAsync(agent, tenant);
        async Task<string> StatusOfAsync(object detail)
        {
            using var answer = await agent.PostAsJsonAsync($"{tenant.Api}/jit/request", new { task_id = taskId, authorization_details = detail });
            var body = await ApiAssert.OkAsync(answer, answer.StatusCode == HttpStatusCode.Accepted ? 202 : 200);
            return body["status"]!.GetValue<string>();
        }

        // A purchase is medium risk: approved at once while it states no more than the limit.
        object Purchase(object amount) => new { type = "purchase", actions = new[] { "create" }, instructedAmount = amount };
        Assert.Equal("approved", await StatusOfAsync(Purchase(new { currency = "USD", amount = "9.99" })));
        Assert.Equal("approved", await StatusOfAsync(new { type = "purchase", actions = new[] { "create" }, amount = 10, currency = "usd" }));
        Assert.Equal("approved", await StatusOfAsync(new { type = "purchase", actions = new[] { "create" } }));
        Assert.Equal("pending", await StatusOfAsync(Purchase(new { currency = "USD", amount = "10.01" })));
        // An amount that cannot be compared is for a person too: another currency, none named, not a number.
        Assert.Equal("pending", await StatusOfAsync(Purchase(new { currency = "EUR", amount = "1.00" })));
        Assert.Equal("pending", await StatusOfAsync(new { type = "purchase", actions = new[] { "create" }, amount = "5" }));
        Assert.Equal("pending", await StatusOfAsync(Purchase(new { currency = "USD", amount = "lots" })));

        // Without the rule, the same request is judged by its risk alone.
        var (other, _) = await AgentWithIdAsync(tenant);
        using (other)
        {
            var otherTask = await TaskAsync(other, tenant);
            var answer = await ApiAssert.OkAsync(await other.PostAsJsonAsync($"{tenant.Api}/jit/request",
                new { task_id = otherTask, authorization_details = Purchase(new { currency = "USD", amount = "5000" }) }));
            Assert.Equal("approved", answer["status"]!.GetValue<string>());
        }
    }

    private async Task<HttpClient> AgentAsync(TestTenant tenant) => (await AgentWithIdAsync(tenant)).Client;

    private async Task<(HttpClient Client, string Id)> AgentWithIdAsync(TestTenant tenant)
    {
        using var admin = suite.AdminClientFor(tenant);
        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new { name = $"Agent {Guid.NewGuid():N}" }), 201))["data"]!;
        return (suite.AgentClient(created["apiKey"]!.GetValue<string>()), created["id"]!.GetValue<string>());
    }

    private static async Task<string> TaskAsync(HttpClient agent, TestTenant tenant) =>
        (await ApiAssert.OkAsync(await agent.PostAsJsonAsync($"{tenant.Api}/jit/task", new { name = "A task" }), 201))["task_id"]!.GetValue<string>();

    /// <summary>RFC 7662 at the token service, by a confidential client of the tenant.</summary>
    private async Task<JsonObject> IntrospectAsync(TestTenant tenant, string token)
    {
        using var tokenAdmin = suite.Token.CreateClient();
        tokenAdmin.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        var client = (await ApiAssert.OkAsync(await tokenAdmin.PostAsJsonAsync($"{tenant.Api}/admin/clients", new { name = "Resource server", type = "m2m" }), 201))["data"]!;
        using var http = suite.Token.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/oauth/introspect") { Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = token }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{client["clientId"]}:{client["secret"]}")));
        return await ApiAssert.OkAsync(await http.SendAsync(request));
    }
}
