using System.Net.Http.Json;
using LumoAuth.Testing;

namespace LumoAuth.Authorization.Tests;

/// <summary>Per-tenant schemas in the DSL and the YAML forms: versions, errors with positions, writes validated against them.</summary>
public sealed class ZanzibarSchemaTests(AuthorizationSuite suite) : IClassFixture<AuthorizationSuite>
{
    private const string YamlFormOne = """
        namespace: user
        ---
        namespace: document
        relations:
          owner: [user]
          viewer: [user]
        permissions:
          can_view:
            union: [owner, viewer]
        """;

    [Fact]
    public async Task PutSchema_Dsl_IsVersioned_AndReadBack()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/zanzibar/schema"), 404, "resource_not_found");

        var written = await client.PutSchemaAsync(tenant, ZanzibarHttp.DocumentsSchema);
        Assert.Equal(1, written["data"]!["version"]!.GetValue<int>());
        Assert.Equal("dsl", written["data"]!["format"]!.GetValue<string>());
        Assert.StartsWith("zk_", written.Token(), StringComparison.Ordinal);

        var again = await client.PutSchemaAsync(tenant, ZanzibarHttp.DocumentsSchema);
        Assert.Equal(1, again["data"]!["version"]!.GetValue<int>());
        Assert.False(again["data"]!["changed"]!.GetValue<bool>());

        var yaml = await client.PutSchemaAsync(tenant, YamlFormOne);
        Assert.Equal(2, yaml["data"]!["version"]!.GetValue<int>());
        Assert.Equal("yaml", yaml["data"]!["format"]!.GetValue<string>());

        var latest = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/schema"));
        Assert.Equal(2, latest["data"]!["version"]!.GetValue<int>());
        Assert.Contains(latest["data"]!["types"]!.AsArray(), t => t!["name"]!.GetValue<string>() == "document");
        var first = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/schema?version=1"));
        Assert.Equal("dsl", first["data"]!["format"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/zanzibar/schema?version=9"), 404, "resource_not_found");
    }

    [Fact]
    public async Task PutSchema_Invalid_Returns400_WithLineAndColumn()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        const string broken = "model\n  schema 1.1\ntype document\n  relations\n    define viewer: [usr]\n";
        var error = await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/zanzibar/schema", new { schema = broken }), 400, "validation_error");
        var first = error["details"]!["errors"]![0]!;
        Assert.Equal(5, first["line"]!.GetValue<int>());
        Assert.True(first["column"]!.GetValue<int>() > 1);

        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/zanzibar/schema", new { schema = "" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/zanzibar/schema", new { schema = ZanzibarHttp.DocumentsSchema, format = "xml" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/zanzibar/schema", new { schema = YamlFormOne, format = "dsl" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/zanzibar/schema"), 404, "resource_not_found");
    }

    [Fact]
    public async Task Schema_GovernsWrites_AndChecks()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await client.PutSchemaAsync(tenant, ZanzibarHttp.DocumentsSchema);

        // Type restrictions: folder#owner takes users only; unknown types and relations are refused.
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", new { @object = "folder:f", relation = "owner", user = "group:eng#member" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", new { @object = "spaceship:x", relation = "pilot", user = "user:a" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/tuples", new { @object = "document:d", relation = "can_fly", user = "user:a" }), 400, "validation_error");

        // Checks against unknown relations are errors under a schema, not silent denials.
        var unknown = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/zanzibar/check", new { @object = "document:d", relation = "can_fly", user = "user:a" }), 400, "ZANZIBAR_CHECK_FAILED");
        Assert.Equal("invalid_request", unknown["details"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task SchemaWrite_TakesEffectForTheWritersNextCheck_AndStaleTuplesAreIgnored()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await client.WriteAsync(tenant, "document:d", "owner", "user:una");
        await client.WriteAsync(tenant, "document:d", "viewer", "team:t#member");
        Assert.False(await client.AllowedAsync(tenant, "document:d", "viewer", "user:una"));

        await client.PutSchemaAsync(tenant, ZanzibarHttp.DocumentsSchema);
        // Owners are editors are viewers under the schema; the team tuple no longer fits any type and is ignored.
        Assert.True(await client.AllowedAsync(tenant, "document:d", "viewer", "user:una"));
        var changes = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/zanzibar/changes?since=2"));
        Assert.Equal("schema", changes["data"]![0]!["operation"]!.GetValue<string>());
    }

    [Fact]
    public async Task Schema_OfOneTenant_IsInvisibleToAnother()
    {
        var a = await suite.Admin.CreateTenantAsync();
        var b = await suite.Admin.CreateTenantAsync();
        using var clientA = suite.ClientFor(a);
        using var clientB = suite.ClientFor(b);
        await clientA.PutSchemaAsync(a, ZanzibarHttp.DocumentsSchema);

        await ApiAssert.ErrorAsync(await clientB.GetAsync($"{b.Api}/zanzibar/schema"), 404, "resource_not_found");
        // B still runs on the permissive default: any shape may be written there.
        await clientB.WriteAsync(b, "spaceship:x", "pilot", "user:a");
        await ApiAssert.ErrorAsync(await clientB.GetAsync($"{a.Api}/zanzibar/schema"), 401, "unauthorized");
        await ApiAssert.ErrorAsync(await clientB.PutAsJsonAsync($"{a.Api}/zanzibar/schema", new { schema = YamlFormOne }), 401, "unauthorized");
    }
}
