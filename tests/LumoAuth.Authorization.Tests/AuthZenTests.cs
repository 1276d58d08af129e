using System.Net.Http.Json;
using LumoAuth.Testing;

namespace LumoAuth.Authorization.Tests;

/// <summary>The AuthZEN Authorization API 1.0 mapped onto the tenant's relationship graph.</summary>
public sealed class AuthZenTests(AuthorizationSuite suite) : IClassFixture<AuthorizationSuite>
{
    [Fact]
    public async Task Evaluation_AnswersFromTheGraph_WithThePath()
    {
        var (tenant, client) = await SeededAsync();
        var allowed = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluation", new
        {
            subject = new { type = "user", id = "alice" }, action = new { name = "viewer" }, resource = new { type = "document", id = "plan" },
        }));
        Assert.True(allowed["decision"]!.GetValue<bool>());
        Assert.Equal(2, allowed["context"]!["path"]!.AsArray().Count);
        var denied = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluation", new
        {
            subject = new { type = "user", id = "bob" }, action = new { name = "viewer" }, resource = new { type = "document", id = "plan" },
        }));
        Assert.False(denied["decision"]!.GetValue<bool>());
        var unknown = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluation", new
        {
            subject = new { type = "user", id = "alice" }, action = new { name = "can_fly" }, resource = new { type = "document", id = "plan" },
        }));
        Assert.False(unknown["decision"]!.GetValue<bool>());

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluation", new { subject = new { type = "user" }, action = new { name = "viewer" } }), 400, "validation_error");
        using var anonymous = suite.Authorization.CreateClient();
        await ApiAssert.ErrorAsync(await anonymous.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluation", new { }), 401, "unauthorized");
    }

    [Fact]
    public async Task Evaluations_HonourDefaults_AndSemantics()
    {
        var (tenant, client) = await SeededAsync();
        var all = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluations", new
        {
            subject = new { type = "user", id = "alice" },
            resource = new { type = "document", id = "plan" },
            evaluations = new object[] { new { action = new { name = "viewer" } }, new { action = new { name = "editor" } }, new { action = new { name = "owner" } } },
        }));
        Assert.Equal([true, false, false], all["evaluations"]!.AsArray().Select(e => e!["decision"]!.GetValue<bool>()));

        var firstDeny = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluations", new
        {
            subject = new { type = "user", id = "alice" },
            resource = new { type = "document", id = "plan" },
            evaluations = new object[] { new { action = new { name = "editor" } }, new { action = new { name = "viewer" } } },
            options = new { evaluations_semantic = "deny_on_first_deny" },
        }));
        Assert.Single(firstDeny["evaluations"]!.AsArray());
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluations", new { options = new { evaluations_semantic = "sometimes" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluations", new { evaluations = new object?[] { null } }), 400, "validation_error");
        using var unreadable = new StringContent("""{"subject":{"type":"user","id":"a"},"action":{"name":"viewer"},"resource":{"type":"doc","id":"a"},"context":{"k":"\ud800"}}""",
            System.Text.Encoding.UTF8, "application/json");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await client.PostAsync($"{tenant.Api}/access/v1/evaluation", unreadable)).StatusCode);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluations", new { evaluations = new[] { new { action = new { name = "viewer" } } } }), 400, "validation_error");
    }

    [Fact]
    public async Task Searches_FindSubjectsResourcesAndActions()
    {
        var (tenant, client) = await SeededAsync();
        var subjects = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/subject", new
        {
            subject = new { type = "user" }, action = new { name = "viewer" }, resource = new { type = "document", id = "plan" },
        }));
        Assert.Equal(["alice", "carol"], subjects["results"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()));
        var resources = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/resource", new
        {
            subject = new { type = "user", id = "alice" }, action = new { name = "viewer" }, resource = new { type = "document" }, page = new { limit = 1 },
        }));
        Assert.Single(resources["results"]!.AsArray());
        Assert.NotNull(resources["page"]!["next_token"]);
        var actions = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/action", new
        {
            subject = new { type = "user", id = "carol" }, resource = new { type = "document", id = "plan" },
        }));
        Assert.Equal(["editor", "owner", "viewer"], actions["results"]!.AsArray().Select(a => a!["name"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/resource", new { subject = new { type = "user", id = "alice" } }), 400, "validation_error");

        // Another tenant's graph is empty for the same names.
        var other = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(other);
        var none = await ApiAssert.OkAsync(await otherClient.PostAsJsonAsync($"{other.Api}/access/v1/search/subject", new
        {
            subject = new { type = "user" }, action = new { name = "viewer" }, resource = new { type = "document", id = "plan" },
        }));
        Assert.Empty(none["results"]!.AsArray());
    }

    [Fact]
    public async Task Configuration_NamesTheTenantsEndpoints()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var anonymous = suite.Authorization.CreateClient();
        var config = await ApiAssert.OkAsync(await anonymous.GetAsync($"{tenant.Api}/.well-known/authzen-configuration"));
        Assert.EndsWith($"/t/{tenant.Slug}/api/v1", config["policy_decision_point"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.EndsWith("/access/v1/evaluations", config["access_evaluations_endpoint"]!.GetValue<string>(), StringComparison.Ordinal);
        await ApiAssert.ErrorAsync(await anonymous.GetAsync("/t/no-such-tenant/api/v1/.well-known/authzen-configuration"), 404, "tenant_not_found");
    }

    private async Task<(TestTenant Tenant, HttpClient Client)> SeededAsync()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var client = suite.ClientFor(tenant);
        await client.PutSchemaAsync(tenant, ZanzibarHttp.DocumentsSchema);
        await client.WriteAsync(tenant, "folder:f", "viewer", "user:alice");
        await client.WriteAsync(tenant, "document:plan", "parent", "folder:f");
        await client.WriteAsync(tenant, "document:memo", "viewer", "user:alice");
        await client.WriteAsync(tenant, "document:plan", "owner", "user:carol");
        return (tenant, client);
    }
}
