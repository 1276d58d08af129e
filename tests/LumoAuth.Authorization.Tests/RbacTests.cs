using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Authorization.Data;
using LumoAuth.Authorization.Features.Rbac;
using LumoAuth.Contracts.Groups;
using LumoAuth.Contracts.Internal;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using LumoAuth.Testing;

namespace LumoAuth.Authorization.Tests;

/// <summary>RBAC: roles, permissions, bindings, user and group assignments, the checks and roles-of, all answered by the engine.</summary>
[LumoAuth.Testing.RunsLong(35)]
public sealed class RbacTests(AuthorizationSuite suite) : IClassFixture<AuthorizationSuite>
{
    [Fact]
    public async Task RolesAndPermissions_Crud_WithSystemRolesImmutable()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var created = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/permissions", new { name = "Edit documents", slug = "document.edit", category = "documents" }), 201);
        Assert.Equal("document.edit", created["data"]!["slug"]!.GetValue<string>());
        var auto = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/permissions", new { name = "Read Users" }), 201);
        Assert.Equal("read_users", auto["data"]!["slug"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/permissions", new { name = "Again", slug = "document.edit" }), 409, "duplicate_resource");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/permissions", new { slug = "x.y" }), 400, "validation_error");

        var role = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = "Editor", permissions = new[] { "document.edit" } }), 201);
        Assert.Equal("editor", role["data"]!["slug"]!.GetValue<string>());
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = "Bad", permissions = new[] { "no.such" } }), 400, "validation_error");

        var bySlug = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/roles/editor"));
        Assert.Equal(["document.edit"], bySlug["data"]!["permissions"]!.AsArray().Select(p => p!["slug"]!.GetValue<string>()));
        var byId = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/roles/{role["data"]!["id"]!.GetValue<string>()}"));
        Assert.Equal("editor", byId["data"]!["slug"]!.GetValue<string>());
        var permissionRoles = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/permissions/document.edit/roles"));
        Assert.Equal("editor", permissionRoles["data"]![0]!["slug"]!.GetValue<string>());
        var permission = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/permissions/document.edit"));
        Assert.Equal(1, permission["data"]!["roleCount"]!.GetValue<int>());

        var system = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/roles?isSystem=true"));
        Assert.Equal(["admin", "tenant_admin", "user"], system["data"]!.AsArray().Select(r => r!["slug"]!.GetValue<string>()));
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/roles/admin", new { name = "Boss" }), 403, "permission_denied");
        await ApiAssert.ErrorAsync(await client.DeleteAsync($"{tenant.Api}/admin/roles/admin"), 403, "permission_denied");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/roles/admin/permissions", new { permissions = new[] { "document.edit" } }), 403, "permission_denied");
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/roles/nobody"), 404, "resource_not_found");

        // A tenant whose roles were never listed still refuses to delete or change a system role (rather than not finding it).
        var fresh = await suite.Admin.CreateTenantAsync();
        using var freshClient = suite.ClientFor(fresh);
        await ApiAssert.ErrorAsync(await freshClient.DeleteAsync($"{fresh.Api}/admin/roles/user"), 403, "permission_denied");
        await ApiAssert.ErrorAsync(await freshClient.PutAsJsonAsync($"{fresh.Api}/admin/roles/tenant_admin", new { name = "Boss" }), 403, "permission_denied");

        var replaced = await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/roles/editor/permissions", new { permissions = new[] { "read_users" } }));
        Assert.Equal(["read_users"], replaced["data"]!["permissions"]!.AsArray().Select(p => p!["slug"]!.GetValue<string>()));
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/roles/editor/permissions", new { }), 400, "validation_error");
        await ApiAssert.OkAsync(await client.DeleteAsync($"{tenant.Api}/admin/permissions/read_users"));
        var afterDelete = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/roles/editor"));
        Assert.Empty(afterDelete["data"]!["permissions"]!.AsArray());

        var other = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(other);
        await ApiAssert.ErrorAsync(await otherClient.GetAsync($"{other.Api}/admin/roles/editor"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherClient.GetAsync($"{other.Api}/admin/permissions/{created["data"]!["id"]}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherClient.GetAsync($"{tenant.Api}/admin/roles"), 401, "unauthorized");
    }

    [Fact]
    public async Task RolesAndPermissions_AreSearchedAndSorted()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = "Billing clerk", slug = "billing_clerk", description = "Pays 100% of invoices" }), 201);
        static async Task<IReadOnlyList<string>> SlugsAsync(HttpClient client, string url) =>
            [.. (await ApiAssert.OkAsync(await client.GetAsync(url)))["data"]!.AsArray().Select(e => e!["slug"]!.GetValue<string>())];

        Assert.Equal(["admin", "billing_clerk", "editor", "tenant_admin", "user"], await SlugsAsync(client, $"{tenant.Api}/admin/roles"));
        Assert.Equal(["user", "tenant_admin", "editor", "billing_clerk", "admin"], await SlugsAsync(client, $"{tenant.Api}/admin/roles?sortDir=DESC"));
        Assert.Equal(["billing_clerk"], await SlugsAsync(client, $"{tenant.Api}/admin/roles?search=Pays"));
        Assert.Equal(["billing_clerk"], await SlugsAsync(client, $"{tenant.Api}/admin/roles?search=100%25"));
        Assert.Empty(await SlugsAsync(client, $"{tenant.Api}/admin/roles?search=1_0"));
        Assert.Equal(["billing.manage", "document.edit", "document.read"], await SlugsAsync(client, $"{tenant.Api}/admin/permissions"));
        Assert.Equal(["document.read", "document.edit"], await SlugsAsync(client, $"{tenant.Api}/admin/permissions?search=DOCUMENT&sortDir=desc"));
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/roles?sortBy=users"), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/permissions?sortBy=roles"), 400, "validation_error");
    }

    [Fact]
    public async Task UserRoles_GrantPermissions_ToTheChecks()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var userId = await suite.Admin.CreateUserAsync(tenant, "rita@example.com");
        await SeedAsync(client, tenant);

        var assigned = await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "editor" } }));
        Assert.Equal(["editor"], assigned["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()));

        var check = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check", new { permission = "document.edit", subject = userId.ToString() }));
        Assert.True(check["allowed"]!.GetValue<bool>());
        Assert.Equal(userId.ToString(), check["user_id"]!.GetValue<string>());
        Assert.False(await AllowedAsync(client, tenant, userId, "billing.manage"));

        var bulk = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-bulk", new { permissions = new[] { "document.edit", "document.read", "billing.manage" }, subject = userId.ToString() }));
        Assert.True(bulk["results"]!["document.edit"]!.GetValue<bool>());
        Assert.True(bulk["results"]!["document.read"]!.GetValue<bool>());
        Assert.False(bulk["results"]!["billing.manage"]!.GetValue<bool>());
        var any = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-any", new { permissions = new[] { "billing.manage", "document.read" }, subject = userId.ToString() }));
        Assert.True(any["allowed"]!.GetValue<bool>());
        var all = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-all", new { permissions = new[] { "billing.manage", "document.read" }, subject = userId.ToString() }));
        Assert.False(all["allowed"]!.GetValue<bool>());
        var allHeld = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-all", new { permissions = new[] { "document.edit", "document.read" }, subject = userId.ToString() }));
        Assert.True(allHeld["allowed"]!.GetValue<bool>());
        var noneHeld = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-any", new { permissions = new[] { "billing.manage" }, subject = userId.ToString() }));
        Assert.False(noneHeld["allowed"]!.GetValue<bool>());

        var effective = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/authz/permissions?subject={userId}"));
        Assert.Equal(2, effective["count"]!.GetValue<int>());
        Assert.Equal("role:Editor", effective["permissions"]![0]!["source"]!.GetValue<string>());
        var view = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/users/{userId}/roles"));
        Assert.Equal(["document.edit", "document.read"], view["data"]!["permissions"]!.AsArray().Select(p => p!.GetValue<string>()));
        var users = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/roles/editor/users"));
        Assert.Equal(userId.ToString(), users["data"]![0]!["id"]!.GetValue<string>());

        // A PUT replaces the whole set: editor swapped for billing takes editor's permissions away.
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = "Billing", permissions = new[] { "billing.manage" } }), 201);
        var swapped = await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "billing" } }));
        Assert.Equal(["billing"], swapped["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        Assert.False(await AllowedAsync(client, tenant, userId, "document.edit"));
        Assert.True(await AllowedAsync(client, tenant, userId, "billing.manage"));

        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = Array.Empty<string>() }));
        Assert.False(await AllowedAsync(client, tenant, userId, "billing.manage"));
    }

    [Fact]
    public async Task UserGuideForms_WithoutAdmin_CreateRoles_SetPermissions_AndAssign()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var userId = await suite.Admin.CreateUserAsync(tenant, "gina@example.com");
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/permissions", new { name = "Publish", slug = "post.publish" }), 201);

        var role = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/roles", new { name = "Publisher", slug = "publisher", description = "Publishes posts" }), 201);
        Assert.Equal("publisher", role["data"]!["slug"]!.GetValue<string>());
        var withPermissions = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/roles/publisher/permissions", new { permissions = new[] { "post.publish" } }));
        Assert.Equal(["post.publish"], withPermissions["data"]!["permissions"]!.AsArray().Select(p => p!["slug"]!.GetValue<string>()));
        var assigned = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/users/{userId}/roles", new { roles = new[] { "publisher" } }));
        Assert.Equal(["publisher"], assigned["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        var view = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/users/{userId}/roles"));
        Assert.Equal(["post.publish"], view["data"]!["permissions"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.True(await AllowedAsync(client, tenant, userId, "post.publish"));

        // Same rules as the documented /admin forms: validation, unknown ids, other tenants, credentials.
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/roles", new { description = "no name" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/roles/nobody/permissions", new { permissions = new[] { "post.publish" } }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/users/{Guid.NewGuid()}/roles", new { roles = new[] { "publisher" } }), 404, "resource_not_found");
        var other = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(other);
        await ApiAssert.ErrorAsync(await otherClient.GetAsync($"{other.Api}/users/{userId}/roles"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherClient.PostAsJsonAsync($"{tenant.Api}/roles", new { name = "Intruder" }), 401, "unauthorized");
    }

    [Fact]
    public async Task UserGuideGroupForms_WithoutAdmin_GrantOneRoleAtATime()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var created = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/permissions", new { name = "Audit", slug = "audit:read" }), 201);
        Assert.Equal("audit:read", created["data"]!["slug"]!.GetValue<string>());
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/roles", new { name = "Auditor", slug = "auditor", permissions = new[] { "audit:read" } }), 201);
        var auditor = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/roles/auditor"));
        var auditorId = auditor["data"]!["id"]!.ToString();
        var groupId = await suite.Admin.CreateGroupAsync(tenant, "Reviewers");

        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups/{groupId}/roles", new { roleId = "editor" }));
        var both = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups/{groupId}/roles", new { roleId = auditorId }));
        Assert.Equal(["auditor", "editor"], both["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        var again = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups/{groupId}/roles", new { roleId = "editor" }));
        Assert.Equal(["auditor", "editor"], again["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        var replaced = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups/{groupId}/roles", new { roles = new[] { "auditor" } }));
        Assert.Equal(["auditor"], replaced["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()));

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups/{groupId}/roles", new { }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups/{groupId}/roles", new { roleId = "editor", roles = new[] { "editor" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups/{groupId}/roles", new { roleId = "no_such_role" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups/{Guid.NewGuid()}/roles", new { roleId = "editor" }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/permissions", new { description = "no name" }), 400, "validation_error");
        var other = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(other);
        await ApiAssert.ErrorAsync(await otherClient.PostAsJsonAsync($"{other.Api}/groups/{groupId}/roles", new { roleId = "editor" }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherClient.PostAsJsonAsync($"{tenant.Api}/groups/{groupId}/roles", new { roleId = "editor" }), 401, "unauthorized");
        var unchanged = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/groups/{groupId}/roles"));
        Assert.Equal(["auditor"], unchanged["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
    }

    [Fact]
    public async Task CheckAnyAndAll_EchoPermissions_InTheOrderAsked_WithoutRepeats()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var userId = await suite.Admin.CreateUserAsync(tenant, "orla@example.com");
        await SeedAsync(client, tenant);
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "editor" } }));

        // Not in ordinal order, with a repeat: the answer pairs with the list as sent, first occurrences kept.
        var asked = new[] { "document.read", "billing.manage", "document.edit", "document.read", "admin.all" };
        string[] expected = ["document.read", "billing.manage", "document.edit", "admin.all"];
        var any = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-any", new { permissions = asked, subject = userId.ToString() }));
        Assert.Equal(expected, any["permissions"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.True(any["allowed"]!.GetValue<bool>());
        var all = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-all", new { permissions = asked, subject = userId.ToString() }));
        Assert.Equal(expected, all["permissions"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.False(all["allowed"]!.GetValue<bool>());
        var bulk = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-bulk", new { permissions = asked, subject = userId.ToString() }));
        Assert.Equal(expected, bulk["results"]!.AsObject().Select(p => p.Key));
    }

    [Fact]
    public async Task Checks_RejectBadInput_WithDocumentedCodes()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var userId = await suite.Admin.CreateUserAsync(tenant, "sam@example.com");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check", new { subject = userId.ToString() }), 400, "MISSING_PERMISSION");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check", new { permission = 123, subject = userId.ToString() }), 400, "MISSING_PERMISSION");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check", new { permission = new[] { "a.b" }, subject = userId.ToString() }), 400, "MISSING_PERMISSION");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check", new { permission = " ", subject = userId.ToString() }), 400, "MISSING_PERMISSION");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-bulk", new { permissions = Array.Empty<string>(), subject = userId.ToString() }), 400, "INVALID_PERMISSIONS");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-any", new { subject = userId.ToString() }), 400, "INVALID_PERMISSIONS");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-all", new { permissions = new[] { "a", "" }, subject = userId.ToString() }), 400, "INVALID_PERMISSIONS");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-any", new { permissions = "document.edit", subject = userId.ToString() }), 400, "INVALID_PERMISSIONS");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check-bulk", new { permissions = new[] { 1, 2 }, subject = userId.ToString() }), 400, "INVALID_PERMISSIONS");
        // An API key has no subject of its own.
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check", new { permission = "a.b" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check", new { permission = "a.b", subject = "user:a b" }), 400, "validation_error");

        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{Guid.NewGuid()}/roles", new { roles = new[] { "user" } }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "no_such_role" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { }), 400, "validation_error");

        // Another tenant's user does not exist here.
        var other = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(other);
        await ApiAssert.ErrorAsync(await otherClient.PutAsJsonAsync($"{other.Api}/admin/users/{userId}/roles", new { roles = new[] { "user" } }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherClient.GetAsync($"{other.Api}/admin/users/{userId}/roles"), 404, "resource_not_found");
    }

    [Fact]
    public async Task GroupRoles_ReachMembers_ThroughAdminEvents()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var userId = await suite.Admin.CreateUserAsync(tenant, "gus@example.com");
        // Hedda holds the role herself as well: leaving the group leaves her own.
        var hedda = await suite.Admin.CreateUserAsync(tenant, "hedda@example.com");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{hedda}/roles", new { roles = new[] { "editor" } }));
        var groupId = await suite.Admin.CreateGroupAsync(tenant, "Writers");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/roles", new { roles = new[] { "editor" } }));
        var groupRoles = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/groups/{groupId}/roles"));
        Assert.Equal(["editor"], groupRoles["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        Assert.False(await AllowedAsync(client, tenant, userId, "document.edit"));

        using var admin = suite.Admin.ClientFor(tenant);
        (await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/members", new { userIds = new[] { userId.ToString(), hedda.ToString() } })).EnsureSuccessStatusCode();
        await ApiAssert.EventuallyAsync(async () => await AllowedAsync(client, tenant, userId, "document.edit") ? "granted" : null);
        var rolesOf = await RolesOfAsync(tenant, userId);
        Assert.Equal(["editor"], rolesOf["roles"]!.AsArray().Select(r => r!.GetValue<string>()));

        (await admin.DeleteAsync($"{tenant.Api}/admin/groups/{groupId}/members/{userId}")).EnsureSuccessStatusCode();
        (await admin.DeleteAsync($"{tenant.Api}/admin/groups/{groupId}/members/{hedda}")).EnsureSuccessStatusCode();
        await ApiAssert.EventuallyAsync(async () => await AllowedAsync(client, tenant, userId, "document.edit") ? null : "revoked");
        // Once her membership is gone, her own assignment still grants the role.
        await ApiAssert.EventuallyAsync(async () =>
        {
            await using var scope = suite.Authorization.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>();
            return await RbacStore.Tuples(db, tenant.Id).AnyAsync(t => t.ObjectType == RbacModel.Group && t.SubjectType == RbacModel.User && t.SubjectId == hedda.ToString())
                ? null : "left";
        });
        Assert.True(await AllowedAsync(client, tenant, hedda, "document.edit"));
        Assert.Equal(["editor"], (await RolesOfAsync(tenant, hedda))["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
    }

    [Fact]
    public async Task AdminsUserAndGroupObjects_ShowTheirRoles_UsersDirectAndThroughGroups()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var ada = await suite.Admin.CreateUserAsync(tenant, "ada@example.com");
        var bob = await suite.Admin.CreateUserAsync(tenant, "bob@example.com");
        var none = await suite.Admin.CreateUserAsync(tenant, "nobody@example.com");
        var groupId = await suite.Admin.CreateGroupAsync(tenant, "Editors");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{ada}/roles", new { roles = new[] { "user" } }));
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/roles", new { roles = new[] { "editor" } }));
        using var admin = suite.Admin.ClientFor(tenant);
        (await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/members", new { userIds = new[] { ada.ToString(), bob.ToString() } })).EnsureSuccessStatusCode();
        await ApiAssert.EventuallyAsync(async () => await AllowedAsync(client, tenant, bob, "document.edit") ? "granted" : null);

        static IEnumerable<string> Slugs(JsonNode user) => user["roles"]!.AsArray().Select(r => r!["slug"]!.GetValue<string>());
        var one = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{ada}"));
        Assert.Equal(["editor", "user"], Slugs(one["data"]!));
        Assert.Equal("Editor", one["data"]!["roles"]![0]!["name"]!.GetValue<string>());

        var page = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users?limit=100"));
        var byEmail = page["data"]!.AsArray().ToDictionary(u => u!["email"]!.GetValue<string>(), u => u!);
        Assert.Equal(["editor"], Slugs(byEmail["bob@example.com"]));
        Assert.Empty(Slugs(byEmail["nobody@example.com"]));
        var members = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/groups/{groupId}/members"));
        Assert.All(members["data"]!.AsArray(), m => Assert.Contains("editor", Slugs(m!)));
        Assert.DoesNotContain(none, members["data"]!.AsArray().Select(m => Guid.Parse(m!["id"]!.GetValue<string>())));
        var group = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/groups/{groupId}"));
        Assert.Equal(["editor"], Slugs(group["data"]!));
        var emptyGroup = await suite.Admin.CreateGroupAsync(tenant, "Nobody's");
        var groups = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/groups"));
        var bySlug = groups["data"]!.AsArray().ToDictionary(g => Guid.Parse(g!["id"]!.GetValue<string>()), g => g!);
        Assert.Equal(["editor"], Slugs(bySlug[groupId]));
        Assert.Empty(Slugs(bySlug[emptyGroup]));

        // The internal question is bounded, and answers only with the internal key.
        using var direct = suite.Authorization.CreateDirectClient();
        await ApiAssert.ErrorAsync(await direct.PostAsJsonAsync(InternalRoutes.RolesOfMany, new RolesOfManyRequest(tenant.Id, [ada])), 401, "unauthorized");
        direct.DefaultRequestHeaders.Add(InternalRoutes.InternalKeyHeader, TestInfrastructure.InternalKey);
        await ApiAssert.ErrorAsync(await direct.PostAsJsonAsync(InternalRoutes.RolesOfMany, new RolesOfManyRequest(tenant.Id, [.. Enumerable.Range(0, RolesOfManyRequest.MaxSubjects + 1).Select(_ => Guid.NewGuid())])), 400, "validation_error");
        var other = await suite.Admin.CreateTenantAsync();
        var foreign = await ApiAssert.OkAsync(await direct.PostAsJsonAsync(InternalRoutes.RolesOfMany, new RolesOfManyRequest(other.Id, [ada])));
        Assert.Empty(foreign["roles"]![ada.ToString()]!.AsArray());
    }

    [Fact]
    public async Task AdministeringRoles_AreGivenAndTakenOnlyByFullAdministrators()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        using var admin = suite.Admin.ClientFor(tenant);
        async Task<HttpClient> KeyWithAsync(string scope) => WithKey(suite.Authorization.CreateClient(), await ScopedKeyAsync(admin, tenant, scope));

        var user = await suite.Admin.CreateUserAsync(tenant, "climber@example.com");
        var boss = await suite.Admin.CreateUserAsync(tenant, "boss@example.com");
        var groupId = await suite.Admin.CreateGroupAsync(tenant, "Crew");
        using var usersKey = await KeyWithAsync("admin:users");
        using var groupsKey = await KeyWithAsync("admin:groups");
        using var rolesKey = await KeyWithAsync("admin:roles");

        // Managing accounts or groups is not managing who holds which role.
        await ApiAssert.ErrorAsync(await usersKey.PutAsJsonAsync($"{tenant.Api}/admin/users/{user}/roles", new { roles = new[] { "editor" } }), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await usersKey.PostAsJsonAsync($"{tenant.Api}/users/{user}/roles", new { roles = new[] { "editor" } }), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await groupsKey.PutAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/roles", new { roles = new[] { "editor" } }), 403, "insufficient_scope");

        // The roles key gives ordinary roles, but neither gives nor takes the administering ones, whatever it names them by.
        await ApiAssert.OkAsync(await rolesKey.PutAsJsonAsync($"{tenant.Api}/admin/users/{user}/roles", new { roles = new[] { "editor" } }));
        await ApiAssert.ErrorAsync(await rolesKey.PutAsJsonAsync($"{tenant.Api}/admin/users/{user}/roles", new { roles = new[] { "editor", "admin" } }), 403, "insufficient_scope");
        var adminRoleId = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/roles/admin")))["data"]!["id"]!.GetValue<string>();
        await ApiAssert.ErrorAsync(await rolesKey.PutAsJsonAsync($"{tenant.Api}/admin/users/{user}/roles", new { roles = new[] { adminRoleId } }), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await rolesKey.PostAsJsonAsync($"{tenant.Api}/groups/{groupId}/roles", new { roleId = "tenant_admin" }), 403, "insufficient_scope");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{boss}/roles", new { roles = new[] { "admin" } }));
        await ApiAssert.ErrorAsync(await rolesKey.PutAsJsonAsync($"{tenant.Api}/admin/users/{boss}/roles", new { roles = Array.Empty<string>() }), 403, "insufficient_scope");
        // Leaving an administrator's admin role where it is while changing the others is fine.
        await ApiAssert.OkAsync(await rolesKey.PutAsJsonAsync($"{tenant.Api}/admin/users/{boss}/roles", new { roles = new[] { "admin", "editor" } }));
        var roles = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/users/{user}/roles"));
        Assert.Equal(["editor"], roles["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
    }

    [Fact]
    public async Task GroupsHoldingAnAdministeringRole_ChangeMembersOnlyForFullAdministrators()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        using var admin = suite.Admin.ClientFor(tenant);

        var member = await suite.Admin.CreateUserAsync(tenant, "member@example.com");
        var climber = await suite.Admin.CreateUserAsync(tenant, "climber@example.com");
        var admins = await GroupHoldingAsync(client, tenant, "Admins", "admin");
        var crew = await GroupHoldingAsync(client, tenant, "Crew", "editor");
        (await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups/{admins}/members", new { userIds = new[] { member.ToString() } })).EnsureSuccessStatusCode();
        using var groupsKey = await AdminKeyAsync(admin, tenant, "admin:groups");
        using var usersKey = await AdminKeyAsync(admin, tenant, "admin:users");

        // Moving someone into (or out of) the admin group would give (or take) the admin role.
        await ApiAssert.ErrorAsync(await groupsKey.PostAsJsonAsync($"{tenant.Api}/admin/groups/{admins}/members", new { userIds = new[] { climber.ToString() } }), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await groupsKey.PostAsJsonAsync($"{tenant.Api}/groups/{admins}/members", new { userId = climber.ToString() }), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await groupsKey.DeleteAsync($"{tenant.Api}/admin/groups/{admins}/members/{member}"), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await groupsKey.DeleteAsync($"{tenant.Api}/admin/groups/{admins}"), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await usersKey.PutAsJsonAsync($"{tenant.Api}/admin/users/{climber}/groups", new { groups = new[] { "admins" } }), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await usersKey.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "sneaky@example.com", groups = new[] { "admins" } }), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await usersKey.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = "sneaky@example.com", groups = new[] { "admins" } }), 403, "insufficient_scope");

        // Ordinary groups are the scoped keys' to manage; a member of the admin group is an administrator, whose groups
        // are a full administrator's to change.
        await ApiAssert.OkAsync(await groupsKey.PostAsJsonAsync($"{tenant.Api}/admin/groups/{crew}/members", new { userIds = new[] { climber.ToString() } }));
        await ApiAssert.OkAsync(await usersKey.PutAsJsonAsync($"{tenant.Api}/admin/users/{climber}/groups", new { groups = new[] { "crew" } }));
        await ApiAssert.ErrorAsync(await usersKey.PutAsJsonAsync($"{tenant.Api}/admin/users/{member}/groups", new { groups = new[] { "admins", "crew" } }), 403, "insufficient_scope");
        await ApiAssert.OkAsync(await usersKey.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "newbie@example.com", groups = new[] { "crew" } }), 201);
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups/{admins}/members", new { userIds = new[] { climber.ToString() } }));
    }

    [Fact]
    public async Task AdministratorAccounts_AreChangedOnlyByFullAdministrators()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        using var admin = suite.Admin.ClientFor(tenant);
        using var usersKey = await AdminKeyAsync(admin, tenant, "admin:users");

        // The tenant's first administrator, one holding admin directly, one holding tenant_admin through a group.
        var founder = $"admin@{tenant.Slug}.example.com";
        var boss = await suite.Admin.CreateUserAsync(tenant, "boss@example.com");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{boss}/roles", new { roles = new[] { "admin" } }));
        var chief = await suite.Admin.CreateUserAsync(tenant, "chief@example.com");
        var owners = await GroupHoldingAsync(client, tenant, "Owners", "tenant_admin");
        (await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups/{owners}/members", new { userIds = new[] { chief.ToString() } })).EnsureSuccessStatusCode();
        var clerk = await suite.Admin.CreateUserAsync(tenant, "clerk@example.com");

        // A user-management key would otherwise take the account over: its e-mail, password or second factor.
        foreach (var target in new[] { founder, boss.ToString(), chief.ToString() })
        {
            var user = $"{tenant.Api}/admin/users/{target}";
            await ApiAssert.ErrorAsync(await usersKey.PutAsJsonAsync($"{user}/password", new { password = "taken over 12345" }), 403, "insufficient_scope");
            await ApiAssert.ErrorAsync(await usersKey.PatchAsJsonAsync(user, new { email = "mine@attacker.example.com" }), 403, "insufficient_scope");
            await ApiAssert.ErrorAsync(await usersKey.PostAsync($"{user}/mfa/reset", null), 403, "insufficient_scope");
            await ApiAssert.ErrorAsync(await usersKey.PostAsync($"{user}/mfa/backup-codes", null), 403, "insufficient_scope");
            await ApiAssert.ErrorAsync(await usersKey.PostAsync($"{user}/block", null), 403, "insufficient_scope");
            await ApiAssert.ErrorAsync(await usersKey.DeleteAsync(user), 403, "insufficient_scope");
            await ApiAssert.OkAsync(await usersKey.GetAsync(user));
            await ApiAssert.OkAsync(await usersKey.GetAsync($"{user}/mfa"));
        }

        // Everyone else is the key's to manage; the administrators are a full administrator's.
        var clerkPath = $"{tenant.Api}/admin/users/{clerk}";
        await ApiAssert.OkAsync(await usersKey.PutAsJsonAsync($"{clerkPath}/password", new { password = "a fresh start 123" }));
        await ApiAssert.OkAsync(await usersKey.PatchAsJsonAsync(clerkPath, new { name = "Clerk" }));
        await ApiAssert.OkAsync(await usersKey.PostAsync($"{clerkPath}/block", null));
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{boss}", new { name = "Boss" }));
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{founder}/password", new { password = "founders own 12345" }));

        // Leaving the group makes chief an ordinary user again.
        (await admin.DeleteAsync($"{tenant.Api}/admin/groups/{owners}/members/{chief}")).EnsureSuccessStatusCode();
        await ApiAssert.EventuallyAsync(async () =>
        {
            using var renamed = await usersKey.PatchAsJsonAsync($"{tenant.Api}/admin/users/{chief}", new { name = "Chief" });
            return renamed.IsSuccessStatusCode ? "ordinary" : null;
        });
    }

    [Fact]
    public async Task ScopedKeys_NameGroupsWithinTheLimits_AndInvitationsAreCheckedOnTheGroupsTheyResolve()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        using var admin = suite.Admin.ClientFor(tenant);
        using var usersKey = await AdminKeyAsync(admin, tenant, "admin:users");
        var admins = await GroupHoldingAsync(client, tenant, "Admins", "admin");
        await suite.Admin.CreateGroupAsync(tenant, "Crew", "crew");

        // More groups than a request may name are refused outright, not partly checked.
        var many = Enumerable.Range(0, 100).Select(i => $"nothing-{i}").Append("admins").ToArray();
        await ApiAssert.ErrorAsync(await usersKey.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "many@example.com", groups = many }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await usersKey.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = "many@example.com", groups = many }), 400, "validation_error");

        // A bulk invitation naming the admin group in any item is refused as a whole, and none of it is saved.
        var bulk = new
        {
            invitations = new object[]
            {
                new { email = "first@example.com", groups = new[] { "crew" } },
                new { email = "second@example.com", groups = new[] { admins.ToString() } },
            },
        };
        await ApiAssert.ErrorAsync(await usersKey.PostAsJsonAsync($"{tenant.Api}/admin/invitations/bulk", bulk), 403, "insufficient_scope");
        var pending = await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/invitations"));
        Assert.Empty(pending["data"]!.AsArray());
        await ApiAssert.OkAsync(await usersKey.PostAsJsonAsync($"{tenant.Api}/invitations", new { email = "first@example.com", groups = new[] { "crew" } }), 201);
    }

    [Fact]
    public async Task Administering_IsDecidedExactly_PastAnyNumberOfOtherRoles_AndOnlyWithTheInternalKey()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        using var admin = suite.Admin.ClientFor(tenant);
        var crowded = await suite.Admin.CreateUserAsync(tenant, "crowded@example.com");
        var plain = await suite.Admin.CreateUserAsync(tenant, "plain@example.com");
        var owners = await GroupHoldingAsync(client, tenant, "Owners", "tenant_admin");
        var crew = await suite.Admin.CreateGroupAsync(tenant, "Crew", "crew");
        (await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups/{owners}/members", new { userIds = new[] { crowded.ToString() } })).EnsureSuccessStatusCode();

        // More direct roles than a roles listing returns: tenant_admin, held through the group, falls past its end.
        var slugs = Enumerable.Range(0, 1001).Select(i => $"r{i:0000}").ToList();
        await Parallel.ForEachAsync(slugs, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (slug, token) =>
            await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = slug, slug }, token), 201));
        // One request names at most 1,000 roles: the last one comes through a group.
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{crowded}/roles", new { roles = slugs[..1000] }));
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{crew}/roles", new { roles = slugs[1000..] }));
        (await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups/{crew}/members", new { userIds = new[] { crowded.ToString() } })).EnsureSuccessStatusCode();

        using var direct = suite.Authorization.CreateDirectClient();
        var question = new AdministeringRequest(tenant.Id, [crowded, plain], [owners, crew]);
        await ApiAssert.ErrorAsync(await direct.PostAsJsonAsync(InternalRoutes.Administering, question), 401, "unauthorized");
        direct.DefaultRequestHeaders.Add(InternalRoutes.InternalKeyHeader, TestInfrastructure.InternalKey);
        var answer = await ApiAssert.EventuallyAsync(async () =>
        {
            var administering = (await ApiAssert.OkAsync(await direct.PostAsJsonAsync(InternalRoutes.Administering, question)))["administering"]!.AsArray()
                .Select(id => Guid.Parse(id!.GetValue<string>())).ToHashSet();
            return administering.Contains(crowded) ? administering : null;
        });
        Assert.Equal(new[] { crowded, owners }.Order(), answer.Order());

        // The token service's question says so too, however long the roles listing beside it.
        var rolesOf = await ApiAssert.OkAsync(await direct.PostAsJsonAsync(InternalRoutes.RolesOf, new RolesOfRequest(tenant.Id, crowded.ToString())));
        Assert.True(rolesOf["administers"]!.GetValue<bool>());
        var plainRoles = await ApiAssert.OkAsync(await direct.PostAsJsonAsync(InternalRoutes.RolesOf, new RolesOfRequest(tenant.Id, plain.ToString())));
        Assert.False(plainRoles["administers"]!.GetValue<bool>());

        await ApiAssert.ErrorAsync(await direct.PostAsJsonAsync(InternalRoutes.Administering,
            new AdministeringRequest(tenant.Id, [.. Enumerable.Range(0, RolesOfManyRequest.MaxSubjects + 1).Select(_ => Guid.NewGuid())], [])), 400, "validation_error");
        var other = await suite.Admin.CreateTenantAsync();
        var foreign = await ApiAssert.OkAsync(await direct.PostAsJsonAsync(InternalRoutes.Administering, question with { TenantId = other.Id }));
        Assert.Empty(foreign["administering"]!.AsArray());
    }

    [Fact]
    public async Task AMembershipTheAuthorizationServiceHasNotHeardOf_StillMakesTheUserAnAdministrator()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        using var admin = suite.Admin.ClientFor(tenant);
        using var usersKey = await AdminKeyAsync(admin, tenant, "admin:users");
        var late = await suite.Admin.CreateUserAsync(tenant, "late@example.com");
        var owners = await GroupHoldingAsync(client, tenant, "Owners", "tenant_admin");

        // The membership is committed in admin, its event not yet delivered (written here without one).
        await using (var scope = suite.Admin.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>();
            db.GroupMembers.Add(new LumoAuth.Admin.Data.GroupMember { GroupId = owners, UserId = late, TenantId = tenant.Id, AddedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }

        await ApiAssert.ErrorAsync(await usersKey.PutAsJsonAsync($"{tenant.Api}/admin/users/{late}/password", new { password = "taken over 12345" }), 403, "insufficient_scope");
    }

    [Fact]
    public async Task InvitationsFromAScopedKey_GiveNoGroupThatAdministersByAcceptance()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        using var admin = suite.Admin.ClientFor(tenant);
        using var usersKey = await AdminKeyAsync(admin, tenant, "admin:users");
        var crew = await suite.Admin.CreateGroupAsync(tenant, "Crew", "crew");

        // A re-send mails a new link; the test then fixes the link's token itself (no mailer runs here).
        async Task<string> InviteAsync(HttpClient sender, string email, string token, HttpClient? resender = null)
        {
            var id = (await ApiAssert.OkAsync(await sender.PostAsJsonAsync($"{tenant.Api}/invitations", new { email, groups = new[] { "crew" } }), 201))["data"]!["id"]!.GetValue<string>();
            if (resender is not null)
            {
                await ApiAssert.OkAsync(await resender.PostAsync($"{tenant.Api}/admin/invitations/{id}/resend", null), 202);
            }

            await using var scope = suite.Admin.Services.CreateAsyncScope();
            var hash = LumoAuth.Admin.Features.Credentials.TokenRedemptionEndpoints.HashOf(token);
            await scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>().Invitations.IgnoreQueryFilters()
                .Where(i => i.Id == Guid.Parse(id)).ExecuteUpdateAsync(s => s.SetProperty(i => i.TokenHash, hash));
            return token;
        }

        async Task<JsonArray> AcceptAsync(string token)
        {
            using var internalApi = suite.Admin.Internal();
            var accepted = (await ApiAssert.OkAsync(await internalApi.PostAsJsonAsync(LumoAuth.Admin.Features.Credentials.TokenRedemptionEndpoints.AcceptInvitation,
                new AcceptInvitationRequest(tenant.Id, token, "a good password 1", "Joiner")), 201))["data"]!;
            return (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{accepted["userId"]!.GetValue<string>()}")))["data"]!["groups"]!.AsArray();
        }

        // Crew was ordinary when the scoped key invited into it; by acceptance it administers the tenant.
        // A full administrator who re-sends a keyed invitation vouches for it; the key re-sending its own does not.
        var fromKey = await InviteAsync(usersKey, "keyed@example.com", "keyed-token", resender: usersKey);
        var fromAdmin = await InviteAsync(admin, "chosen@example.com", "chosen-token");
        var vouched = await InviteAsync(usersKey, "vouched@example.com", "vouched-token", resender: admin);
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{crew}/roles", new { roles = new[] { "tenant_admin" } }));

        Assert.Empty(await AcceptAsync(fromKey));
        Assert.Equal(crew.ToString(), (await AcceptAsync(fromAdmin)).Single()!["id"]!.GetValue<string>());
        Assert.Equal(crew.ToString(), (await AcceptAsync(vouched)).Single()!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task UsersAndGroupsCreatedWithRoles_HoldThemFromTheirFirstRead()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        using var admin = suite.Admin.ClientFor(tenant);
        var userRole = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/roles/user")))["data"]!["id"]!.GetValue<string>();

        // As the docs' example creates one: roles by slug (or id), answered with the roles held, and checks that agree at once.
        var created = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users",
            new { email = "newuser@example.com", name = "New User", password = "a good password 1", roles = new[] { "editor", userRole }, emailVerified = true }), 201))["data"]!;
        Assert.Equal(["editor", "user"], created["roles"]!.AsArray().Select(r => r!["slug"]!.GetValue<string>()).Order());
        var userId = Guid.Parse(created["id"]!.GetValue<string>());
        Assert.True(await AllowedAsync(client, tenant, userId, "document.edit"));

        var group = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name = "Writers", roles = new[] { "editor" } }), 201))["data"]!;
        Assert.Equal("editor", group["roles"]!.AsArray().Single()!["slug"]!.GetValue<string>());
        var read = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/groups/{group["id"]!.GetValue<string>()}/roles")))["data"]!;
        Assert.Equal("editor", read["roles"]!.AsArray().Single()!.GetValue<string>());

        // An unknown role creates nothing; neither does a resource-scoped key naming roles (they may be admin, by slug or id).
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "ghost@example.com", roles = new[] { "editor", "no_such_role" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{tenant.Api}/admin/users/ghost@example.com"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name = "Ghosts", roles = new[] { "no_such_role" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await admin.GetAsync($"{tenant.Api}/admin/groups/ghosts"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "many@example.com", roles = Enumerable.Range(0, 1001).Select(i => $"r{i}") }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = Enumerable.Range(0, 1001).Select(i => $"r{i}") }), 400, "validation_error");
        using var usersKey = await AdminKeyAsync(admin, tenant, "admin:users");
        using var groupsKey = await AdminKeyAsync(admin, tenant, "admin:groups");
        await ApiAssert.ErrorAsync(await usersKey.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "keyed@example.com", roles = new[] { "admin" } }), 403, "insufficient_scope");
        await ApiAssert.ErrorAsync(await groupsKey.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name = "Keyed", roles = new[] { "editor" } }), 403, "insufficient_scope");

        // Another tenant's role is unknown here.
        var other = await suite.Admin.CreateTenantAsync();
        using var otherClient = suite.ClientFor(other);
        await ApiAssert.OkAsync(await otherClient.PostAsJsonAsync($"{other.Api}/admin/roles", new { name = "Auditor" }), 201);
        await ApiAssert.ErrorAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "auditor@example.com", roles = new[] { "auditor" } }), 400, "validation_error");

        // Racing creations of one e-mail: one user is saved, and the roles given to the ids whose save failed are taken back.
        var racers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => admin.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "race@example.com", roles = new[] { "editor" } })));
        Assert.Single(racers, r => r.StatusCode == System.Net.HttpStatusCode.Created);
        Assert.All(racers, r => Assert.Contains(r.StatusCode, new[] { System.Net.HttpStatusCode.Created, System.Net.HttpStatusCode.Conflict }));
        await using var scope = suite.Authorization.Services.CreateAsyncScope();
        var holders = await RbacStore.Tuples(scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>(), tenant.Id)
            .Where(t => t.ObjectType == RbacModel.Role && t.SubjectType == RbacModel.User).Select(t => t.SubjectId).Distinct().CountAsync();
        Assert.Equal(2, holders);
        var groupRacers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => admin.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name = "Racers", roles = new[] { "editor" } })));
        Assert.Single(groupRacers, r => r.StatusCode == System.Net.HttpStatusCode.Created);
        var groupHolders = await RbacStore.Tuples(scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>(), tenant.Id)
            .Where(t => t.ObjectType == RbacModel.Role && t.SubjectType == RbacModel.Group).Select(t => t.SubjectId).Distinct().CountAsync();
        Assert.Equal(2, groupHolders);

        // The internal endpoint: the internal key only, exactly one new id, a list of roles; never an id admin already knows.
        using var direct = suite.Authorization.CreateDirectClient();
        var fresh = new InitialRolesRequest(tenant.Id, Guid.NewGuid(), null, ["editor"]);
        await ApiAssert.ErrorAsync(await direct.PostAsJsonAsync(InternalRoutes.InitialRoles, fresh), 401, "unauthorized");
        direct.DefaultRequestHeaders.Add(InternalRoutes.InternalKeyHeader, TestInfrastructure.InternalKey);
        await ApiAssert.ErrorAsync(await direct.PostAsJsonAsync(InternalRoutes.InitialRoles, fresh with { GroupId = Guid.NewGuid() }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await direct.PostAsJsonAsync(InternalRoutes.InitialRoles, fresh with { UserId = null }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await direct.PostAsJsonAsync(InternalRoutes.InitialRoles, new { tenantId = tenant.Id, userId = Guid.NewGuid() }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await direct.PostAsJsonAsync(InternalRoutes.InitialRoles, fresh with { UserId = userId, Roles = ["admin"] }), 409, "duplicate_resource");
        Assert.Equal(["no_such_role"], (await ApiAssert.OkAsync(await direct.PostAsJsonAsync(InternalRoutes.InitialRoles, fresh with { Roles = ["no_such_role"] })))["unknown"]!.AsArray().Select(r => r!.GetValue<string>()));
        Assert.Equal(["editor"], (await ApiAssert.OkAsync(await direct.PostAsJsonAsync(InternalRoutes.InitialRoles, fresh)))["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
    }

    [Fact]
    public async Task AScopedCallersRoleChange_LeavesTheAdministeringRolesAsTheyStandWhenWritten()
    {
        // What a resource-scoped caller writes after its check: if a full administrator gave or took admin in between,
        // the scoped replacement neither undoes nor redoes it.
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var boss = await suite.Admin.CreateUserAsync(tenant, "boss@example.com");
        var clerk = await suite.Admin.CreateUserAsync(tenant, "clerk@example.com");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{boss}/roles", new { roles = new[] { "admin" } }));

        await using (var scope = suite.Authorization.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>();
            var rbac = scope.ServiceProvider.GetRequiredService<RbacStore>();
            Func<string, bool> administering = LumoAuth.ServiceDefaults.Security.AdminScopeHandler.IsPrivilegedRole;
            await rbac.ReplaceRolesAsync(db, tenant.Id, new(RbacModel.User, boss.ToString()), ["editor"], administering, CancellationToken.None);
            await rbac.ReplaceRolesAsync(db, tenant.Id, new(RbacModel.User, clerk.ToString()), ["editor", "tenant_admin"], administering, CancellationToken.None);
        }

        static async Task<IEnumerable<string>> DirectAsync(HttpClient client, TestTenant tenant, Guid user) =>
            (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/users/{user}/roles")))["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()).Order();
        Assert.Equal(["admin", "editor"], await DirectAsync(client, tenant, boss));
        Assert.Equal(["editor"], await DirectAsync(client, tenant, clerk));
    }

    [Fact]
    public async Task DeletedGroup_TakesItsRolesFromItsMembers_ButNotTheirOwn()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var member = await suite.Admin.CreateUserAsync(tenant, "gwen@example.com");
        var direct = await suite.Admin.CreateUserAsync(tenant, "hal@example.com");
        var groupId = await suite.Admin.CreateGroupAsync(tenant, "Editors");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/roles", new { roles = new[] { "editor" } }));
        // hal holds the role both through the group and on his own.
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{direct}/roles", new { roles = new[] { "editor" } }));
        using var admin = suite.Admin.ClientFor(tenant);
        (await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/members", new { userIds = new[] { member.ToString(), direct.ToString() } })).EnsureSuccessStatusCode();
        await ApiAssert.EventuallyAsync(async () => await AllowedAsync(client, tenant, member, "document.edit") ? "granted" : null);

        (await admin.DeleteAsync($"{tenant.Api}/admin/groups/{groupId}")).EnsureSuccessStatusCode();

        await ApiAssert.EventuallyAsync(async () => await AllowedAsync(client, tenant, member, "document.edit") ? null : "revoked");
        Assert.True(await AllowedAsync(client, tenant, direct, "document.edit"));
    }

    [Fact]
    public async Task DeletedUser_LosesAssignments_AndRolesOfNeedsTheInternalKey()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var userId = await suite.Admin.CreateUserAsync(tenant, "del@example.com");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "editor", "user" } }));
        var before = await RolesOfAsync(tenant, userId);
        Assert.Equal(["editor", "user"], before["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        Assert.Equal(["document.edit", "document.read"], before["permissions"]!.AsArray().Select(r => r!.GetValue<string>()));

        using var admin = suite.Admin.ClientFor(tenant);
        (await admin.DeleteAsync($"{tenant.Api}/admin/users/{userId}")).EnsureSuccessStatusCode();
        await ApiAssert.EventuallyAsync(async () => (await RolesOfAsync(tenant, userId))["roles"]!.AsArray().Count == 0 ? "dropped" : null);

        using var anonymous = suite.Authorization.CreateDirectClient();
        await ApiAssert.ErrorAsync(await anonymous.PostAsJsonAsync(InternalRoutes.RolesOf, new RolesOfRequest(tenant.Id, userId.ToString())), 401, "unauthorized");
        using var withApiKey = suite.Authorization.CreateDirectClient();
        withApiKey.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        await ApiAssert.ErrorAsync(await withApiKey.PostAsJsonAsync(InternalRoutes.RolesOf, new RolesOfRequest(tenant.Id, userId.ToString())), 401, "unauthorized");
        using var outside = suite.ClientFor(tenant);
        outside.DefaultRequestHeaders.Add(InternalRoutes.InternalKeyHeader, TestInfrastructure.InternalKey);
        await ApiAssert.ErrorAsync(await outside.PostAsJsonAsync(InternalRoutes.RolesOf, new RolesOfRequest(tenant.Id, userId.ToString())), 404, "route_not_found");
    }

    [Fact]
    public async Task MembershipEvents_OutOfOrderOrRepeated_LeaveTheLatestState()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var (groupId, userId) = (await suite.Admin.CreateGroupAsync(tenant, "Ola's group"), await suite.Admin.CreateUserAsync(tenant, "ola@example.com"));
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/roles", new { roles = new[] { "editor" } }));
        var t0 = DateTimeOffset.UtcNow;
        var added = new GroupMembershipChanged(groupId, "g", [userId], []) { TenantId = tenant.Id, OccurredAt = t0 };
        var removed = new GroupMembershipChanged(groupId, "g", [], [userId]) { TenantId = tenant.Id, OccurredAt = t0.AddSeconds(1) };

        // The removal arrives first; the older addition must not resurrect the membership.
        await ApplyAsync(removed);
        await ApplyAsync(added);
        Assert.False(await AllowedAsync(client, tenant, userId, "document.edit"));

        var readded = added with { OccurredAt = t0.AddSeconds(2) };
        await ApplyAsync(readded);
        await ApplyAsync(readded);
        Assert.True(await AllowedAsync(client, tenant, userId, "document.edit"));
        await ApplyAsync(removed);
        Assert.True(await AllowedAsync(client, tenant, userId, "document.edit"));
    }

    /// <summary>
    /// A group of twenty thousand members, added and then removed by one event each (as a deleted group's event names
    /// every member): each event lands whole at one revision, a user named twice counts once, and the changelog holds
    /// one row per member.
    /// </summary>
    [Fact]
    public async Task MembershipEvents_NamingThousandsOfUsers_LandWhole_AtOneRevisionEach()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var groupId = await suite.Admin.CreateGroupAsync(tenant, "Crowd");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/roles", new { roles = new[] { "editor" } }));
        var members = Enumerable.Range(0, 20_000).Select(_ => Guid.NewGuid()).ToList();
        var t0 = DateTimeOffset.UtcNow;

        await ApplyAsync(new GroupMembershipChanged(groupId, "crowd", [.. members, members[0]], []) { TenantId = tenant.Id, OccurredAt = t0 });
        Assert.True(await AllowedAsync(client, tenant, members[0], "document.edit"));
        Assert.True(await AllowedAsync(client, tenant, members[^1], "document.edit"));
        var added = await ChangesAsync("write");
        Assert.Single(added.Select(c => c.Revision).Distinct());
        Assert.Equal(members.Count, added.Count);

        await ApplyAsync(new GroupMembershipChanged(groupId, "crowd", [], members) { TenantId = tenant.Id, OccurredAt = t0.AddSeconds(1) });
        Assert.False(await AllowedAsync(client, tenant, members[0], "document.edit"));
        Assert.False(await AllowedAsync(client, tenant, members[12_345], "document.edit"));
        var removed = await ChangesAsync("delete");
        Assert.Single(removed.Select(c => c.Revision).Distinct());
        Assert.Equal(members.Count, removed.Count);
        Assert.True(removed[0].Revision > added[0].Revision);

        async Task<List<TupleChange>> ChangesAsync(string operation)
        {
            await using var scope = suite.Authorization.Services.CreateAsyncScope();
            var store = RbacModel.StoreOf(tenant.Id);
            var prefix = $"group:{groupId}#member@";
            return await scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>().Changes.IgnoreQueryFilters()
                .Where(c => c.TenantId == store && c.Operation == operation && c.Tuple.StartsWith(prefix)).ToListAsync();
        }
    }

    /// <summary>
    /// Two consumers at once: the older "added" records its time first, the newer "removed" is then recorded and applied
    /// in full, and only then does the "added" reach its write. It is read again under the write lock and left out.
    /// </summary>
    [Fact]
    public async Task MembershipEvents_HandledAtOnce_TheOlderWriteLandingLast_LeaveTheLatestState()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var (groupId, userId) = (await suite.Admin.CreateGroupAsync(tenant, "Pia's group"), await suite.Admin.CreateUserAsync(tenant, "pia@example.com"));
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/roles", new { roles = new[] { "editor" } }));
        var t0 = DateTimeOffset.UtcNow;
        var added = new GroupMembershipChanged(groupId, "g", [userId], []) { TenantId = tenant.Id, OccurredAt = t0 };
        var removed = new GroupMembershipChanged(groupId, "g", [], [userId]) { TenantId = tenant.Id, OccurredAt = t0.AddSeconds(1) };

        await using var first = suite.Authorization.Services.CreateAsyncScope();
        var db = first.ServiceProvider.GetRequiredService<AuthorizationDbContext>();
        var recorded = await GroupMemberships.RecordAsync(db, added, CancellationToken.None);
        Assert.Single(recorded);
        await ApplyAsync(removed);
        await GroupMemberships.ApplyRecordedAsync(db, first.ServiceProvider.GetRequiredService<RbacStore>(), added, recorded, CancellationToken.None);

        Assert.False(await AllowedAsync(client, tenant, userId, "document.edit"));
    }

    /// <summary>
    /// A role's deletion takes its assignments and grants in the same transaction as its row; an assignment checked against
    /// the catalogue just before the delete writes nothing (checked again under the write lock). So a role created later
    /// with the same slug starts with nobody, whenever it is created.
    /// </summary>
    [Fact]
    public async Task DeletedRole_TakesItsTuplesAtOnce_AndLateAssignmentsAreDropped_SoARoleOfTheSameSlugInheritsNoOne()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var userId = await suite.Admin.CreateUserAsync(tenant, "late@example.com");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "editor" } }));
        Assert.True(await AllowedAsync(client, tenant, userId, "document.edit"));
        var role = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/roles/editor")))["data"]!["id"]!.GetValue<string>();
        await ApiAssert.OkAsync(await client.DeleteAsync($"{tenant.Api}/admin/roles/{role}"));

        await using (var scope = suite.Authorization.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>();
            Assert.False(await RbacStore.Tuples(db, tenant.Id).AnyAsync(t => t.ObjectId == "editor" || t.SubjectId == "editor"));

            var assignment = new Engine.RelationshipTuple(new Engine.ObjectRef(RbacModel.Role, "editor"), RbacModel.Assignee, new Engine.SubjectRef(RbacModel.User, userId.ToString()));
            await scope.ServiceProvider.GetRequiredService<RbacStore>().ApplyAsync(db, tenant.Id, [assignment], [], CancellationToken.None);
            Assert.False(await RbacStore.Tuples(db, tenant.Id).AnyAsync(t => t.ObjectType == RbacModel.Role && t.ObjectId == "editor"));
        }

        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = "Editor", permissions = new[] { "document.read" } }), 201);
        Assert.False(await AllowedAsync(client, tenant, userId, "document.read"));
        Assert.False(await AllowedAsync(client, tenant, userId, "document.edit"));
    }

    /// <summary>
    /// Tuples naming a role that no longer exists (an earlier version deleted row and tuples in two steps, and could stop in
    /// between) go with the role's RoleDeleted event; once a role of that slug exists again, a late event leaves its tuples alone.
    /// </summary>
    [Fact]
    public async Task RoleDeletedEvent_ClearsLeftoversOfAMissingRole_AndNothingOfARoleOfThatSlug()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        var userId = await suite.Admin.CreateUserAsync(tenant, "leftover@example.com");
        var leftover = new Engine.RelationshipTuple(new Engine.ObjectRef(RbacModel.Role, "ghost"), RbacModel.Assignee, new Engine.SubjectRef(RbacModel.User, userId.ToString()));
        await using (var scope = suite.Authorization.Services.CreateAsyncScope())
        {
            // Written past the catalogue guard, as the old two-step deletion could leave it.
            var db = scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>();
            await Storage.TupleStoreWriter.ApplyAsync(db, RbacModel.StoreOf(tenant.Id), [leftover], [], [], CancellationToken.None, publishEvents: false);
        }

        var bus = suite.Authorization.Services.GetRequiredService<MassTransit.IBus>();
        await bus.Publish(new Contracts.Authorization.RoleDeleted(Guid.NewGuid(), "ghost") { TenantId = tenant.Id });
        await ApiAssert.EventuallyAsync(async () => await GhostTuplesAsync() == 0 ? "cleared" : null);

        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = "Ghost", slug = "ghost" }), 201);
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "ghost" } }));
        await using (var scope = suite.Authorization.Services.CreateAsyncScope())
        {
            // What the consumer runs for a late event of the old role.
            await scope.ServiceProvider.GetRequiredService<RbacStore>().RemoveTuplesOfMissingRoleAsync(
                scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>(), tenant.Id, "ghost", CancellationToken.None);
        }

        Assert.Equal(1, await GhostTuplesAsync());

        async Task<int> GhostTuplesAsync()
        {
            await using var scope = suite.Authorization.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>();
            return await RbacStore.Tuples(db, tenant.Id).CountAsync(t => t.ObjectType == RbacModel.Role && t.ObjectId == "ghost");
        }
    }

    /// <summary>
    /// A permission's deletion takes its grants in the same transaction as its row and raises PermissionDeleted; a grant
    /// checked against the catalogue just before the delete writes nothing (checked again under the write lock). So a
    /// permission created later with the same slug is granted by no role, whenever it is created.
    /// </summary>
    [Fact]
    public async Task DeletedPermission_TakesItsGrantsAtOnce_AndLateGrantsAreDropped_SoAPermissionOfTheSameSlugIsGrantedByNoOne()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var userId = await suite.Admin.CreateUserAsync(tenant, "granted@example.com");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "editor" } }));
        Assert.True(await AllowedAsync(client, tenant, userId, "document.edit"));
        using var watch = new BusWatch(suite.Authorization.Services.GetRequiredService<MassTransit.IBus>());
        var permission = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/permissions/document.edit")))["data"]!["id"]!.GetValue<string>();

        await ApiAssert.OkAsync(await client.DeleteAsync($"{tenant.Api}/admin/permissions/{permission}"));

        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/permissions/{permission}"), 404, "resource_not_found");
        Assert.False(await AllowedAsync(client, tenant, userId, "document.edit"));
        await ApiAssert.EventuallyAsync(() => Task.FromResult<object?>(
            watch.Published<Contracts.Authorization.PermissionDeleted>(e => e.TenantId == tenant.Id && e.Slug == "document.edit").Count == 1 ? "raised" : null));
        await using (var scope = suite.Authorization.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>();
            Assert.False(await GrantedAsync(db, "document.edit"));

            // A grant whose slugs were checked before the delete reaches the store after it: only the live permissions land.
            await scope.ServiceProvider.GetRequiredService<RbacStore>().ReplacePermissionsAsync(
                db, tenant.Id, "editor", ["billing.manage", "document.edit", "document.read"], CancellationToken.None);
            Assert.False(await GrantedAsync(db, "document.edit"));
            Assert.True(await GrantedAsync(db, "billing.manage"));
        }

        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/permissions", new { name = "Edit again", slug = "document.edit" }), 201);
        Assert.False(await AllowedAsync(client, tenant, userId, "document.edit"));
        Assert.True(await AllowedAsync(client, tenant, userId, "billing.manage"));
        var again = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/permissions/document.edit"));
        Assert.Equal(0, again["data"]!["roleCount"]!.GetValue<int>());

        Task<bool> GrantedAsync(AuthorizationDbContext db, string slug) =>
            RbacStore.Tuples(db, tenant.Id).AnyAsync(t => t.ObjectType == RbacModel.Permission && t.ObjectId == slug && t.SubjectType == RbacModel.Role && t.SubjectId == "editor");
    }

    /// <summary>
    /// Leftovers written before deletions were checked under the write lock (an assignment of a missing role, a grant of a
    /// missing permission) never reach a role or a permission created later with that slug: creation clears them first.
    /// </summary>
    [Fact]
    public async Task CreatingARoleOrPermission_ClearsWhatAnEarlierOneOfTheSlugLeftBehind()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var userId = await suite.Admin.CreateUserAsync(tenant, "inherits-nothing@example.com");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = new[] { "editor" } }));
        await using (var scope = suite.Authorization.Services.CreateAsyncScope())
        {
            // Written past the catalogue guard, as the old deletions could leave them.
            var db = scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>();
            Engine.RelationshipTuple[] leftovers =
            [
                new(new Engine.ObjectRef(RbacModel.Role, "ghost"), RbacModel.Assignee, new Engine.SubjectRef(RbacModel.User, userId.ToString())),
                new(new Engine.ObjectRef(RbacModel.Permission, "vault.open"), RbacModel.Granted, new Engine.SubjectRef(RbacModel.Role, "editor", RbacModel.Assignee)),
            ];
            await Storage.TupleStoreWriter.ApplyAsync(db, RbacModel.StoreOf(tenant.Id), leftovers, [], [], CancellationToken.None, publishEvents: false);
        }

        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/permissions", new { name = "Open the vault", slug = "vault.open" }), 201);
        Assert.False(await AllowedAsync(client, tenant, userId, "vault.open"));
        Assert.Equal(0, (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/permissions/vault.open")))["data"]!["roleCount"]!.GetValue<int>());

        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = "Ghost", slug = "ghost" }), 201);
        var roles = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/users/{userId}/roles"));
        Assert.DoesNotContain("ghost", roles.ToJsonString(), StringComparison.Ordinal);

        // What exists is left alone: the user keeps the editor role and its grants.
        Assert.True(await AllowedAsync(client, tenant, userId, "document.edit"));
    }

    /// <summary>
    /// An accepted invitation's roles are given once per event: a redelivery (the same message id) after an administrator
    /// took the role away does not give it back.
    /// </summary>
    [Fact]
    public async Task InvitationAccepted_RedeliveredAfterTheRoleWasRemoved_LeavesTheRoleRemoved()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        using var client = suite.ClientFor(tenant);
        await SeedAsync(client, tenant);
        var userId = await suite.Admin.CreateUserAsync(tenant, "invited@example.com");
        var bus = suite.Authorization.Services.GetRequiredService<MassTransit.IBus>();
        using var watch = new BusWatch(bus);
        var accepted = new Contracts.Users.UserInvitationAccepted(Guid.NewGuid(), userId, ["editor"]) { TenantId = tenant.Id };
        var messageId = Guid.NewGuid();

        await bus.Publish(accepted, context => context.MessageId = messageId);
        await watch.WaitForHandledAsync<Contracts.Users.UserInvitationAccepted>(m => m.UserId == userId, count: 1, messageId);
        Assert.Equal(["editor"], await DirectRolesAsync());

        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{userId}/roles", new { roles = Array.Empty<string>() }));
        await bus.Publish(accepted, context => context.MessageId = messageId);
        await watch.WaitForHandledAsync<Contracts.Users.UserInvitationAccepted>(m => m.UserId == userId, count: 2, messageId);

        Assert.Empty(await DirectRolesAsync());
        Assert.False(await AllowedAsync(client, tenant, userId, "document.edit"));

        async Task<IEnumerable<string>> DirectRolesAsync() =>
            (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/users/{userId}/roles")))["data"]!["roles"]!.AsArray().Select(r => r!.GetValue<string>()).Order();
    }

    private async Task ApplyAsync(GroupMembershipChanged message)
    {
        await using var scope = suite.Authorization.Services.CreateAsyncScope();
        await GroupMemberships.ApplyAsync(
            scope.ServiceProvider.GetRequiredService<AuthorizationDbContext>(),
            scope.ServiceProvider.GetRequiredService<RbacStore>(),
            message,
            CancellationToken.None);
    }

    /// <summary>A new API key of the tenant holding only <paramref name="scope"/>.</summary>
    private static async Task<string> ScopedKeyAsync(HttpClient admin, TestTenant tenant, string scope) =>
        (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = scope, scopes = new[] { scope } }), 201))
            ["data"]!["key"]!.GetValue<string>();

    /// <summary>A new group of the tenant (slug: the lower-cased name) holding <paramref name="role"/>.</summary>
    private async Task<Guid> GroupHoldingAsync(HttpClient client, TestTenant tenant, string name, string role)
    {
        var group = await suite.Admin.CreateGroupAsync(tenant, name, name.ToLowerInvariant());
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{group}/roles", new { roles = new[] { role } }));
        return group;
    }

    /// <summary>A client of the admin service holding a new API key with only <paramref name="scope"/>.</summary>
    private async Task<HttpClient> AdminKeyAsync(HttpClient admin, TestTenant tenant, string scope) =>
        WithKey(suite.Admin.CreateClient(), await ScopedKeyAsync(admin, tenant, scope));

    private static HttpClient WithKey(HttpClient client, string key)
    {
        client.DefaultRequestHeaders.Add("X-API-Key", key);
        return client;
    }

    private static async Task SeedAsync(HttpClient client, TestTenant tenant)
    {
        foreach (var slug in new[] { "document.edit", "document.read", "billing.manage" })
        {
            await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/permissions", new { name = slug, slug }), 201);
        }

        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/roles", new { name = "Editor", permissions = new[] { "document.edit", "document.read" } }), 201);
    }

    private static async Task<bool> AllowedAsync(HttpClient client, TestTenant tenant, Guid userId, string permission) =>
        (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/authz/check", new { permission, subject = userId.ToString() })))["allowed"]!.GetValue<bool>();

    private async Task<JsonObject> RolesOfAsync(TestTenant tenant, Guid userId)
    {
        using var client = suite.Authorization.CreateDirectClient();
        client.DefaultRequestHeaders.Add(InternalRoutes.InternalKeyHeader, TestInfrastructure.InternalKey);
        return await ApiAssert.OkAsync(await client.PostAsJsonAsync(InternalRoutes.RolesOf, new RolesOfRequest(tenant.Id, userId.ToString())));
    }
}
