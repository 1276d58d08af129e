using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

namespace LumoAuth.Authorization.Tests;

/// <summary>The engine behind the API: rewrites, conditions, contextual tuples, batch check, lists, expand, reads, changes and batch writes.</summary>
public sealed class ZanzibarQueryTests(AuthorizationSuite suite) : IClassFixture<AuthorizationSuite>
{
    [Fact]
    public async Task Check_FollowsTupleToUserset_AndExplainsThePath()
    {
        var (tenant, client) = await TenantWithSchemaAsync();
        await client.WriteAsync(tenant, "folder:root", "owner", "user:alice");
        await client.WriteAsync(tenant, "folder:projects", "parent", "folder:root");
        await client.WriteAsync(tenant, "document:plan", "parent", "folder:projects");

        var allowed = await client.CheckAsync(tenant, new { @object = "document:plan", relation = "viewer", user = "user:alice" });
        Assert.True(allowed["allowed"]!.GetValue<bool>());
        var metadata = allowed["resolution_metadata"]!;
        Assert.Equal("inheritance", metadata["resolved_via"]!.GetValue<string>());
        Assert.Equal(
            ["folder:root#owner@user:alice", "folder:projects#parent@folder:root", "document:plan#parent@folder:projects"],
            metadata["path"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal(2, metadata["depth"]!.GetValue<int>());

        Assert.False(await client.AllowedAsync(tenant, "document:plan", "editor", "user:alice"));
        await client.WriteAsync(tenant, "document:plan", "viewer", "user:*");
        var publicView = await client.CheckAsync(tenant, new { @object = "document:plan", relation = "viewer", user = "user:zoe" });
        Assert.True(publicView["allowed"]!.GetValue<bool>());
        Assert.Equal("direct", publicView["resolution_metadata"]!["resolved_via"]!.GetValue<string>());
    }

    [Fact]
    public async Task Conditions_AreStoredWithTuples_AndEvaluatedWithTheRequestContext()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await client.PutSchemaAsync(tenant, """
            model
              schema 1.1
            type user
            type document
              relations
                define viewer: [user with before_deadline]
            condition before_deadline(now: timestamp, deadline: timestamp) {
              now < deadline
            }
            """);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", new
        {
            @object = "document:report", relation = "viewer", user = "user:ann",
            condition = new { name = "before_deadline", context = new { deadline = "2030-01-01T00:00:00Z" } },
        }));
        // A tuple without the declared condition does not fit the type restriction.
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", new { @object = "document:report", relation = "viewer", user = "user:bob" }), 400, "validation_error");

        var before = await client.CheckAsync(tenant, new { @object = "document:report", relation = "viewer", user = "user:ann", context = new { now = "2029-06-01T00:00:00Z" } });
        Assert.True(before["allowed"]!.GetValue<bool>());
        var after = await client.CheckAsync(tenant, new { @object = "document:report", relation = "viewer", user = "user:ann", context = new { now = "2031-06-01T00:00:00Z" } });
        Assert.False(after["allowed"]!.GetValue<bool>());
        var missing = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { @object = "document:report", relation = "viewer", user = "user:ann" }), 400, "ZANZIBAR_CHECK_FAILED");
        Assert.Equal("condition_failed", missing["details"]!["reason"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { @object = "document:report", relation = "viewer", user = "user:ann", context = "now" }), 400, "validation_error");

        var read = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/tuples?object=document:report"));
        Assert.Equal("before_deadline", read["data"]![0]!["condition"]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task ContextualTuples_CountForOneRequestOnly()
    {
        var (tenant, client) = await TenantWithSchemaAsync();
        var withContext = await client.CheckAsync(tenant, new
        {
            @object = "document:memo", relation = "viewer", user = "user:kim",
            contextual_tuples = new[] { new { @object = "document:memo", relation = "owner", user = "user:kim" } },
        });
        Assert.True(withContext["allowed"]!.GetValue<bool>());
        Assert.False(await client.AllowedAsync(tenant, "document:memo", "viewer", "user:kim"));
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new
        {
            @object = "document:memo", relation = "viewer", user = "user:kim",
            contextual_tuples = new[] { new { @object = "document:memo", relation = "owner", user = "group:eng#member" } },
        }), 400, "ZANZIBAR_CHECK_FAILED");
    }

    [Fact]
    public async Task BatchCheck_AnswersEachInOrder_AndBoundsTheBatch()
    {
        var (tenant, client) = await TenantWithSchemaAsync();
        await client.WriteAsync(tenant, "group:eng", "member", "user:lee");
        await client.WriteAsync(tenant, "document:spec", "editor", "group:eng#member");
        var response = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check/batch", new
        {
            checks = new object[]
            {
                new { @object = "document:spec", relation = "viewer", user = "user:lee" },
                new { @object = "document:spec", relation = "owner", user = "user:lee" },
                new { @object = "document:spec", relation = "can_fly", user = "user:lee" },
            },
        }));
        var results = response["results"]!.AsArray();
        Assert.True(results[0]!["allowed"]!.GetValue<bool>());
        Assert.False(results[1]!["allowed"]!.GetValue<bool>());
        Assert.Equal("ZANZIBAR_CHECK_FAILED", results[2]!["error"]!["code"]!.GetValue<string>());

        var tooMany = Enumerable.Range(0, 101).Select(i => new { @object = $"document:{i}", relation = "viewer", user = "user:lee" }).ToArray();
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check/batch", new { checks = tooMany }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check/batch", new { checks = Array.Empty<object>() }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check/batch", new { checks = new[] { new { relation = "viewer" } } }), 400, "MISSING_FIELDS");
    }

    [Fact]
    public async Task ListObjects_PagesWithAContinuationToken_AndSaysItIsComplete()
    {
        var (tenant, client) = await TenantWithSchemaAsync();
        await client.WriteAsync(tenant, "group:eng", "member", "user:max");
        var writes = Enumerable.Range(0, 7).Select(i => new { @object = $"document:d{i}", relation = "viewer", user = "group:eng#member" }).ToArray();
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { writes }));

        var seen = new List<string>();
        string? token = null;
        var pages = 0;
        do
        {
            var page = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-objects", new
            {
                subject = "user:max", permission = "viewer", object_type = "document", limit = 3, continuation_token = token,
            }));
            Assert.True(page["complete"]!.GetValue<bool>());
            seen.AddRange(page["objects"]!.AsArray().Select(o => o!.GetValue<string>()));
            token = page["continuation_token"]?.GetValue<string>();
            pages++;
        }
        while (token is not null);

        Assert.Equal(3, pages);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"document:d{i}"), seen);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-objects", new { permission = "viewer", object_type = "document" }), 400, "MISSING_FIELDS");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-objects", new { subject = "user:max", permission = "viewer", object_type = "document", continuation_token = "%%%" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-objects", new { subject = "user:max", permission = "can_fly", object_type = "document" }), 400, "ZANZIBAR_CHECK_FAILED");
    }

    [Fact]
    public async Task ListContinuationToken_FromAnotherQuery_OrTampered_IsRefused()
    {
        var (tenant, client) = await TenantWithSchemaAsync();
        await client.WriteAsync(tenant, "group:eng", "member", "user:max");
        var writes = Enumerable.Range(0, 4).Select(i => new { @object = $"document:d{i}", relation = "viewer", user = "group:eng#member" }).ToArray();
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { writes }));
        var first = await ListObjectsAsync(client, tenant, new { subject = "user:max", permission = "viewer", object_type = "document", limit = 2 });
        var token = first["continuation_token"]!.GetValue<string>();

        // The same query resumes, whatever its page size and however its fields are spelled.
        var resumed = await ListObjectsAsync(client, tenant, new { user = "user:max", relation = "viewer", object_type = "document", limit = 5, continuation_token = token });
        Assert.Equal(["document:d2", "document:d3"], Objects(resumed));

        object[] otherQueries =
        [
            new { subject = "user:ann", permission = "viewer", object_type = "document", continuation_token = token },
            new { subject = "user:max", permission = "editor", object_type = "document", continuation_token = token },
            new { subject = "user:max", permission = "viewer", object_type = "folder", continuation_token = token },
            new { subject = "user:max", permission = "viewer", object_type = "document", continuation_token = token, context = new { now = "2030-01-01T00:00:00Z" } },
            new
            {
                subject = "user:max", permission = "viewer", object_type = "document", continuation_token = token,
                contextual_tuples = new[] { new { @object = "document:d9", relation = "viewer", user = "user:max" } },
            },
        ];
        foreach (var other in otherQueries)
        {
            await AssertRefusedAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-objects", other));
        }

        await AssertRefusedAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-subjects", new { @object = "document:d0", relation = "viewer", subject_type = "user", continuation_token = token }));
        var otherTenant = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(otherTenant);
        await AssertRefusedAsync(await otherClient.PostAsJsonAsync($"{otherTenant.Api}/zanzibar/list-objects", new { subject = "user:max", permission = "viewer", object_type = "document", continuation_token = token }));

        // Altered anywhere (a character flipped, cut short, padded), or never issued at all.
        var middle = token.Length / 2;
        string[] garbage =
        [
            token[..middle] + (token[middle] == 'A' ? 'B' : 'A') + token[(middle + 1)..],
            token[..^3],
            token + "x",
            "lc1.",
            "lc1.bm90LWpzb24",
            "lc1." + Base64UrlOf("""{"r":1,"q":"x","a":"document:d1","c":"x"}"""),
            "%%%",
            Convert.ToBase64String("not an item"u8.ToArray()),
        ];
        foreach (var bad in garbage)
        {
            await AssertRefusedAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-objects", new { subject = "user:max", permission = "viewer", object_type = "document", continuation_token = bad }));
        }
    }

    [Fact]
    public async Task ListContinuationToken_OfTheEarlierFormat_StillResumes()
    {
        var (tenant, client) = await TenantWithSchemaAsync();
        for (var i = 0; i < 4; i++)
        {
            await client.WriteAsync(tenant, $"document:d{i}", "viewer", "user:pat");
        }

        // Before tokens were bound to a query and a revision, a token was base64 of the last item handed out.
        var legacy = Convert.ToBase64String("document:d1"u8.ToArray());
        var page = await ListObjectsAsync(client, tenant, new { subject = "user:pat", permission = "viewer", object_type = "document", limit = 1, continuation_token = legacy });
        Assert.Equal(["document:d2"], Objects(page));
        var rest = await ListObjectsAsync(client, tenant, new { subject = "user:pat", permission = "viewer", object_type = "document", continuation_token = page["continuation_token"]!.GetValue<string>() });
        Assert.Equal(["document:d3"], Objects(rest));
        Assert.Null(rest["continuation_token"]?.GetValue<string>());

        var subjects = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-subjects", new
        {
            @object = "document:d0", relation = "viewer", subject_type = "user", continuation_token = Convert.ToBase64String("user:ann"u8.ToArray()),
        }));
        Assert.Equal(["user:pat"], subjects["subjects"]!.AsArray().Select(s => s!.GetValue<string>()));
    }

    [Fact]
    public async Task ListPages_OnALaggingReplica_AreAtLeastAsFreshAsThePageBefore_AndYieldEveryItemOnce()
    {
        var (tenant, client) = await TenantWithSchemaAsync();

        // A second replica on the same database whose index only catches up when a request demands it.
        await using var lagging = new AuthorizationFactory(suite.Admin, suite.Authorization.DatabaseConnectionString, new Dictionary<string, string?>
        {
            ["Authorization:Index:StalenessBudgetMilliseconds"] = "60000",
        });
        await lagging.InitializeAsync();
        using var laggingClient = AuthorizationSuite.ClientFor(lagging, tenant);
        Assert.Empty(Objects(await ListObjectsAsync(laggingClient, tenant, new { subject = "user:max", permission = "viewer", object_type = "document" })));

        await client.WriteAsync(tenant, "group:eng", "member", "user:max");
        var writes = Enumerable.Range(0, 7).Select(i => new { @object = $"document:d{i}", relation = "viewer", user = "group:eng#member" }).ToArray();
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { writes }));
        Assert.Empty(Objects(await ListObjectsAsync(laggingClient, tenant, new { subject = "user:max", permission = "viewer", object_type = "document" })));

        var query = new { subject = "user:max", permission = "viewer", object_type = "document", limit = 3 };
        var first = await ListObjectsAsync(client, tenant, query);
        Assert.Equal(["document:d0", "document:d1", "document:d2"], Objects(first));

        // A write lands between pages; the next pages come from the replica that has not seen any of the above.
        await client.WriteAsync(tenant, "document:d25", "viewer", "user:max");
        var seen = Objects(first).ToList();
        var revisions = new List<long> { Revision(first) };
        var token = first["continuation_token"]!.GetValue<string>();
        while (token is not null)
        {
            var page = await ListObjectsAsync(laggingClient, tenant, new { query.subject, query.permission, query.object_type, query.limit, continuation_token = token });
            seen.AddRange(Objects(page));
            revisions.Add(Revision(page));
            token = page["continuation_token"]?.GetValue<string>();
        }

        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Superset(Enumerable.Range(0, 7).Select(i => $"document:d{i}").ToHashSet(), seen.ToHashSet());
        Assert.Equal(revisions.Order(), revisions);
    }

    [Fact]
    public async Task ListSubjects_AndExpand_ShowWhoHasARelation()
    {
        var (tenant, client) = await TenantWithSchemaAsync();
        await client.WriteAsync(tenant, "group:eng", "member", "user:ida");
        await client.WriteAsync(tenant, "document:road", "editor", "group:eng#member");
        await client.WriteAsync(tenant, "document:road", "owner", "user:olga");

        var users = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-subjects", new { @object = "document:road", relation = "viewer", subject_type = "user" }));
        Assert.Equal(["user:ida", "user:olga"], users["subjects"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.True(users["complete"]!.GetValue<bool>());
        var groups = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-users", new { @object = "document:road", relation = "editor", subject_types = new[] { "group#member" } }));
        Assert.Equal(["group:eng#member"], groups["subjects"]!.AsArray().Select(s => s!.GetValue<string>()));
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-subjects", new { @object = "document:road", relation = "viewer" }), 400, "MISSING_FIELDS");

        var expanded = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/expand", new { @object = "document:road", relation = "editor" }));
        var tree = expanded["tree"]!;
        Assert.Equal("union", tree["type"]!.GetValue<string>());
        var direct = tree["children"]!.AsArray().First(c => c!["type"]!.GetValue<string>() == "direct")!;
        Assert.Equal(["group:eng#member"], direct["users"]!.AsArray().Select(u => u!.GetValue<string>()));
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/expand", new { @object = "document:road" }), 400, "MISSING_FIELDS");
    }

    [Fact]
    public async Task ReadTuples_FiltersAndPages()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        for (var i = 0; i < 5; i++)
        {
            await client.WriteAsync(tenant, $"repo:r{i}", "reader", "user:uma");
        }

        await client.WriteAsync(tenant, "repo:r0", "admin", "user:vic");
        var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/tuples?user=user:uma&limit=2&page=2"));
        Assert.Equal(5, page["meta"]!["total"]!.GetValue<long>());
        Assert.Equal(["repo:r2", "repo:r3"], page["data"]!.AsArray().Select(t => t!["object"]!.GetValue<string>()));
        var byObject = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/tuples?object=repo:r0"));
        Assert.Equal(2, byObject["meta"]!["total"]!.GetValue<long>());
        var byRelation = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/tuples?object_type=repo&relation=admin"));
        Assert.Equal("repo:r0#admin@user:vic", byRelation["data"]![0]!["tuple"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/zanzibar/tuples?user=nope"), 400, "validation_error");

        var other = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(other);
        var none = await ApiAssert.OkAsync(await otherClient.GetAsync($"{other.Api}/zanzibar/tuples?user=user:uma"));
        Assert.Equal(0, none["meta"]!["total"]!.GetValue<long>());
    }

    [Fact]
    public async Task BatchWrite_IsAtomic_AndHonoursPreconditions()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var first = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new
        {
            writes = new[] { new { @object = "doc:a", relation = "viewer", user = "user:x" }, new { @object = "doc:b", relation = "viewer", user = "user:x" } },
            preconditions = new[] { new { tuple = new { @object = "doc:a", relation = "viewer", user = "user:x" }, exists = false } },
        }));
        Assert.Equal(2, first["data"]!["written"]!.GetValue<int>());
        Assert.Equal(1, first["data"]!["revision"]!.GetValue<long>());

        // The same precondition now fails: nothing of the batch is applied and the revision stays.
        var conflict = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new
        {
            writes = new[] { new { @object = "doc:c", relation = "viewer", user = "user:x" } },
            deletes = new[] { new { @object = "doc:b", relation = "viewer", user = "user:x" } },
            preconditions = new[] { new { tuple = new { @object = "doc:a", relation = "viewer", user = "user:x" }, exists = false } },
        }), 409, "precondition_failed");
        Assert.Equal("doc:a#viewer@user:x", conflict["details"]!["tuple"]!.GetValue<string>());
        Assert.False(await client.AllowedAsync(tenant, "doc:c", "viewer", "user:x"));
        Assert.True(await client.AllowedAsync(tenant, "doc:b", "viewer", "user:x"));

        var moved = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new
        {
            writes = new[] { new { @object = "doc:c", relation = "viewer", user = "user:x" } },
            deletes = new[] { new { @object = "doc:b", relation = "viewer", user = "user:x" } },
            preconditions = new[] { new { tuple = new { @object = "doc:a", relation = "viewer", user = "user:x" }, exists = true } },
        }));
        Assert.Equal(2, moved["data"]!["revision"]!.GetValue<long>());
        Assert.Equal(1, moved["data"]!["deleted"]!.GetValue<int>());

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { writes = Array.Empty<object>() }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new
        {
            writes = new[] { new { @object = "doc:d", relation = "viewer", user = "user:x" } },
            preconditions = new object?[] { null },
        }), 400, "validation_error");
        // A string JSON accepts but nothing can read (a lone surrogate escape) is the caller's input.
        using var unreadable = new StringContent("""{"writes":[{"object":"doc:\ud800","relation":"viewer","user":"user:x"}]}""", System.Text.Encoding.UTF8, "application/json");
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, (await client.PostAsync($"{tenant.Api}/zanzibar/write", unreadable)).StatusCode);
        var tooMany = Enumerable.Range(0, 101).Select(i => new { @object = $"doc:{i}", relation = "viewer", user = "user:x" }).ToArray();
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { writes = tooMany }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { writes = new[] { new { @object = "doc", relation = "viewer", user = "user:x" } } }), 400, "ZANZIBAR_CHECK_FAILED");
    }

    [Fact]
    public async Task BatchWrite_IsIdempotent_ButNamesEachTupleOnce()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var a = new { @object = "doc:a", relation = "viewer", user = "user:x" };
        var b = new { @object = "doc:b", relation = "viewer", user = "user:x" };
        var c = new { @object = "doc:c", relation = "viewer", user = "user:x" };
        var missing = new { @object = "doc:zz", relation = "viewer", user = "user:x" };
        await client.WriteAsync(tenant, "doc:a", "viewer", "user:x");

        // The recorded default: a present tuple re-written, or an absent one deleted, is no error and no change.
        var again = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { writes = new[] { a, b }, deletes = new[] { missing } }));
        Assert.Equal(1, again["data"]!["written"]!.GetValue<int>());
        Assert.Equal(0, again["data"]!["deleted"]!.GetValue<int>());
        // OpenFGA's strictness, per tuple, through preconditions.
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new
        {
            writes = new[] { a, c }, preconditions = new[] { new { tuple = a, exists = false } },
        }), 409, "precondition_failed");
        Assert.False(await client.AllowedAsync(tenant, "doc:c", "viewer", "user:x"));

        // The same tuple twice in one list, or in both lists (no condition change), is refused and nothing is applied.
        var revision = again["data"]!["revision"]!.GetValue<long>();
        foreach (var body in new object[]
                 {
                     new { writes = new[] { c, c } },
                     new { writes = new object[] { c, new { object_type = "doc", object_id = "c", relation = "viewer", user_type = "user", user_id = "x" } } },
                     new { writes = new[] { c }, deletes = new[] { b, b } },
                     new { writes = new[] { c, a }, deletes = new[] { a } },
                     new { writes = new[] { new { tuple = "doc:c#viewer@user:x" } }, deletes = new[] { new { tuple = "doc:c:viewer:user:x" } } },
                 })
        {
            await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", body), 400, "validation_error");
        }

        Assert.False(await client.AllowedAsync(tenant, "doc:c", "viewer", "user:x"));
        Assert.True(await client.AllowedAsync(tenant, "doc:a", "viewer", "user:x"));
        Assert.True(await client.AllowedAsync(tenant, "doc:b", "viewer", "user:x"));
        var changes = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/changes"));
        Assert.Equal(revision, changes["revision"]!.GetValue<long>());
    }

    [Fact]
    public async Task ConditionChange_IsRefused_UnlessTheBatchDeletesAndWritesTheTuple()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await client.PutSchemaAsync(tenant, """
            model
              schema 1.1
            type user
            type doc
              relations
                define viewer: [user, user with in_office]
            condition in_office(floor: int, max_floor: int) {
              floor <= max_floor
            }
            """);
        var plain = new { @object = "doc:a", relation = "viewer", user = "user:x" };
        var conditional = new { @object = "doc:a", relation = "viewer", user = "user:x", condition = new { name = "in_office", context = new { max_floor = 3 } } };
        var otherContext = new { @object = "doc:a", relation = "viewer", user = "user:x", condition = new { name = "in_office", context = new { max_floor = 9 } } };
        var b = new { @object = "doc:b", relation = "viewer", user = "user:x" };
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", plain));

        // A write alone never changes a present tuple's condition: single or batch, 409 and nothing applied.
        var single = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", conditional), 409, "tuple_condition_conflict");
        Assert.Equal("doc:a#viewer@user:x", single["details"]!["tuple"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { writes = new object[] { b, conditional } }), 409, "tuple_condition_conflict");
        Assert.False(await client.AllowedAsync(tenant, "doc:b", "viewer", "user:x"));
        Assert.True(await client.AllowedAsync(tenant, "doc:a", "viewer", "user:x"));

        // Delete and write in one batch is the explicit change: atomic, one revision, a delete before the write.
        var changed = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { deletes = new[] { plain }, writes = new[] { conditional } }));
        Assert.Equal(1, changed["data"]!["written"]!.GetValue<int>());
        Assert.Equal(1, changed["data"]!["deleted"]!.GetValue<int>());
        var inOffice = await client.CheckAsync(tenant, new { @object = "doc:a", relation = "viewer", user = "user:x", context = new { floor = 2 }, consistency_token = changed.Token() });
        Assert.True(inOffice["allowed"]!.GetValue<bool>());
        var upstairs = await client.CheckAsync(tenant, new { @object = "doc:a", relation = "viewer", user = "user:x", context = new { floor = 5 }, consistency_token = changed.Token() });
        Assert.False(upstairs["allowed"]!.GetValue<bool>());
        var feed = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/changes?since={changed["data"]!["revision"]!.GetValue<long>() - 1}"));
        Assert.Equal(["delete", "write"], feed["data"]!.AsArray().Select(c => c!["operation"]!.GetValue<string>()));
        Assert.Equal("in_office", feed["data"]![1]!["condition"]!.GetValue<string>());

        // Retried, the change is already in place: nothing changes. The same condition again alone is fine; another context is not.
        var retried = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { deletes = new[] { plain }, writes = new[] { conditional } }));
        Assert.False(retried["data"]!["changed"]!.GetValue<bool>());
        Assert.Equal(changed["data"]!["revision"]!.GetValue<long>(), retried["data"]!["revision"]!.GetValue<long>());
        var same = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", conditional));
        Assert.False(same["data"]!["changed"]!.GetValue<bool>());
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", otherContext), 409, "tuple_condition_conflict");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", plain), 409, "tuple_condition_conflict");
        // Both lists with the same condition is no change of condition: refused.
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { deletes = new[] { conditional }, writes = new[] { conditional } }), 400, "validation_error");

        // And back to unconditional, the same way.
        var back = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { deletes = new[] { conditional }, writes = new[] { plain } }));
        Assert.True(await client.AllowedAsync(tenant, "doc:a", "viewer", "user:x", back.Token()));
        var read = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/tuples?object=doc:a"));
        Assert.Null(Assert.Single(read["data"]!.AsArray())!["condition"]);
    }

    [Fact]
    public async Task ChangesFeed_ListsEveryChangeSinceARevision()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await client.WriteAsync(tenant, "doc:1", "viewer", "user:a");
        await client.WriteAsync(tenant, "doc:2", "viewer", "user:a");
        await ApiAssert.OkAsync(await client.DeleteAsync(tenant, "doc:1", "viewer", "user:a"));

        var all = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/changes"));
        Assert.Equal(["write", "write", "delete"], all["data"]!.AsArray().Select(c => c!["operation"]!.GetValue<string>()));
        Assert.Equal(3, all["revision"]!.GetValue<long>());
        var since = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/changes?since=2"));
        var only = Assert.Single(since["data"]!.AsArray());
        Assert.Equal("doc:1#viewer@user:a", only!["tuple"]!.GetValue<string>());
        Assert.Equal(3, since["next_since"]!.GetValue<long>());
        var paged = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/changes?limit=2"));
        Assert.Equal(2, paged["next_since"]!.GetValue<long>());
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/zanzibar/changes?since=-1"), 400, "validation_error");

        var other = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(other);
        Assert.Empty((await ApiAssert.OkAsync(await otherClient.GetAsync($"{other.Api}/zanzibar/changes")))["data"]!.AsArray());
    }

    private static async Task<JsonObject> ListObjectsAsync(HttpClient client, TestTenant tenant, object body) =>
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-objects", body));

    private static List<string> Objects(JsonObject page) => [.. page["objects"]!.AsArray().Select(o => o!.GetValue<string>())];

    /// <summary>The revision a page was answered at, from its consistency token (<c>zk_{store}_{revision}</c>).</summary>
    private static long Revision(JsonObject page) => long.Parse(page["consistency_token"]!.GetValue<string>().Split('_')[^1], System.Globalization.CultureInfo.InvariantCulture);

    private static string Base64UrlOf(string text) => System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes(text));

    private static async Task AssertRefusedAsync(HttpResponseMessage response)
    {
        var error = await ApiAssert.ErrorAsync(response, 400, "validation_error");
        Assert.NotNull(error["details"]?["continuation_token"]);
    }

    private async Task<(TestTenant Tenant, HttpClient Client)> TenantWithSchemaAsync()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var client = suite.ClientFor(tenant);
        await client.PutSchemaAsync(tenant, ZanzibarHttp.DocumentsSchema);
        return (tenant, client);
    }
}
