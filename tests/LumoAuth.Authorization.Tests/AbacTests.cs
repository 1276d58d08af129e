using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using LumoAuth.Authorization.Data;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Testing;
using MassTransit;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Authorization.Tests;

/// <summary>ABAC: attribute definitions, policies in both forms, checks in both shapes, batches, stored attributes and the policy test.</summary>
public sealed class AbacTests(AuthorizationSuite suite) : IClassFixture<AuthorizationSuite>
{
    private static readonly object OwnersCanEdit = new
    {
        name = "Owners can edit",
        effect = "allow",
        priority = 100,
        target = new { resources = new[] { "document" }, actions = new[] { "edit", "delete" } },
        conditions = new { all = new[] { new { attribute = "subject.id", @operator = "equals", value = "$resource.owner_id" } } },
    };

    [Fact]
    public async Task PolicyAttributeAndSchemaChanges_AreAuditedAsConfiguration()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var attribute = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new
        {
            name = "Clearance", key = "clearance", category = "subject", dataType = "string",
        }), 201))["data"]!["id"]!.GetValue<string>();
        await ApiAssert.OkAsync(await client.DeleteAsync($"{tenant.Api}/admin/abac/attributes/{attribute}"));
        await ApiAssert.ErrorAsync(await client.DeleteAsync($"{tenant.Api}/admin/abac/attributes/{attribute}"), 404, "resource_not_found");
        var policy = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", OwnersCanEdit), 201))["data"]!["id"]!.GetValue<string>();
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/abac/policies/{policy}", new { priority = 50 }));
        await client.PutSchemaAsync(tenant, ZanzibarHttp.DocumentsSchema);

        using var admin = suite.Admin.ClientFor(tenant);
        async Task<JsonArray> EntriesAsync(string action, int count) => await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/audit-logs?action={action}"));
            var entries = page["data"]!.AsArray();
            return entries.Count >= count ? entries : null;
        });

        var attributeChanges = await EntriesAsync("abac_attribute_changed", 2);
        Assert.Equal(["deleted", "created"], attributeChanges.Select(e => e!["metadata"]!["change"]!.GetValue<string>()));
        Assert.All(attributeChanges, e => Assert.Equal("configuration", e!["category"]!.GetValue<string>()));
        // The docs' policy_updated names our policy changes.
        var policyChanges = await EntriesAsync("policy_updated", 2);
        Assert.Equal(["updated", "created"], policyChanges.Select(e => e!["metadata"]!["change"]!.GetValue<string>()));
        Assert.All(policyChanges, e => Assert.Equal(policy, e!["metadata"]!["policyId"]!.GetValue<string>()));
        var schema = Assert.Single(await EntriesAsync("zanzibar_schema_changed", 1));
        Assert.Equal(1, schema!["metadata"]!["version"]!.GetValue<int>());
        Assert.Equal("configuration", schema["category"]!.GetValue<string>());
    }

    [Fact]
    public async Task AttributeDefinitions_Crud_InBothForms()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var created = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new
        {
            name = "Department", key = "department", category = "subject", dataType = "string", allowedValues = new[] { "eng", "sales" },
        }), 201);
        var id = created["data"]!["id"]!.GetValue<string>();
        var variant = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/attributes", new
        {
            name = "classification", attributeType = "resource", dataType = "string", validationRules = new { @enum = new[] { "public", "secret" } },
        }), 201);
        Assert.Equal("resource", variant["data"]!["category"]!.GetValue<string>());
        Assert.Equal(2, variant["data"]!["allowedValues"]!.AsArray().Count);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "Dept", key = "department", category = "subject", dataType = "string" }), 409, "duplicate_resource");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "X", key = "x", category = "planet", dataType = "string" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "X", key = "x", category = "subject", dataType = "complex" }), 400, "validation_error");

        var updated = await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/abac/attributes/{id}", new { description = "Where they work" }));
        Assert.Equal("Where they work", updated["data"]!["description"]!.GetValue<string>());
        var list = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/abac/attributes?category=subject"));
        Assert.Equal(1, list["meta"]!["total"]!.GetValue<long>());

        var other = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(other);
        await ApiAssert.ErrorAsync(await otherClient.GetAsync($"{other.Api}/admin/abac/attributes/{id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherClient.DeleteAsync($"{other.Api}/admin/abac/attributes/{id}"), 404, "resource_not_found");
        await ApiAssert.OkAsync(await client.DeleteAsync($"{tenant.Api}/admin/abac/attributes/{id}"));
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/abac/attributes/{id}"), 404, "resource_not_found");
    }

    [Fact]
    public async Task Policies_Crud_InBothForms_WithValidation()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var formA = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", OwnersCanEdit), 201);
        Assert.Equal("equals", formA["data"]!["conditions"]!["all"]![0]!["operator"]!.GetValue<string>());
        var formB = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/policies", new
        {
            name = "Business hours only", resourceType = "sensitive-data", action = "*", effect = "deny", priority = 200,
            conditions = new { @operator = "OR", conditions = new object[] { new { subject = "environment.hour", @operator = "lt", value = 9 }, new { subject = "environment.hour", @operator = "gt", value = 17 } } },
        }), 201);
        var normalized = formB["data"]!;
        Assert.Equal(["sensitive-data"], normalized["target"]!["resources"]!.AsArray().Select(r => r!.GetValue<string>()));
        Assert.Equal("less_than", normalized["conditions"]!["any"]![0]!["operator"]!.GetValue<string>());

        var bad = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Bad", effect = "maybe", priority = 5000,
            conditions = new { all = new[] { new { attribute = "subject.x", @operator = "sounds_like", value = 1 } } },
        }), 400, "validation_error");
        Assert.NotNull(bad["details"]!["effect"]);
        Assert.NotNull(bad["details"]!["priority"]);
        Assert.NotNull(bad["details"]!["conditions"]);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new { name = "No conditions", effect = "allow" }), 400, "validation_error");

        var id = formA["data"]!["id"]!.GetValue<string>();
        var updated = await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/abac/policies/{id}", new { isActive = false, priority = 300 }));
        Assert.False(updated["data"]!["isActive"]!.GetValue<bool>());
        Assert.Equal(300, updated["data"]!["priority"]!.GetValue<int>());
        var list = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/abac/policies"));
        Assert.Equal(2, list["meta"]!["total"]!.GetValue<long>());

        var other = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(other);
        await ApiAssert.ErrorAsync(await otherClient.GetAsync($"{other.Api}/admin/abac/policies/{id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherClient.PutAsJsonAsync($"{other.Api}/admin/abac/policies/{id}", new { priority = 1 }), 404, "resource_not_found");
        await ApiAssert.OkAsync(await client.DeleteAsync($"{tenant.Api}/admin/abac/policies/{id}"));
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/abac/policies/{id}"), 404, "resource_not_found");
    }

    [Fact]
    public async Task ShapeA_DenyOverrides_OrByPriorityWhenTheTenantSaysSo_AndExplains()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", OwnersCanEdit), 201);

        var owner = await CheckA(client, tenant, "alice", "alice");
        Assert.Equal("allow", owner["decision"]!.GetValue<string>());
        Assert.Equal("Owners can edit", owner["policies"]![0]!["name"]!.GetValue<string>());
        Assert.True(owner["evaluationTime"]!.GetValue<double>() >= 0);
        var stranger = await CheckA(client, tenant, "bob", "alice");
        Assert.Equal("deny", stranger["decision"]!.GetValue<string>());
        Assert.Empty(stranger["policies"]!.AsArray());

        // A matching deny decides (deny-overrides, the default); with the tenant's priority algorithm a higher-priority
        // allow (an admin override) beats it.
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Frozen documents", effect = "deny", priority = 100, target = new { resources = new[] { "document" } },
            conditions = new { all = new[] { new { attribute = "resource.status", @operator = "equals", value = "frozen" } } },
        }), 201);
        var frozen = await CheckA(client, tenant, "alice", "alice", status: "frozen");
        Assert.Equal("deny", frozen["decision"]!.GetValue<string>());
        Assert.Equal(["Frozen documents", "Owners can edit"], frozen["policies"]!.AsArray().Select(p => p!["name"]!.GetValue<string>()));
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Admins override", effect = "allow", priority = 900,
            conditions = new { any = new[] { new { attribute = "subject.roles", @operator = "contains", value = "admin" } } },
        }), 201);
        var rootOnAFrozenDocument = new
        {
            subject = new { id = "root", attributes = new { roles = new[] { "admin" } } },
            action = "edit",
            resource = new { type = "document", id = "d1", attributes = new { owner_id = "alice", status = "frozen" } },
        };
        var stillFrozen = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", rootOnAFrozenDocument));
        Assert.Equal("deny", stillFrozen["decision"]!.GetValue<string>());
        Assert.Contains("Frozen documents", stillFrozen["reason"]!.GetValue<string>(), StringComparison.Ordinal);

        Assert.Equal("deny_overrides", (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/abac/settings")))["data"]!["combiningAlgorithm"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/abac/settings", new { combiningAlgorithm = "first_applicable" }), 400, "validation_error");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/abac/settings", new { combiningAlgorithm = "priority" }));
        var adminCheck = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", rootOnAFrozenDocument));
        Assert.Equal("allow", adminCheck["decision"]!.GetValue<string>());
        Assert.Contains("Admins override", adminCheck["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        // Only this tenant's checks changed.
        var other = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(other);
        Assert.Equal("deny_overrides", (await ApiAssert.OkAsync(await otherClient.GetAsync($"{other.Api}/admin/abac/settings")))["data"]!["combiningAlgorithm"]!.GetValue<string>());

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new { action = "edit", resource = new { type = "document" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new { subject = new { id = "a" }, resource = new { type = "document" } }), 400, "validation_error");
    }

    [Fact]
    public async Task ShapeB_UsesStoredAttributes_AndTheBatchesAnswerInOrder()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Same department reads", effect = "allow", resourceType = "report", action = "read",
            conditions = new { @operator = "AND", conditions = new[] { new { subject = "user.department", @operator = "equals", value = "$resource.owner_department" } } },
        }), 201);
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/resources/report/q3/attributes", new { owner_department = "finance", sensitivity = 3 }));
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/carl/attributes/department", new { value = "finance" }));
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/dina/attributes/department", new { value = "sales" }));

        var carl = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new { resourceType = "report", resourceId = "q3", action = "read", subject = "agent:carl" }));
        Assert.False(carl["allowed"]!.GetValue<bool>());
        var asUser = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new { resourceType = "report", resourceId = "q3", action = "read", subject = "user:carl" }));
        Assert.True(asUser["allowed"]!.GetValue<bool>());
        Assert.Equal(100, asUser["matchedPolicies"]![0]!["priority"]!.GetValue<int>());
        Assert.Equal("finance", asUser["evaluationContext"]!["resource"]!["owner_department"]!.GetValue<string>());
        Assert.NotNull(asUser["evaluationContext"]!["environment"]!["hour"]);

        var bulk = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check-bulk", new
        {
            requests = new[]
            {
                new { resourceType = "report", resourceId = "q3", action = "read", subject = "user:carl" },
                new { resourceType = "report", resourceId = "q3", action = "read", subject = "user:dina" },
            },
        }));
        Assert.Equal([true, false], bulk["results"]!.AsArray().Select(r => r!["allowed"]!.GetValue<bool>()));
        var batch = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check/batch", new
        {
            checks = new[] { new { subject = new { id = "carl" }, action = "read", resource = new { type = "report", id = "q3" } } },
        }));
        Assert.Equal("allow", batch["results"]![0]!["decision"]!.GetValue<string>());
        var tooMany = Enumerable.Range(0, 101).Select(_ => new { resourceType = "report", action = "read", subject = "user:carl" }).ToArray();
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check-bulk", new { requests = tooMany }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/resources/report/q3/attributes", new[] { 1, 2 }), 400, "validation_error");

        // Another tenant's stored attributes are not this tenant's.
        var other = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(other);
        await ApiAssert.OkAsync(await otherClient.PostAsJsonAsync($"{other.Api}/admin/abac/policies", new
        {
            name = "Same department reads", effect = "allow", resourceType = "report", action = "read",
            conditions = new { all = new[] { new { attribute = "user.department", @operator = "equals", value = "$resource.owner_department" } } },
        }), 201);
        var elsewhere = await ApiAssert.OkAsync(await otherClient.PostAsJsonAsync($"{other.Api}/abac/check", new { resourceType = "report", resourceId = "q3", action = "read", subject = "user:carl" }));
        Assert.False(elsewhere["allowed"]!.GetValue<bool>());
    }

    /// <summary>A deleted or erased user's stored subject attributes go with them; another user's stay.</summary>
    [Fact]
    public async Task DeletedUser_StoredSubjectAttributes_AreForgotten()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var (gone, kept) = (Guid.NewGuid().ToString(), Guid.NewGuid().ToString());
        foreach (var user in new[] { gone, kept })
        {
            await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/{user}/attributes/department", new { value = "finance" }));
        }

        await suite.Authorization.Services.GetRequiredService<IBus>().Publish(new UserDeleted(Guid.Parse(gone)) { TenantId = tenant.Id });
        async Task<List<string>> StoredAsync()
        {
            await using var scope = suite.Authorization.Services.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>().AbacEntityAttributes.IgnoreQueryFilters()
                .Where(a => a.TenantId == tenant.Id).Select(a => a.EntityId).ToListAsync();
        }

        Assert.Equal([kept], await ApiAssert.EventuallyAsync(async () => await StoredAsync() is [_] one ? one : null));
    }

    [Fact]
    public async Task PolicyTest_EvaluatesOnePolicy_WithoutDeciding()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var created = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", OwnersCanEdit), 201);
        var id = created["data"]!["id"]!.GetValue<string>();
        var sample = new { subject = new { id = "alice" }, action = "edit", resource = new { type = "document", attributes = new { owner_id = "alice" } } };
        var matched = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies/{id}/test", sample));
        Assert.True(matched["data"]!["matched"]!.GetValue<bool>());
        Assert.Equal("allow", matched["data"]!["decision"]!.GetValue<string>());
        var wrongAction = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies/{id}/test", new { subject = new { id = "alice" }, action = "share", resource = new { type = "document", attributes = new { owner_id = "alice" } } }));
        Assert.False(wrongAction["data"]!["targetsMatch"]!.GetValue<bool>());
        Assert.Equal("not_applicable", wrongAction["data"]!["decision"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies/{Guid.NewGuid()}/test", sample), 404, "resource_not_found");

        // A policy can be tried before it is switched on, and trying it decides nothing for real checks.
        var draft = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies",
            new { name = "Anyone may share", effect = "allow", priority = 5, isActive = false, target = new { resources = new[] { "document" }, actions = new[] { "share" } }, conditions = new { all = Array.Empty<object>() } }), 201);
        var tried = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies/{draft["data"]!["id"]!.GetValue<string>()}/test",
            new { subject = new { id = "bob" }, action = "share", resource = new { type = "document", id = "d1" } }));
        Assert.True(tried["data"]!["matched"]!.GetValue<bool>());
        var real = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new { subject = new { id = "bob" }, action = "share", resource = new { type = "document", id = "d1" } }));
        Assert.Equal("deny", real["decision"]!.GetValue<string>());
    }

    [Fact]
    public async Task MyAttributes_ShowWhatPoliciesSee()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var userId = await suite.Admin.CreateUserAsync(tenant, "vera@example.com");
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "Clearance", key = "clearance", category = "subject", dataType = "string", allowedValues = new[] { "low", "high" } }), 201);
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/{userId}/attributes/clearance", new { value = "high" }));
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/{userId}/attributes/clearance", new { value = "top" }), 400, "validation_error");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "user" } }));

        var mine = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/abac/my-attributes?subject={userId}"));
        Assert.Equal("vera@example.com", mine["email"]!.GetValue<string>());
        Assert.Equal("high", mine["clearance"]!.GetValue<string>());
        Assert.Equal(["user"], mine["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/abac/my-attributes"), 400, "validation_error");
    }

    [Fact]
    public async Task BuiltInUserAttributes_AndAdminsCustomAttributes_ReachPolicies()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        using var admin = suite.Admin.ClientFor(tenant);
        var ines = await suite.Admin.CreateUserAsync(tenant, "ines@example.com");
        var outsider = await suite.Admin.CreateUserAsync(tenant, "otto@example.com");
        await suite.Admin.CreateGroupAsync(tenant, "Engineering", "engineering");
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{ines}/groups", new { groups = new[] { "engineering" } }));
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{ines}/attributes", new { department = "finance", level = 3 }));
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/permissions", new { name = "Read reports", slug = "reports.read" }), 201);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = "Analyst", slug = "analyst", permissions = new[] { "reports.read" } }), 201);
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{ines}/roles", new { roles = new[] { "analyst" } }));
        // A trait stored here under a built-in name does not replace the built-in.
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/{ines}/attributes/email", new { value = "boss@example.com" }));

        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Engineering finance analysts read reports", effect = "allow", priority = 100,
            target = new { resources = new[] { "report" }, actions = new[] { "read", "export" } },
            conditions = new
            {
                all = new object[]
                {
                    new { attribute = "user.groups", @operator = "contains", value = "engineering" },
                    new { attribute = "user.department", @operator = "equals", value = "finance" },
                    new { attribute = "user.level", @operator = "greater_than", value = 2 },
                    new { attribute = "user.permissions", @operator = "contains", value = "reports.read" },
                    new { attribute = "user.email", @operator = "matches", value = "^ines@" },
                },
            },
        }), 201);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Exports need a verified address and a second factor", effect = "deny", priority = 500,
            target = new { resources = new[] { "report" }, actions = new[] { "export" } },
            conditions = new { any = new object[] { new { attribute = "user.emailVerified", @operator = "equals", value = false }, new { attribute = "user.mfaEnabled", @operator = "not_equals", value = true } } },
        }), 201);

        async Task<bool> Allowed(Guid user, string action) =>
            (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new { resourceType = "report", resourceId = "q3", action, subject = user.ToString() })))["allowed"]!.GetValue<bool>();

        Assert.True(await Allowed(ines, "read"));
        Assert.False(await Allowed(outsider, "read"));
        Assert.False(await Allowed(ines, "export"));

        var mine = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/abac/my-attributes?subject={ines}"));
        Assert.Equal("ines@example.com", mine["email"]!.GetValue<string>());
        Assert.Equal(["engineering"], mine["groups"]!.AsArray().Select(g => g!.GetValue<string>()));
        Assert.Equal(["reports.read"], mine["permissions"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.Equal("finance", mine["department"]!.GetValue<string>());
        Assert.Equal(3, mine["level"]!.GetValue<int>());
        Assert.False(mine["emailVerified"]!.GetValue<bool>());
        Assert.False(mine["mfaEnabled"]!.GetValue<bool>());
        Assert.Null(mine["locale"]);

        // Changes made in admin count at the next check: the department moves, the address is verified.
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{ines}/attributes", new { department = "sales", level = 3 }));
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{ines}", new { emailVerified = true, locale = "es-ES" }));
        Assert.False(await Allowed(ines, "read"));
        mine = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/abac/my-attributes?subject={ines}"));
        Assert.True(mine["emailVerified"]!.GetValue<bool>());
        Assert.Equal("es-ES", mine["locale"]!.GetValue<string>());
        Assert.Equal("sales", mine["department"]!.GetValue<string>());

        // Shape A: what the caller says of the subject still wins over what is known (pure evaluation for the caller).
        var said = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new
        {
            subject = new { id = ines.ToString(), type = "user", attributes = new { department = "finance" } },
            action = "read", resource = new { type = "report", id = "q3" },
        }));
        Assert.Equal("allow", said["decision"]!.GetValue<string>());
    }

    [Fact]
    public async Task StoredValues_OfDefinedAttributes_KeepTheirTypeAndAllowedValues()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var user = Guid.NewGuid();
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "Level", key = "level", category = "subject", dataType = "number" }), 201);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "Hired", key = "hired", category = "subject", dataType = "datetime" }), 201);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "Amount", key = "amount", category = "resource", dataType = "number" }), 201);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "Status", key = "status", category = "resource", dataType = "string", allowedValues = new[] { "draft", "final" } }), 201);

        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/{user}/attributes/level", new { value = 3 }));
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/{user}/attributes/level", new { value = "three" }), 400, "validation_error");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/{user}/attributes/hired", new { value = "2024-05-01T09:00:00Z" }));
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/{user}/attributes/hired", new { value = "last spring" }), 400, "validation_error");
        // A subject attribute's definition does not bind a resource attribute of the same name, nor the other way round.
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/{user}/attributes/amount", new { value = "plenty" }));

        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/resources/invoice/i1/attributes", new { amount = 250.5, status = "draft", note = "free text" }));
        var wrongType = await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/resources/invoice/i1/attributes", new { amount = "250" }), 400, "validation_error");
        Assert.NotNull(wrongType["details"]!["amount"]);
        var notAllowed = await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/resources/invoice/i1/attributes", new { status = "void" }), 400, "validation_error");
        Assert.NotNull(notAllowed["details"]!["status"]);
        var kept = await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/resources/invoice/i1/attributes", new { status = (string?)null }));
        Assert.Equal(250.5, kept["data"]!["attributes"]!["amount"]!.GetValue<double>());

        // The other types and the third category; abac.md's attributeType "user" names the subject category.
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "Contractor", key = "contractor", attributeType = "user", dataType = "boolean" }), 201);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "Tags", key = "tags", category = "resource", dataType = "array" }), 201);
        var region = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "Region", key = "region", category = "environment", dataType = "string" }), 201);
        Assert.Equal("environment", region["data"]!["category"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "Odd", key = "odd", category = "action", dataType = "string" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/attributes", new { name = "Odd", key = "odd", category = "subject", dataType = "map" }), 400, "validation_error");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/{user}/attributes/contractor", new { value = true }));
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/users/{user}/attributes/contractor", new { value = "yes" }), 400, "validation_error");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/resources/invoice/i1/attributes", new { tags = new[] { "q3", "eu" } }));
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/resources/invoice/i1/attributes", new { tags = "q3" }), 400, "validation_error");

        var mine = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/abac/my-attributes?subject={user}"));
        Assert.True(mine["contractor"]!.GetValue<bool>());
        Assert.Equal(3, mine["level"]!.GetValue<int>());
        Assert.Equal("plenty", mine["amount"]!.GetValue<string>());
    }

    [Fact]
    public async Task EnvironmentAttributes_ComeFromTheRequestTime_AndTheCallersAddress()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Weekday office hours from the office network", effect = "allow", priority = 100,
            target = new { resources = new[] { "payroll" }, actions = new[] { "read" } },
            conditions = new
            {
                all = new object[]
                {
                    new { attribute = "environment.isWeekend", @operator = "equals", value = false },
                    new { attribute = "environment.hour", @operator = "greater_than_or_equal", value = 9 },
                    new { attribute = "env.hour", @operator = "less_than", value = 17 },
                    new { attribute = "environment.ip", @operator = "matches", value = "^10\\.1\\." },
                },
            },
        }), 201);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Never on Sundays", effect = "deny", priority = 900,
            target = new { resources = new[] { "payroll" }, actions = new[] { "*" } },
            conditions = new { all = new[] { new { attribute = "environment.dayOfWeek", @operator = "equals", value = 7 } } },
        }), 201);

        async Task<JsonObject> Check(string time, string? ip = "10.1.2.3") => await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new
        {
            subject = new { id = "pat" }, action = "read", resource = new { type = "payroll" },
            environment = new { time }, context = ip is null ? null : new { ip },
        }));

        // 2025-06-02 is a Monday, 2025-06-07 a Saturday, 2025-06-08 a Sunday.
        Assert.Equal("allow", (await Check("2025-06-02T10:30:00Z"))["decision"]!.GetValue<string>());
        Assert.Equal("deny", (await Check("2025-06-02T18:00:00Z"))["decision"]!.GetValue<string>());
        Assert.Equal("deny", (await Check("2025-06-07T10:30:00Z"))["decision"]!.GetValue<string>());
        var sunday = await Check("2025-06-08T10:30:00Z");
        Assert.Equal("Never on Sundays", sunday["policies"]![0]!["name"]!.GetValue<string>());
        Assert.Equal("deny", (await Check("2025-06-02T10:30:00Z", "192.0.2.7"))["decision"]!.GetValue<string>());
        // Without an address in the context the caller's own is used: here the test host's, not the office's.
        Assert.Equal("deny", (await Check("2025-06-02T10:30:00Z", ip: null))["decision"]!.GetValue<string>());

        var shapeB = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new
        {
            resourceType = "payroll", action = "read", subject = "pat", context = new { ip = "10.1.9.9" },
        }));
        var environment = shapeB["evaluationContext"]!["environment"]!;
        Assert.Equal("10.1.9.9", environment["ip"]!.GetValue<string>());
        // Nothing supplied: the defaults describe the moment of the check, in UTC, with Monday = 1 … Sunday = 7.
        var at = DateTimeOffset.Parse(environment["time"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture).UtcDateTime;
        Assert.InRange(at, DateTime.UtcNow.AddMinutes(-2), DateTime.UtcNow.AddSeconds(5));
        Assert.Equal(at.Hour, environment["hour"]!.GetValue<int>());
        var day = at.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)at.DayOfWeek;
        Assert.Equal(day, environment["dayOfWeek"]!.GetValue<int>());
        Assert.Equal(day >= 6, environment["isWeekend"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Attributes_WrittenAtOnceByManyCallers_AreAllKept()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);

        // Each its own key, all at once, on an entity that has no attributes yet: no write may fail or be lost.
        var user = Guid.NewGuid();
        var writes = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            client.PutAsJsonAsync($"{tenant.Api}/abac/users/{user}/attributes/key{i}", new { value = i })));
        Assert.All(writes, w => Assert.Equal(System.Net.HttpStatusCode.OK, w.StatusCode));
        var resources = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            client.PutAsJsonAsync($"{tenant.Api}/abac/resources/document/shared/attributes", new Dictionary<string, object> { [$"field{i}"] = i })));
        Assert.All(resources, w => Assert.Equal(System.Net.HttpStatusCode.OK, w.StatusCode));

        var mine = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/abac/my-attributes?subject={user}"));
        Assert.All(Enumerable.Range(0, 12), i => Assert.Equal(i, mine[$"key{i}"]!.GetValue<int>()));
        var last = await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/resources/document/shared/attributes", new { owner = "racer" }));
        var stored = last["data"]!["attributes"]!.AsObject();
        Assert.All(Enumerable.Range(0, 6), i => Assert.Equal(i, stored[$"field{i}"]!.GetValue<int>()));
        Assert.Equal("racer", stored["owner"]!.GetValue<string>());
    }

    /// <summary>
    /// What a check establishes itself (the time, the caller's address, the resource's stored attributes, who the subject is
    /// and what it holds) an end user's access token cannot supply: each is refused with 403 permission_denied, on the single
    /// check and both batches alike, while the same token's own plain checks are answered. A token with an admin scope may.
    /// </summary>
    [Fact]
    public async Task Check_EndUsersBearerToken_CannotSupplyTimeAddressResourceAttributesOrSubject_EachRefused()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var admin = suite.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", OwnersCanEdit), 201);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/abac/resources/document/d1/attributes", new { owner_id = "alice" }));
        await using var bearers = new BearerCallers(suite.Authorization);
        var me = Guid.NewGuid().ToString();
        using var user = bearers.ClientFor(tenant, me);

        // The token's own checks, with context and environment keys of the caller's own, are answered.
        var own = await ApiAssert.OkAsync(await user.PostAsJsonAsync($"{tenant.Api}/abac/check", new
        {
            resourceType = "document", resourceId = "d1", action = "edit", context = new { device = "laptop" }, environment = new { region = "eu" },
        }));
        Assert.False(own["allowed"]!.GetValue<bool>());
        Assert.Equal("eu", own["evaluationContext"]!["environment"]!["region"]!.GetValue<string>());
        var ownA = await ApiAssert.OkAsync(await user.PostAsJsonAsync($"{tenant.Api}/abac/check", new
        {
            // Empty sets of attributes change nothing, so a client library that always sends them is not refused.
            subject = new { id = me, attributes = new { } }, action = "edit", resource = new { type = "document", id = "d1", attributes = new { } },
        }));
        Assert.Equal("deny", ownA["decision"]!.GetValue<string>());

        var refused = new (string Field, object Check)[]
        {
            ("environment.hour", new { resourceType = "document", resourceId = "d1", action = "edit", environment = new { hour = 12 } }),
            ("environment.isWeekend", new { resourceType = "document", resourceId = "d1", action = "edit", environment = new { isWeekend = false } }),
            ("environment.dayOfWeek", new { resourceType = "document", resourceId = "d1", action = "edit", environment = new { dayOfWeek = 3 } }),
            ("environment.time", new { resourceType = "document", resourceId = "d1", action = "edit", environment = new { time = "2025-06-02T10:30:00Z" } }),
            ("environment.ip", new { resourceType = "document", resourceId = "d1", action = "edit", environment = new { ip = "10.1.2.3" } }),
            ("context.ip", new { resourceType = "document", resourceId = "d1", action = "edit", context = new { ip = "10.1.2.3" } }),
            // An empty object is a value too: as an address it would stand in for the real one.
            ("environment.ip", new { resourceType = "document", resourceId = "d1", action = "edit", environment = new { ip = new { } } }),
            ("context.ip", new { resourceType = "document", resourceId = "d1", action = "edit", context = new { ip = new { } } }),
            ("context.resource", new { resourceType = "document", resourceId = "d1", action = "edit", context = new { resource = new { owner_id = me } } }),
            ("resource.attributes", new { subject = new { id = me }, action = "edit", resource = new { type = "document", id = "d1", attributes = new { owner_id = me } } }),
            ("subject", new { subject = new { id = "alice" }, action = "edit", resource = new { type = "document", id = "d1" } }),
            ("subject.attributes", new { subject = new { id = me, attributes = new { roles = new[] { "admin" } } }, action = "edit", resource = new { type = "document", id = "d1" } }),
        };
        foreach (var (field, check) in refused)
        {
            var single = await ApiAssert.ErrorAsync(await user.PostAsJsonAsync($"{tenant.Api}/abac/check", check), 403, "permission_denied");
            Assert.True(single["details"]?[field] is not null, $"{field}: {single}");
            await ApiAssert.ErrorAsync(await user.PostAsJsonAsync($"{tenant.Api}/abac/check/batch", new { checks = new[] { check } }), 403, "permission_denied");
            await ApiAssert.ErrorAsync(await user.PostAsJsonAsync($"{tenant.Api}/abac/check-bulk", new { requests = new[] { check } }), 403, "permission_denied");
        }

        // Shape B's named subject was refused already; it still is, with the same code.
        await ApiAssert.ErrorAsync(await user.PostAsJsonAsync($"{tenant.Api}/abac/check", new { resourceType = "document", resourceId = "d1", action = "edit", subject = "user:alice" }), 403, "permission_denied");

        // A token cannot pass itself off as an API key by carrying the claims an API key's sign-in adds.
        using var posing = bearers.ClientFor(tenant, me, extraClaims: new Dictionary<string, object> { [LumoClaims.AuthMethod] = "api_key", [LumoClaims.ApiKeyId] = Guid.NewGuid().ToString() });
        await ApiAssert.ErrorAsync(await posing.PostAsJsonAsync($"{tenant.Api}/abac/check", refused[^2].Check), 403, "permission_denied");

        // The same token with an admin scope is an admin credential, as for naming a subject.
        using var scoped = bearers.ClientFor(tenant, me, "openid admin:read");
        var asOwner = await ApiAssert.OkAsync(await scoped.PostAsJsonAsync($"{tenant.Api}/abac/check", new
        {
            resourceType = "document", resourceId = "d1", action = "edit", subject = $"user:{me}", context = new { resource = new { owner_id = me } },
        }));
        Assert.True(asOwner["allowed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Check_AdminApiKey_MaySupplyTimeAddressResourceAttributesAndSubject()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", OwnersCanEdit), 201);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Weekday office network", effect = "deny", priority = 500, target = new { resources = new[] { "document" } },
            conditions = new
            {
                any = new object[]
                {
                    new { attribute = "environment.isWeekend", @operator = "equals", value = true },
                    new { attribute = "environment.ip", @operator = "not_equals", value = "10.1.2.3" },
                },
            },
        }), 201);
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/abac/resources/document/d1/attributes", new { owner_id = "alice" }));

        // 2025-06-02 is a Monday, 2025-06-07 a Saturday.
        async Task<bool> Allowed(string subject, string owner, string time, string ip) => (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new
        {
            resourceType = "document", resourceId = "d1", action = "edit", subject, environment = new { time, ip }, context = new { resource = new { owner_id = owner } },
        })))["allowed"]!.GetValue<bool>();

        Assert.True(await Allowed("user:bob", "bob", "2025-06-02T10:30:00Z", "10.1.2.3"));
        Assert.False(await Allowed("user:bob", "alice", "2025-06-02T10:30:00Z", "10.1.2.3"));
        Assert.False(await Allowed("user:bob", "bob", "2025-06-07T10:30:00Z", "10.1.2.3"));
        Assert.False(await Allowed("user:bob", "bob", "2025-06-02T10:30:00Z", "192.0.2.7"));

        var shapeA = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check/batch", new
        {
            checks = new object[]
            {
                new
                {
                    subject = new { id = "carol", attributes = new { team = "docs" } }, action = "edit",
                    resource = new { type = "document", id = "d1", attributes = new { owner_id = "carol" } },
                    environment = new { time = "2025-06-02T10:30:00Z" }, context = new { ip = "10.1.2.3" },
                },
            },
        }));
        Assert.Equal("allow", shapeA["results"]![0]!["decision"]!.GetValue<string>());
    }

    [Fact]
    public async Task Check_ComputedTimeValues_WinOverContradictingOnes()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/abac/policies", new
        {
            name = "Office hours on weekdays", effect = "allow", priority = 100, target = new { resources = new[] { "payroll" }, actions = new[] { "read" } },
            conditions = new
            {
                all = new object[]
                {
                    new { attribute = "environment.isWeekend", @operator = "equals", value = false },
                    new { attribute = "environment.hour", @operator = "greater_than_or_equal", value = 9 },
                    new { attribute = "environment.hour", @operator = "less_than", value = 17 },
                },
            },
        }), 201);

        // Saturday 2025-06-07, 22:15 UTC (given with an offset), whatever hour, day and weekend flag the request claims.
        var saturday = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new
        {
            resourceType = "payroll", action = "read", subject = "user:pat",
            environment = new { time = "2025-06-08T00:15:00+02:00", hour = 12, dayOfWeek = 3, isWeekend = false },
        }));
        Assert.False(saturday["allowed"]!.GetValue<bool>());
        var environment = saturday["evaluationContext"]!["environment"]!;
        Assert.Equal(22, environment["hour"]!.GetValue<int>());
        Assert.Equal(6, environment["dayOfWeek"]!.GetValue<int>());
        Assert.True(environment["isWeekend"]!.GetValue<bool>());
        Assert.Equal(new DateTimeOffset(2025, 6, 7, 22, 15, 0, TimeSpan.Zero), DateTimeOffset.Parse(environment["time"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture));

        // Without a time, the moment of the check decides: a claimed hour and day count for nothing.
        var now = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new
        {
            resourceType = "payroll", action = "read", subject = "user:pat", environment = new { hour = 99, dayOfWeek = 99, isWeekend = "maybe" },
        }));
        var computed = now["evaluationContext"]!["environment"]!;
        var at = DateTimeOffset.Parse(computed["time"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture).UtcDateTime;
        Assert.InRange(at, DateTime.UtcNow.AddMinutes(-2), DateTime.UtcNow.AddSeconds(5));
        Assert.Equal(at.Hour, computed["hour"]!.GetValue<int>());
        Assert.Equal(at.DayOfWeek == DayOfWeek.Sunday ? 7 : (int)at.DayOfWeek, computed["dayOfWeek"]!.GetValue<int>());
        Assert.Equal(at.DayOfWeek is DayOfWeek.Saturday or DayOfWeek.Sunday, computed["isWeekend"]!.GetValue<bool>());

        // A time that is not one is not quietly replaced by the present.
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new
        {
            resourceType = "payroll", action = "read", subject = "user:pat", environment = new { time = "next tuesday" },
        }), 400, "validation_error");
    }

    private static async Task<JsonObject> CheckA(HttpClient client, TestTenant tenant, string subject, string owner, string status = "draft") =>
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/abac/check", new
        {
            subject = new { id = subject, type = "user" },
            action = "edit",
            resource = new { type = "document", id = "d1", attributes = new { owner_id = owner, status } },
        }));

    /// <summary>
    /// End users' apps as the service meets them: through the gateway, with RFC 9068 access tokens of the tenant, signed
    /// by a key this test holds and the service is given as the tenant's published keys (the token service is not hosted here).
    /// </summary>
    private sealed class BearerCallers : IAsyncDisposable
    {
        private static readonly JsonWebTokenHandler Tokens = new();
        private readonly RSA _rsa = RSA.Create(2048);
        private readonly RsaSecurityKey _key;
        private readonly WebApplicationFactory<AuthorizationDbContext> _host;
        private readonly InProcessGateway _gateway;

        public BearerCallers(AuthorizationFactory service)
        {
            _key = new RsaSecurityKey(_rsa) { KeyId = "abac-test-" + Guid.NewGuid().ToString("N")[..8] };
            var published = new RsaSecurityKey(_rsa.ExportParameters(includePrivateParameters: false)) { KeyId = _key.KeyId };
            var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(published);
            jwk.Use = "sig";
            jwk.Alg = SecurityAlgorithms.RsaSha256;
            var keys = new JsonWebKeySet();
            keys.Keys.Add(jwk);
            _host = service.WithWebHostBuilder(builder => builder.ConfigureServices(services => services.AddSingleton<IJwksSource>(new FixedJwks(keys))));
            _gateway = new InProcessGateway(new Dictionary<string, GatewayBackend> { [ServiceNames.Authorization] = GatewayBackend.InMemory(() => _host.Server.CreateHandler()) });
        }

        /// <summary>A client presenting an access token for <paramref name="subject"/> with <paramref name="scope"/>.</summary>
        public HttpClient ClientFor(TestTenant tenant, string subject, string scope = "openid profile", Dictionary<string, object>? extraClaims = null)
        {
            var issuer = "http://localhost" + tenant.Api;
            var claims = new Dictionary<string, object>
            {
                [LumoClaims.Subject] = subject, [LumoClaims.Scope] = scope, [LumoClaims.ClientId] = "abac-test-app", ["jti"] = Guid.NewGuid().ToString("N"),
            };
            foreach (var (type, value) in extraClaims ?? [])
            {
                claims[type] = value;
            }

            var token = Tokens.CreateToken(new SecurityTokenDescriptor
            {
                Issuer = issuer,
                Audience = issuer,
                TokenType = "at+jwt",
                Expires = DateTime.UtcNow.AddMinutes(10),
                Claims = claims,
                SigningCredentials = new SigningCredentials(_key, SecurityAlgorithms.RsaSha256),
            });
            var client = new HttpClient(_gateway.CreateHandler()) { BaseAddress = new Uri("http://localhost") };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return client;
        }

        public async ValueTask DisposeAsync()
        {
            await _gateway.DisposeAsync();
            await _host.DisposeAsync();
            _rsa.Dispose();
        }

        private sealed class FixedJwks(JsonWebKeySet keys) : IJwksSource
        {
            public Task<JsonWebKeySet> GetAsync(TenantInfo tenant, CancellationToken cancellationToken) => Task.FromResult(keys);
        }
    }
}
