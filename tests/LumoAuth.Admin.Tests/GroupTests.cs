using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

namespace LumoAuth.Admin.Tests;

public sealed class GroupTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    [Fact]
    public async Task Group_Crud_ByIdOrSlug_WithDerivedSlug()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var created = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups",
            new { name = "Design Team", description = "UI people" }), 201))["data"]!;
        Assert.Equal("design-team", created["slug"]!.GetValue<string>());
        var id = created["id"]!.GetValue<string>();

        Assert.Equal(id, (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/groups/design-team")))["data"]!["id"]!.GetValue<string>());
        var updated = (await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{id}", new { name = "Designers" })))["data"]!;
        Assert.Equal("Designers", updated["name"]!.GetValue<string>());
        Assert.Equal("UI people", updated["description"]!.GetValue<string>());

        var list = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/groups?search=design"));
        Assert.Equal(1, list["meta"]!["total"]!.GetValue<long>());
        await factory.CreateGroupAsync(tenant, "Accounting");
        var sorted = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/groups?sortBy=slug&sortDir=DESC"));
        Assert.Equal(["design-team", "accounting"], sorted["data"]!.AsArray().Select(g => g!["slug"]!.GetValue<string>()).ToList());
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/groups?sortBy=secret"), 400, "validation_error");

        using var deleted = await client.DeleteAsync($"{tenant.Api}/admin/groups/design-team");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/groups/{id}"), 404, "resource_not_found");
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?targetId={id}"));
            var actions = page["data"]!.AsArray().Select(e => e!["action"]!.GetValue<string>()).ToHashSet();
            return actions.SetEquals(["group_created", "group_updated", "group_deleted"]) ? page : null;
        });
    }

    [Fact]
    public async Task Group_BadInputAndDuplicates_AreRefused()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        await factory.CreateGroupAsync(tenant, "Ops");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name = "Ops" }), 409, "duplicate_resource");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { description = "no name" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name = "x", slug = "Not Valid" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name = "!!!" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name = "y", roles = new[] { "dev" } }), 503, "service_unavailable");
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/groups/y"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name = "z", memberCount = 5 }), 400, "invalid_request");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/ops", new { name = " " }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/groups/missing", new { name = "m" }), 404, "resource_not_found");
    }

    [Fact]
    public async Task Members_AddListRemove_PublishMembershipChanges()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var groupId = await factory.CreateGroupAsync(tenant, "Engineering");
        var u1 = await factory.CreateUserAsync(tenant, "m1@example.com");
        var u2 = await factory.CreateUserAsync(tenant, "m2@example.com");

        var added = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups/engineering/members",
            new { userIds = new[] { u1.ToString(), "m2@example.com" } })))["data"]!;
        Assert.Equal(2, added["added"]!.GetValue<int>());
        // Adding again is a no-op.
        Assert.Equal(0, (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/members", new { userId = u1.ToString() })))["data"]!["added"]!.GetValue<int>());

        var members = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/groups/{groupId}/members"));
        Assert.Equal(["m1@example.com", "m2@example.com"], members["data"]!.AsArray().Select(u => u!["email"]!.GetValue<string>()).ToList());

        using var removed = await client.DeleteAsync($"{tenant.Api}/admin/groups/{groupId}/members/{u2}");
        Assert.Equal(HttpStatusCode.NoContent, removed.StatusCode);
        await ApiAssert.ErrorAsync(await client.DeleteAsync($"{tenant.Api}/admin/groups/{groupId}/members/{u2}"), 404, "resource_not_found");
        Assert.Equal(1, (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/groups/{groupId}")))["data"]!["memberCount"]!.GetValue<int>());

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/members", new { userIds = new[] { Guid.NewGuid().ToString() } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/members", new { userIds = Array.Empty<string>() }), 400, "validation_error");

        var changes = await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=group_membership_changed&targetId={groupId}"));
            return page["meta"]!["total"]!.GetValue<long>() == 2 ? page : null;
        });
        var metadata = changes["data"]!.AsArray().Select(e => e!["metadata"]!.AsObject()).ToList();
        Assert.Contains(metadata, m => m["addedUserIds"]!.AsArray().Count == 2);
        Assert.Contains(metadata, m => m["removedUserIds"]!.AsArray().Single()!.GetValue<string>() == u2.ToString());
    }

    [Fact]
    public async Task DeletingAGroup_KeepsItsMembers()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var groupId = await factory.CreateGroupAsync(tenant, "Temporary");
        var member = await factory.CreateUserAsync(tenant, "stays@example.com");
        await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/members", new { userId = member.ToString() }));

        using var deleted = await client.DeleteAsync($"{tenant.Api}/admin/groups/{groupId}");
        Assert.True(deleted.IsSuccessStatusCode, await deleted.Content.ReadAsStringAsync());

        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/groups/{groupId}"), 404, "resource_not_found");
        var user = (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/users/{member}")))["data"]!;
        Assert.Empty(user["groups"]!.AsArray());
    }

    [Fact]
    public async Task UserGuideForms_WithoutAdmin_CreateGroup_AndAddOneMember()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var userId = await factory.CreateUserAsync(tenant, "guide@example.com");
        var created = (await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups",
            new { name = "Engineering", slug = "engineering", description = "Engineering team" }), 201))["data"]!;
        var groupId = created["id"]!.GetValue<string>();
        var added = await ApiAssert.OkAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups/{groupId}/members", new { userId = userId.ToString() }));
        Assert.Equal(1, added["data"]!["added"]!.GetValue<int>());
        Assert.Equal(1, (await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/groups/engineering")))["data"]!["memberCount"]!.GetValue<int>());

        // Same rules as the /admin forms: validation, duplicates, unknown ids, other tenants, credentials.
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups", new { name = "Engineering" }), 409, "duplicate_resource");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups", new { description = "no name" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups/{groupId}/members", new { userId = Guid.NewGuid().ToString() }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/groups/missing/members", new { userId = userId.ToString() }), 404, "resource_not_found");
        var other = await factory.CreateTenantAsync();
        using var otherClient = factory.ClientFor(other);
        await ApiAssert.ErrorAsync(await otherClient.PostAsJsonAsync($"{other.Api}/groups/{groupId}/members", new { userId = userId.ToString() }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await otherClient.PostAsJsonAsync($"{tenant.Api}/groups", new { name = "Intruders" }), 401, "unauthorized");
    }

    [Fact]
    public async Task Groups_OfAnotherTenant_AreNotFound_AndItsUsersCannotBeAdded()
    {
        var a = await factory.CreateTenantAsync();
        var b = await factory.CreateTenantAsync();
        var foreignGroup = await factory.CreateGroupAsync(b, "Secret");
        var foreignUser = await factory.CreateUserAsync(b, "u@b.example.com");
        var ownGroup = await factory.CreateGroupAsync(a, "Own");
        using var client = factory.ClientFor(a);
        foreach (var path in new[] { $"groups/{foreignGroup}", "groups/secret", $"groups/{foreignGroup}/members" })
        {
            await ApiAssert.ErrorAsync(await client.GetAsync($"{a.Api}/admin/{path}"), 404, "resource_not_found");
        }

        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{a.Api}/admin/groups/{foreignGroup}", new { name = "x" }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.DeleteAsync($"{a.Api}/admin/groups/{foreignGroup}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{a.Api}/admin/groups/{foreignGroup}/members", new { userIds = new[] { foreignUser.ToString() } }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.DeleteAsync($"{a.Api}/admin/groups/{foreignGroup}/members/{foreignUser}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{a.Api}/admin/groups/{ownGroup}/members", new { userIds = new[] { foreignUser.ToString() } }), 400, "validation_error");
    }

    [Fact]
    public async Task RacingAddsOfOneUser_WithADeletionAndARename_AnswerWithoutServerErrors_AndAddTheUserOnce()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var groupId = await factory.CreateGroupAsync(tenant, "Racers");
        var userId = await factory.CreateUserAsync(tenant, "racer@example.com", "a long password 1", "Rae Racer");

        var adds = Enumerable.Range(0, 10)
            .Select(_ => client.PostAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}/members", new { userIds = new[] { userId.ToString() } }))
            .ToList();
        var others = new[] { client.DeleteAsync($"{tenant.Api}/admin/groups/{groupId}"), client.PutAsJsonAsync($"{tenant.Api}/admin/groups/{groupId}", new { name = "Renamed" }) };
        var responses = await Task.WhenAll(adds.Concat(others));

        var statuses = responses.Select(r => (int)r.StatusCode).ToList();
        Assert.All(statuses, status => Assert.Contains(status, new[] { 200, 201, 204, 404, 409 }));
        // Whichever adds came before the deletion, the user joined once: one of them added, the rest found a member.
        var added = 0;
        foreach (var response in responses.Take(10).Where(r => r.StatusCode == HttpStatusCode.OK))
        {
            added += (await response.Content.ReadFromJsonAsync<JsonObject>())!["data"]!["added"]!.GetValue<int>();
        }

        Assert.Equal(responses.Take(10).Any(r => r.StatusCode == HttpStatusCode.OK) ? 1 : 0, added);
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/groups/{groupId}"), 404, "resource_not_found");
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }
}
