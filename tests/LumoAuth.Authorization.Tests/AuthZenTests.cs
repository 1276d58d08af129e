using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
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
    public async Task Evaluations_WithoutAnArray_AnswerAsOneEvaluation()
    {
        var (tenant, client) = await SeededAsync();
        var single = new { subject = new { type = "user", id = "alice" }, action = new { name = "viewer" }, resource = new { type = "document", id = "plan" } };
        var expected = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluation", single));
        foreach (var body in new object[] { single, new { single.subject, single.action, single.resource, evaluations = Array.Empty<object>() } })
        {
            var answer = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluations", body));
            Assert.True(answer["decision"]!.GetValue<bool>());
            Assert.Null(answer["evaluations"]);
            Assert.Equal(expected.ToJsonString(), answer.ToJsonString());
        }

        // Failure path: as for a single evaluation, a missing resource is a 400 (and an empty array changes nothing).
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluations", new { single.subject, single.action, evaluations = Array.Empty<object>() }), 400, "validation_error");
    }

    [Fact]
    public async Task Searches_EndWithAnEmptyNextToken_AndRefuseATokenNotIssued()
    {
        var (tenant, client) = await SeededAsync();
        var actions = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/action", new
        {
            subject = new { type = "user", id = "carol" }, resource = new { type = "document", id = "plan" },
        }));
        Assert.Equal(string.Empty, actions["page"]!["next_token"]!.GetValue<string>());
        Assert.Null(actions["context"]);

        // Alice views memo and plan: page by one to the end.
        var search = new { subject = new { type = "user", id = "alice" }, action = new { name = "viewer" }, resource = new { type = "document" } };
        var first = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/resource", new { search.subject, search.action, search.resource, page = new { limit = 1 } }));
        var token = first["page"]!["next_token"]!.GetValue<string>();
        Assert.NotEqual(string.Empty, token);
        var last = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/resource", new { search.subject, search.action, search.resource, page = new { limit = 1, token } }));
        Assert.Equal("plan", Assert.Single(last["results"]!.AsArray())!["id"]!.GetValue<string>());
        Assert.Equal(string.Empty, last["page"]!["next_token"]!.GetValue<string>());
        Assert.Null(last["context"]);

        // A token this service did not hand out is refused, rather than starting over at page one (which would loop a PEP).
        foreach (var bad in new[] { "%%%", Convert.ToBase64String([0xff, 0xfe]) })
        {
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/resource", new { search.subject, search.action, search.resource, page = new { token = bad } }), 400, "validation_error");
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/subject", new
            {
                subject = new { type = "user" }, search.action, resource = new { type = "document", id = "plan" }, page = new { token = bad },
            }), 400, "validation_error");
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/action", new
            {
                subject = new { type = "user", id = "carol" }, resource = new { type = "document", id = "plan" }, page = new { token = bad },
            }), 400, "validation_error");
        }
    }

    [Fact]
    public async Task EmailIds_AreAccepted_InEvaluationsAndSearches()
    {
        var (tenant, client) = await SeededAsync();
        var alice = new { type = "user", id = "alice@example.com" };
        var plan = new { type = "document", id = "plan" };
        var viewer = new { name = "viewer" };

        // The spec's own example shape: an e-mail subject id is a decision, not a 400.
        var before = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluation", new { subject = alice, action = viewer, resource = plan }));
        Assert.False(before["decision"]!.GetValue<bool>());

        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", new { object_type = "document", object_id = "plan", relation = "viewer", user_type = "user", user_id = "alice@example.com" }));
        await client.WriteAsync(tenant, "document:q3@finance", "viewer", "user:alice@example.com");
        var after = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluation", new { subject = alice, action = viewer, resource = plan }));
        Assert.True(after["decision"]!.GetValue<bool>());
        Assert.Equal("document:plan#viewer@user:alice@example.com", after["context"]!["path"]![0]!.GetValue<string>());
        var many = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluations", new
        {
            subject = alice, action = viewer,
            evaluations = new object[] { new { resource = plan }, new { resource = new { type = "document", id = "q3@finance" } }, new { resource = new { type = "document", id = "memo" } } },
        }));
        Assert.Equal([true, true, false], many["evaluations"]!.AsArray().Select(e => e!["decision"]!.GetValue<bool>()));

        var subjects = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/subject", new { subject = new { type = "user" }, action = viewer, resource = plan }));
        Assert.Contains("alice@example.com", subjects["results"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()));
        var resources = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/resource", new { subject = alice, action = viewer, resource = new { type = "document" } }));
        Assert.Equal(["plan", "q3@finance"], resources["results"]!.AsArray().Select(r => r!["id"]!.GetValue<string>()));
        var actions = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/action", new { subject = alice, resource = new { type = "document", id = "q3@finance" } }));
        Assert.Equal(["viewer"], actions["results"]!.AsArray().Select(a => a!["name"]!.GetValue<string>()));

        // '#' and whitespace stay reserved.
        foreach (var id in new[] { "alice#member", "alice example" })
        {
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluation", new { subject = new { type = "user", id }, action = viewer, resource = plan }), 400, "validation_error");
        }
    }

    [Fact]
    public async Task RequestId_IsEchoed_WhenItIsPlain()
    {
        var (tenant, client) = await SeededAsync();
        var body = new { subject = new { type = "user", id = "alice" }, action = new { name = "viewer" }, resource = new { type = "document", id = "plan" } };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/access/v1/evaluation") { Content = JsonContent.Create(body) };
        request.Headers.Add("X-Request-ID", "bfe9eb29-ab87-4ca3-be83-a1d5d8305716");
        using var response = await client.SendAsync(request);
        Assert.Equal("bfe9eb29-ab87-4ca3-be83-a1d5d8305716", Assert.Single(response.Headers.GetValues("X-Request-ID")));

        // Failure path: longer than 128 characters is not echoed (nor logged).
        using var tooLong = new HttpRequestMessage(HttpMethod.Post, $"{tenant.Api}/access/v1/evaluation") { Content = JsonContent.Create(body) };
        tooLong.Headers.Add("X-Request-ID", new string('a', 129));
        using var refused = await client.SendAsync(tooLong);
        Assert.True(refused.IsSuccessStatusCode);
        Assert.False(refused.Headers.Contains("X-Request-ID"));
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

/// <summary>The authorization service with list answers capped at five results, so a search can be cut short.</summary>
public sealed class SmallListLimitSuite() : AdminWithAuthorizationSuite(authorizationSettings: new Dictionary<string, string?>
{
    ["Authorization:Index:MaxListResults"] = "5",
});

/// <summary>AuthZEN searches cut short by the list limit say so on every page; complete ones do not.</summary>
public sealed class AuthZenSearchLimitTests(SmallListLimitSuite suite) : IClassFixture<SmallListLimitSuite>
{
    [Fact]
    public async Task ResourceSearch_CutShort_SaysItIsIncomplete_OnEveryPage()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = AuthorizationSuite.ClientFor(suite.Authorization, tenant);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new
        {
            writes = Enumerable.Range(0, 10).Select(i => new { @object = $"document:d{i}", relation = "viewer", user = "user:alice" }).ToArray(),
        }));

        var pages = await PageThroughAsync(client, $"{tenant.Api}/access/v1/search/resource", new
        {
            subject = new { type = "user", id = "alice" }, action = new { name = "viewer" }, resource = new { type = "document" },
        });
        Assert.Equal(5, pages.Sum(p => p["results"]!.AsArray().Count));
        Assert.All(pages, IsMarkedIncomplete);

        // Failure path of the signal: a search within the limit carries no context.
        var small = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/resource", new
        {
            subject = new { type = "user", id = "bob" }, action = new { name = "viewer" }, resource = new { type = "document" },
        }));
        Assert.Null(small["context"]);
    }

    [Fact]
    public async Task SubjectSearch_CutShort_SaysItIsIncomplete_OnEveryPage()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = AuthorizationSuite.ClientFor(suite.Authorization, tenant);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new
        {
            writes = Enumerable.Range(0, 10).Select(i => new { @object = "document:plan", relation = "viewer", user = $"user:u{i}" })
                .Append(new { @object = "document:memo", relation = "viewer", user = "user:u0" }).ToArray(),
        }));

        var pages = await PageThroughAsync(client, $"{tenant.Api}/access/v1/search/subject", new
        {
            subject = new { type = "user" }, action = new { name = "viewer" }, resource = new { type = "document", id = "plan" },
        });
        Assert.Equal(5, pages.Sum(p => p["results"]!.AsArray().Count));
        Assert.All(pages, IsMarkedIncomplete);

        var complete = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/access/v1/search/subject", new
        {
            subject = new { type = "user" }, action = new { name = "viewer" }, resource = new { type = "document", id = "memo" },
        }));
        Assert.Single(complete["results"]!.AsArray());
        Assert.Null(complete["context"]);
    }

    private static void IsMarkedIncomplete(JsonObject page)
    {
        Assert.False(page["context"]!["complete"]!.GetValue<bool>());
        Assert.False(string.IsNullOrEmpty(page["context"]!["reason"]!.GetValue<string>()));
    }

    /// <summary>Pages two results at a time until <c>next_token</c> is "".</summary>
    private static async Task<List<JsonObject>> PageThroughAsync(HttpClient client, string url, object search)
    {
        var pages = new List<JsonObject>();
        var token = string.Empty;
        do
        {
            var body = JsonSerializer.SerializeToNode(search)!.AsObject();
            body["page"] = new JsonObject { ["limit"] = 2, ["token"] = token };
            var page = await ApiAssert.OkAsync(await client.PostAsJsonAsync(url, body));
            pages.Add(page);
            token = page["page"]!["next_token"]!.GetValue<string>();
        }
        while (token.Length > 0 && pages.Count < 10);

        Assert.Equal(string.Empty, token);
        return pages;
    }
}
