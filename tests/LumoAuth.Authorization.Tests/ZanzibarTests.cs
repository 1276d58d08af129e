using System.Net.Http.Json;
using LumoAuth.Testing;

namespace LumoAuth.Authorization.Tests;

public sealed class ZanzibarTests(AuthorizationSuite suite) : IClassFixture<AuthorizationSuite>
{
    [Fact]
    public async Task WriteThenCheck_AllowsTheSubject_AndDeniesOthers()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var tuple = new { @object = "document:readme", relation = "viewer", user = "user:alice" };
        var written = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", tuple));
        Assert.True(written["data"]!["changed"]!.GetValue<bool>());
        Assert.Equal(1, written["data"]!["revision"]!.GetValue<long>());

        var allowed = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", tuple));
        Assert.True(allowed["allowed"]!.GetValue<bool>());
        Assert.Equal("direct", allowed["resolution_metadata"]!["resolved_via"]!.GetValue<string>());
        Assert.Equal(0, allowed["resolution_metadata"]!["depth"]!.GetValue<int>());

        var denied = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { @object = "document:readme", relation = "viewer", user = "user:bob" }));
        Assert.False(denied["allowed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task AllThreeDocumentedShapes_AreAccepted()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples",
            new { object_type = "folder", object_id = "projects", relation = "owner", user_type = "user", user_id = "bob" }));
        var shapeB = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { @object = "folder:projects", relation = "owner", user = "user:bob" }));
        Assert.True(shapeB["allowed"]!.GetValue<bool>());
        var shapeC = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { @object = "folder:projects", permission = "owner", subject = "user:bob" }));
        Assert.True(shapeC["allowed"]!.GetValue<bool>());
        var split = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check",
            new { object_type = "folder", object_id = "projects", relation = "owner", user_type = "user", user_id = "bob" }));
        Assert.True(split["allowed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task BothTupleNotations_AreAccepted()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", new { tuple = "document:123:viewer:user:alice" }));
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", new { tuple = "folder:projects#viewer@team:eng#member" }));
        var standard = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { tuple = "document:123#viewer@user:alice" }));
        Assert.True(standard["allowed"]!.GetValue<bool>());
        var read = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/tuples?object=folder:projects"));
        Assert.Equal("folder:projects#viewer@team:eng#member", read["data"]![0]!["tuple"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { tuple = "document:123:viewer" }), 400, "ZANZIBAR_CHECK_FAILED");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { tuple = "document:123@user:alice#viewer" }), 400, "ZANZIBAR_CHECK_FAILED");
    }

    [Fact]
    public async Task EmailIds_WriteCheckListAndChanges_ThroughBothNotations()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await client.PutSchemaAsync(tenant, ZanzibarHttp.DocumentsSchema);

        // Structured fields, the one-string notation and the colon notation, each with '@' in ids (objects and subjects).
        var structured = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples",
            new { object_type = "document", object_id = "inbox@team", relation = "viewer", user_type = "user", user_id = "alice@example.com" }));
        Assert.Equal("document:inbox@team#viewer@user:alice@example.com", structured["data"]!["tuple"]!.GetValue<string>());
        var notation = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", new { tuple = "document:q3@finance#viewer@group:ops@example.com#member" }));
        Assert.Equal("document:q3@finance#viewer@group:ops@example.com#member", notation["data"]!["tuple"]!.GetValue<string>());
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", new { tuple = "group:ops@example.com:member:user:bob@example.com" }));

        Assert.True(await client.AllowedAsync(tenant, "document:inbox@team", "viewer", "user:alice@example.com"));
        Assert.False(await client.AllowedAsync(tenant, "document:inbox@team", "viewer", "user:alice"));
        var viaNotation = await client.CheckAsync(tenant, new { tuple = "document:q3@finance#viewer@user:bob@example.com" });
        Assert.True(viaNotation["allowed"]!.GetValue<bool>());
        Assert.Equal(
            ["group:ops@example.com#member@user:bob@example.com", "document:q3@finance#viewer@group:ops@example.com#member"],
            viaNotation["resolution_metadata"]!["path"]!.AsArray().Select(p => p!.GetValue<string>()));
        var viaSplit = await client.CheckAsync(tenant, new { object_type = "document", object_id = "q3@finance", relation = "viewer", user_type = "user", user_id = "bob@example.com" });
        Assert.True(viaSplit["allowed"]!.GetValue<bool>());

        var objects = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-objects", new { subject = "user:bob@example.com", permission = "viewer", object_type = "document" }));
        Assert.Equal(["document:q3@finance"], objects["objects"]!.AsArray().Select(o => o!.GetValue<string>()));
        var subjects = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/list-subjects", new { @object = "document:q3@finance", relation = "viewer", subject_type = "user" }));
        Assert.Equal(["user:bob@example.com"], subjects["subjects"]!.AsArray().Select(o => o!.GetValue<string>()));
        var expanded = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/expand", new { @object = "group:ops@example.com", relation = "member" }));
        Assert.Equal("group:ops@example.com#member", expanded["tree"]!["name"]!.GetValue<string>());
        Assert.Equal(["user:bob@example.com"], expanded["tree"]!["users"]!.AsArray().Select(u => u!.GetValue<string>()));
        var read = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/tuples?user={Uri.EscapeDataString("user:alice@example.com")}"));
        Assert.Equal("document:inbox@team", Assert.Single(read["data"]!.AsArray())!["object"]!.GetValue<string>());

        // A delete through the notation reaches the index through the changelog, which parses the keys back.
        using var delete = new HttpRequestMessage(HttpMethod.Delete, $"{tenant.Api}/zanzibar/tuples") { Content = JsonContent.Create(new { tuple = "document:inbox@team#viewer@user:alice@example.com" }) };
        var deleted = await ApiAssert.OkAsync(await client.SendAsync(delete));
        Assert.True(deleted["data"]!["changed"]!.GetValue<bool>());
        Assert.False(await client.AllowedAsync(tenant, "document:inbox@team", "viewer", "user:alice@example.com", deleted.Token()));
        Assert.True(await client.AllowedAsync(tenant, "document:q3@finance", "viewer", "user:bob@example.com", deleted.Token()));

        var changes = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/changes"));
        Assert.Equal(
            [
                "write document:inbox@team#viewer@user:alice@example.com",
                "write document:q3@finance#viewer@group:ops@example.com#member",
                "write group:ops@example.com#member@user:bob@example.com",
                "delete document:inbox@team#viewer@user:alice@example.com",
            ],
            changes["data"]!.AsArray().Where(c => c!["operation"]!.GetValue<string>() != "schema")
                .Select(c => $"{c!["operation"]!.GetValue<string>()} {c["tuple"]!.GetValue<string>()}"));

        // Failure paths: '#' stays reserved in ids, and the notation needs its '@'.
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples",
            new { object_type = "document", object_id = "a#b", relation = "viewer", user_type = "user", user_id = "alice@example.com" }), 400, "ZANZIBAR_CHECK_FAILED");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { tuple = "document:inbox@team#viewer" }), 400, "ZANZIBAR_CHECK_FAILED");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { tuple = "document:inbox@team@user:alice#viewer" }), 400, "ZANZIBAR_CHECK_FAILED");
    }

    [Fact]
    public async Task UsersetMembership_IsFollowed_AndCyclesTerminate()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        foreach (var t in new[]
                 {
                     new { @object = "document:plan", relation = "viewer", user = "group:eng#member" },
                     new { @object = "group:eng", relation = "member", user = "group:platform#member" },
                     new { @object = "group:platform", relation = "member", user = "group:eng#member" },
                     new { @object = "group:platform", relation = "member", user = "user:carol" },
                 })
        {
            await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", t));
        }

        var allowed = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { @object = "document:plan", relation = "viewer", user = "user:carol" }));
        Assert.True(allowed["allowed"]!.GetValue<bool>());
        Assert.Equal("inheritance", allowed["resolution_metadata"]!["resolved_via"]!.GetValue<string>());
        var denied = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { @object = "document:plan", relation = "viewer", user = "user:mallory" }));
        Assert.False(denied["allowed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task DeleteTuple_RevokesAccess_AndBumpsTheRevision()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var tuple = new { @object = "document:x", relation = "editor", user = "user:dan" };
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", tuple));
        var again = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", tuple));
        Assert.False(again["data"]!["changed"]!.GetValue<bool>());

        using var delete = new HttpRequestMessage(HttpMethod.Delete, $"{tenant.Api}/zanzibar/tuples") { Content = JsonContent.Create(tuple) };
        var deleted = await ApiAssert.OkAsync(await client.SendAsync(delete));
        Assert.Equal(2, deleted["data"]!["revision"]!.GetValue<long>());
        var check = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", tuple));
        Assert.False(check["allowed"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData("{\"relation\":\"viewer\"}", 400, "MISSING_FIELDS")]
    [InlineData("{}", 400, "MISSING_FIELDS")]
    [InlineData("{\"object_type\":\"doc\",\"relation\":\"viewer\",\"user_type\":\"user\",\"user_id\":\"a\"}", 400, "MISSING_FIELDS")]
    [InlineData("{\"object_type\":\"doc\",\"object_id\":\"1\",\"relation\":\"viewer\",\"user_id\":\"a\"}", 400, "MISSING_FIELDS")]
    [InlineData("{\"object\":\"no-colon\",\"relation\":\"viewer\",\"user\":\"user:a\"}", 400, "ZANZIBAR_CHECK_FAILED")]
    [InlineData("{\"object\":\"doc:1\",\"relation\":\"Viewer!\",\"user\":\"user:a\"}", 400, "ZANZIBAR_CHECK_FAILED")]
    [InlineData("{\"object\":\"doc:1\",\"relation\":\"viewer\",\"user\":\"user:a b\"}", 400, "ZANZIBAR_CHECK_FAILED")]
    [InlineData("{\"object\":\"doc:*\",\"relation\":\"viewer\",\"user\":\"user:a\"}", 400, "ZANZIBAR_CHECK_FAILED")]
    [InlineData("{\"object\": 5}", 400, "invalid_request")]
    [InlineData("not json", 400, "invalid_request")]
    public async Task BadRequests_GetDocumentedCodes(string body, int status, string code)
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        await ApiAssert.ErrorAsync(await client.PostAsync($"{tenant.Api}/zanzibar/check", content), status, code);
        using var writeContent = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        await ApiAssert.ErrorAsync(await client.PostAsync($"{tenant.Api}/zanzibar/tuples", writeContent), status, code);
    }

    [Fact]
    public async Task TuplesOfOneTenant_AreInvisibleToAnother()
    {
        var a = await suite.Admin.CreateTenantAsync();
        var b = await suite.Admin.CreateTenantAsync();
        var tuple = new { @object = "document:shared-name", relation = "viewer", user = "user:eve" };
        using var clientA = suite.ClientFor(a);
        await ApiAssert.OkAsync(await clientA.PostAsJsonAsync($"{a.Api}/zanzibar/tuples", tuple));

        using var clientB = suite.ClientFor(b);
        var inB = await ApiAssert.OkAsync(await clientB.PostAsJsonAsync($"{b.Api}/zanzibar/check", tuple));
        Assert.False(inB["allowed"]!.GetValue<bool>());
        // B's credentials on A's path are refused outright.
        await ApiAssert.ErrorAsync(await clientB.PostAsJsonAsync($"{a.Api}/zanzibar/check", tuple), 401, "unauthorized");
    }

    [Fact]
    public async Task Zanzibar_WithoutCredentials_Returns401_AndBadBearer_Returns401InvalidToken()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var anonymous = suite.Authorization.CreateClient();
        await ApiAssert.ErrorAsync(await anonymous.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { }), 401, "unauthorized");
        using var bearer = suite.Authorization.CreateClient();
        bearer.DefaultRequestHeaders.Authorization = new("Bearer", "not.a.jwt");
        await ApiAssert.ErrorAsync(await bearer.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { }), 401, "invalid_token");
    }

    [Fact]
    public async Task Tuples_NeedARelationshipOrAdminScope_ChecksDoNot()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.Admin.ClientFor(tenant);
        async Task<HttpClient> KeyWithAsync(params string[] scopes)
        {
            var key = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = string.Join(' ', scopes), scopes }), 201))
                ["data"]!["key"]!.GetValue<string>();
            var client = suite.Authorization.CreateClient();
            client.DefaultRequestHeaders.Add("X-API-Key", key);
            return client;
        }

        var tuple = new { @object = "document:plan", relation = "viewer", user = "user:ann" };
        using var usersOnly = await KeyWithAsync("admin:users");
        using var reader = await KeyWithAsync("zanzibar.read");
        using var writer = await KeyWithAsync("zanzibar.write");

        await ApiAssert.ErrorAsync(await usersOnly.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", tuple), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await reader.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", tuple), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await reader.PostAsJsonAsync($"{tenant.Api}/zanzibar/write", new { writes = new[] { tuple } }), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await usersOnly.GetAsync($"{tenant.Api}/zanzibar/tuples"), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await usersOnly.GetAsync($"{tenant.Api}/zanzibar/changes"), 403, "insufficient_scope");
        await ApiAssert.OkAsync(await writer.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", tuple));
        Assert.Single((await ApiAssert.OkAsync(await reader.GetAsync($"{tenant.Api}/zanzibar/tuples")))["data"]!.AsArray());

        // Anyone of the tenant may ask about one relationship; enumerating them takes a scope that reads the tuples.
        var check = await ApiAssert.OkAsync(await usersOnly.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", tuple));
        Assert.True(check["allowed"]!.GetValue<bool>());
        var listObjects = new { subject = "user:ann", permission = "viewer", object_type = "document" };
        var listUsers = new { @object = "document:plan", relation = "viewer", subject_type = "user" };
        var expand = new { @object = "document:plan", relation = "viewer" };
        foreach (var (path, body) in new (string, object)[] { ("list-objects", listObjects), ("list-users", listUsers), ("list-subjects", listUsers), ("expand", expand) })
        {
            await ApiAssert.ErrorAsync(await usersOnly.PostAsJsonAsync($"{tenant.Api}/zanzibar/{path}", body), 403, "insufficient_scope");
            using var answer = await reader.PostAsJsonAsync($"{tenant.Api}/zanzibar/{path}", body);
            Assert.True(answer.IsSuccessStatusCode, $"{path}: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
        }

        // The same rule through AuthZEN: one evaluation (and the actions one subject may take on one resource) for anyone;
        // the searches that enumerate who may, or what, need the reading scope.
        var subject = new { type = "user", id = "ann" };
        var resource = new { type = "document", id = "plan" };
        var action = new { name = "viewer" };
        Assert.True((await ApiAssert.OkAsync(await usersOnly.PostAsJsonAsync($"{tenant.Api}/access/v1/evaluation", new { subject, resource, action })))["decision"]!.GetValue<bool>());
        await ApiAssert.OkAsync(await usersOnly.PostAsJsonAsync($"{tenant.Api}/access/v1/search/action", new { subject, resource }));
        foreach (var (path, body) in new (string, object)[] { ("subject", new { resource, action, subject = new { type = "user" } }), ("resource", new { subject, action, resource = new { type = "document" } }) })
        {
            await ApiAssert.ErrorAsync(await usersOnly.PostAsJsonAsync($"{tenant.Api}/access/v1/search/{path}", body), 403, "insufficient_scope");
            using var answer = await reader.PostAsJsonAsync($"{tenant.Api}/access/v1/search/{path}", body);
            Assert.True(answer.IsSuccessStatusCode, $"search/{path}: {(int)answer.StatusCode} {await answer.Content.ReadAsStringAsync()}");
        }
    }
}
