using System.Net.Http.Json;
using LumoAuth.Testing;
using Xunit.Abstractions;

namespace LumoAuth.Authorization.Tests.Agents;

/// <summary>
/// Bad input on every public endpoint of the agents service, through the gateway (<see cref="BadInputWalk"/>): as the
/// tenant's administrator (API key) and as an agent (its own key). Never a 500, always the documented error format.
/// </summary>
[LumoAuth.Testing.RunsLong(45)]
public sealed class AgentsBadInputWalkTests(AgentsSuite suite, ITestOutputHelper output) : IClassFixture<AgentsSuite>
{
    [Fact]
    public async Task AdminAndDiscoveryEndpoints_AnswerBadInput_WithDocumentedErrors()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var walk = new BadInputWalk(suite.Agents.Services, suite.Agents.CreateClient, name => name == "tenantSlug" ? tenant.Slug : null)
        {
            // The agent-only endpoints refuse an API key before reading a body: the other walk covers them.
            Include = pattern => pattern.StartsWith("/t/", StringComparison.Ordinal) && !IsAgentOnly(pattern),
            Headers = new Dictionary<string, string> { ["X-API-Key"] = tenant.ApiKey },
            Log = output.WriteLine,
        };

        await walk.AssertEveryAnswerIsCleanAsync(atLeast: 500);
    }

    [Fact]
    public async Task AgentEndpoints_AnswerBadInput_WithDocumentedErrors()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.AdminClientFor(tenant);
        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/agents", new { name = "Walker" }), 201))["data"]!;
        var walk = new BadInputWalk(suite.Agents.Services, suite.Agents.CreateClient, name => name == "tenantSlug" ? tenant.Slug : null)
        {
            Include = IsAgentOnly,
            Headers = new Dictionary<string, string> { ["Authorization"] = "Bearer " + created["apiKey"]!.GetValue<string>() },
            Log = output.WriteLine,
        };

        await walk.AssertEveryAnswerIsCleanAsync(atLeast: 200);
    }

    private static bool IsAgentOnly(string pattern) =>
        pattern.StartsWith("/t/{tenantSlug}/api/v1/agents", StringComparison.Ordinal) || pattern.StartsWith("/t/{tenantSlug}/api/v1/jit", StringComparison.Ordinal);
}
