using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

using static LumoAuth.Admin.Tests.ScimHttp;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// A SCIM DELETE of a group soft-deletes it, as for users: the group is absent everywhere (SCIM, REST, memberships,
/// internal lookups) except to a SCIM filter that asks about <c>isSoftDeleted</c> and to the hard delete.
/// </summary>
public sealed class ScimGroupSoftDeleteTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private const string SoftDelete = "urn:ietf:params:scim:schemas:extension:lumoauth:1.0:SoftDelete";

    private HttpClient Scim(TestTenant tenant) => ClientFor(factory, tenant);

    private static async Task ScimErrorAsync(HttpResponseMessage response, int status, string? scimType = null)
    {
        var error = await ScimAsync(response, status);
        Assert.Equal("urn:ietf:params:scim:api:messages:2.0:Error", error["schemas"]![0]!.GetValue<string>());
        Assert.Equal(status.ToString(System.Globalization.CultureInfo.InvariantCulture), error["status"]!.GetValue<string>());
        if (scimType is not null)
        {
            Assert.Equal(scimType, error["scimType"]!.GetValue<string>());
        }
    }

    private async Task<string> CreateUserAsync(HttpClient client, TestTenant tenant, string userName) =>
        (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", Json(new { userName })), 201))["id"]!.GetValue<string>();

    private static async Task<JsonObject> CreateGroupAsync(HttpClient client, TestTenant tenant, string displayName, params string[] members) =>
        await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new
        {
            schemas = new[] { GroupSchema }, displayName, members = members.Select(m => new { value = m }).ToArray(),
        })), 201);

    private static async Task<JsonArray> ListGroupsAsync(HttpClient client, TestTenant tenant, string? filter = null) =>
        (await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Groups" + (filter is null ? string.Empty : "?filter=" + Uri.EscapeDataString(filter))), 200))
            ["Resources"]?.AsArray() ?? [];

    private static StringContent AddMember(string userId) =>
        Json(new { schemas = new[] { PatchOp }, Operations = new[] { new { op = "add", path = "members", value = new[] { new { value = userId } } } } });

    private static async Task<JsonObject> AuditAsync(HttpClient rest, TestTenant tenant, string action, string groupId, int expected) =>
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await rest.GetAsync($"{tenant.Api}/admin/audit-logs?action={action}&targetId={groupId}"));
            return page["meta"]!["total"]!.GetValue<long>() == expected ? page : null;
        });

    [Fact]
    public async Task SoftDeletedGroup_IsGoneFromScimAndRest_ButShowsToTheIsSoftDeletedFilter_WithTheExtension()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        using var rest = factory.ClientFor(tenant);
        var member = await CreateUserAsync(client, tenant, "member@example.com");
        var live = await CreateGroupAsync(client, tenant, "Engineering", member);
        var id = live["id"]!.GetValue<string>();
        Assert.Contains(SoftDelete, live["schemas"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.False(live[SoftDelete]!["isSoftDeleted"]!.GetValue<bool>());
        var slug = (await ApiAssert.OkAsync(await rest.GetAsync($"{tenant.Api}/admin/groups/{id}")))["data"]!["slug"]!.GetValue<string>();
        await CreateGroupAsync(client, tenant, "Bystanders");

        using (var deleted = await client.DeleteAsync($"{tenant.Api}/scim2.0/Groups/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        // SCIM: gone by id, from lists and from filters that do not ask about soft deletion.
        await ScimErrorAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Groups/{id}"), 404);
        Assert.Equal(["Bystanders"], (await ListGroupsAsync(client, tenant)).Select(g => g!["displayName"]!.GetValue<string>()));
        Assert.Empty(await ListGroupsAsync(client, tenant, "displayName eq \"Engineering\""));
        Assert.Empty(await ListGroupsAsync(client, tenant, $"id eq \"{id}\""));

        // …but the isSoftDeleted filter shows it, flagged, with its name and without members.
        var soft = Assert.Single(await ListGroupsAsync(client, tenant, "isSoftDeleted eq true"))!.AsObject();
        Assert.Equal(id, soft["id"]!.GetValue<string>());
        Assert.Equal("Engineering", soft["displayName"]!.GetValue<string>());
        Assert.Contains(SoftDelete, soft["schemas"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.True(soft[SoftDelete]!["isSoftDeleted"]!.GetValue<bool>());
        Assert.NotNull(soft[SoftDelete]!["deletedAt"]);
        Assert.Empty(soft["members"]?.AsArray() ?? []);
        Assert.Single(await ListGroupsAsync(client, tenant, $"id eq \"{id}\" and isSoftDeleted eq true"));
        var search = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/.search", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:SearchRequest" }, filter = "isSoftDeleted eq true",
        })), 200);
        Assert.Equal(id, Assert.Single(search["Resources"]!.AsArray())!["id"]!.GetValue<string>());

        // REST: absent by id and by its former slug, from the list, its members and every write.
        await ApiAssert.ErrorAsync(await rest.GetAsync($"{tenant.Api}/admin/groups/{id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await rest.GetAsync($"{tenant.Api}/admin/groups/{slug}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await rest.GetAsync($"{tenant.Api}/admin/groups/{id}/members"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await rest.PutAsJsonAsync($"{tenant.Api}/admin/groups/{id}", new { name = "Back" }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await rest.DeleteAsync($"{tenant.Api}/admin/groups/{id}"), 404, "resource_not_found");
        var listed = await ApiAssert.OkAsync(await rest.GetAsync($"{tenant.Api}/admin/groups"));
        Assert.Equal(1, listed["meta"]!["total"]!.GetValue<long>());
        Assert.Equal("Bystanders", listed["data"]![0]!["name"]!.GetValue<string>());

        // The former member is in no group any more, over SCIM and REST.
        Assert.Empty((await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{member}"), 200))["groups"]?.AsArray() ?? []);
        Assert.Empty((await ApiAssert.OkAsync(await rest.GetAsync($"{tenant.Api}/admin/users/{member}")))["data"]!["groups"]!.AsArray());

        // The authorization service's lookup before it gives a group roles does not find it either.
        using var internalClient = factory.Internal();
        await ApiAssert.ErrorAsync(await internalClient.GetAsync($"/internal/v1/groups/{id}?tenantId={tenant.Id}"), 404, "resource_not_found");
    }

    /// <summary>
    /// The members leave in the soft delete itself: one membership event removing them all, which is how the
    /// authorization service takes the group's roles from them. The group is not announced as deleted until the hard delete.
    /// </summary>
    [Fact]
    public async Task SoftDelete_RemovesEveryMember_InOneMembershipEvent_AndAnnouncesNoDeletionYet()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        using var rest = factory.ClientFor(tenant);
        var u1 = await CreateUserAsync(client, tenant, "one@example.com");
        var u2 = await CreateUserAsync(client, tenant, "two@example.com");
        var id = (await CreateGroupAsync(client, tenant, "Admins", u1, u2))["id"]!.GetValue<string>();

        (await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{id}")).Dispose();

        var changes = await AuditAsync(rest, tenant, "group_membership_changed", id, 2);
        var removal = changes["data"]!.AsArray().Select(e => e!["metadata"]!.AsObject())
            .Single(m => m["removedUserIds"]!.AsArray().Count > 0);
        Assert.Equal(new[] { u1, u2 }.Order(), removal["removedUserIds"]!.AsArray().Select(u => u!.GetValue<string>()).Order());
        Assert.Empty(removal["addedUserIds"]!.AsArray());
        await AuditAsync(rest, tenant, "group_updated", id, 1);
        var deletions = await ApiAssert.OkAsync(await rest.GetAsync($"{tenant.Api}/admin/audit-logs?action=group_deleted&targetId={id}"));
        Assert.Equal(0, deletions["meta"]!["total"]!.GetValue<long>());

        // The users themselves are untouched.
        Assert.True((await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{u1}"), 200))["active"]!.GetValue<bool>());
    }

    [Fact]
    public async Task SoftDeletedGroup_TakesNoMembers_AndNoOtherChange_NotFound()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        using var rest = factory.ClientFor(tenant);
        var user = await CreateUserAsync(client, tenant, "joiner@example.com");
        var id = (await CreateGroupAsync(client, tenant, "Closed"))["id"]!.GetValue<string>();
        (await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{id}")).Dispose();

        await ScimErrorAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{id}", AddMember(user)), 404);
        await ScimErrorAsync(await client.PutAsync($"{tenant.Api}/scim/v2/Groups/{id}", Json(new
        {
            schemas = new[] { GroupSchema }, displayName = "Closed", members = new[] { new { value = user } },
        })), 404);
        // Already deleted: a second soft DELETE finds nothing (RFC 7644 §3.6).
        await ScimErrorAsync(await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{id}"), 404);
        var bulk = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Bulk", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:BulkRequest" },
            Operations = new object[] { new { method = "PATCH", path = $"/Groups/{id}", data = new { schemas = new[] { PatchOp }, Operations = new[] { new { op = "add", path = "members", value = new[] { new { value = user } } } } } } },
        })), 200);
        Assert.Equal("404", bulk["Operations"]![0]!["status"]!.GetValue<string>());

        await ApiAssert.ErrorAsync(await rest.PostAsJsonAsync($"{tenant.Api}/admin/groups/{id}/members", new { userIds = new[] { user } }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await rest.PostAsJsonAsync($"{tenant.Api}/groups/{id}/members", new { userId = user }), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await rest.DeleteAsync($"{tenant.Api}/admin/groups/{id}/members/{user}"), 404, "resource_not_found");
        // Joining it from the user's side names a group that does not exist.
        await ApiAssert.ErrorAsync(await rest.PutAsJsonAsync($"{tenant.Api}/admin/users/{user}/groups", new { groups = new[] { id } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await rest.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "new@example.com", groups = new[] { id } }), 400, "validation_error");

        var soft = Assert.Single(await ListGroupsAsync(client, tenant, "isSoftDeleted eq true"))!.AsObject();
        Assert.Empty(soft["members"]?.AsArray() ?? []);
        Assert.Empty((await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{user}"), 200))["groups"]?.AsArray() ?? []);
    }

    /// <summary>A soft-deleted group holds neither its name nor its slug: the group can be created again, over SCIM or REST.</summary>
    [Fact]
    public async Task SoftDeletedGroup_LetsGoOfItsNameAndSlug()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        using var rest = factory.ClientFor(tenant);
        var first = (await CreateGroupAsync(client, tenant, "Sales"))["id"]!.GetValue<string>();
        (await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{first}")).Dispose();

        var again = (await CreateGroupAsync(client, tenant, "sales"))["id"]!.GetValue<string>();
        Assert.NotEqual(first, again);
        Assert.Equal("sales", (await ApiAssert.OkAsync(await rest.GetAsync($"{tenant.Api}/admin/groups/{again}")))["data"]!["slug"]!.GetValue<string>());
        (await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{again}")).Dispose();

        var viaRest = (await ApiAssert.OkAsync(await rest.PostAsJsonAsync($"{tenant.Api}/admin/groups", new { name = "Sales" }), 201))["data"]!;
        Assert.Equal("sales", viaRest["slug"]!.GetValue<string>());
        // The live group's name still counts.
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new { schemas = new[] { GroupSchema }, displayName = "SALES" })), 409, "uniqueness");

        Assert.Equal(new[] { first, again }.Order(), (await ListGroupsAsync(client, tenant, "isSoftDeleted eq true")).Select(g => g!["id"]!.GetValue<string>()).Order());
        Assert.Equal([viaRest["id"]!.GetValue<string>()], (await ListGroupsAsync(client, tenant, "displayName eq \"Sales\"")).Select(g => g!["id"]!.GetValue<string>()));
    }

    [Fact]
    public async Task HardDelete_RemovesASoftDeletedGroupForGood_AndALiveOneDirectly()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        using var rest = factory.ClientFor(tenant);
        var member = await CreateUserAsync(client, tenant, "kept@example.com");
        using var created = await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new { schemas = new[] { GroupSchema }, displayName = "Old", members = new[] { new { value = member } } }));
        var id = (await ScimAsync(created, 201))["id"]!.GetValue<string>();
        var createdVersion = created.Headers.ETag!.ToString();
        (await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{id}")).Dispose();

        // If-Match guards the hard delete too: the soft delete moved the version.
        using var stale = new HttpRequestMessage(HttpMethod.Delete, $"{tenant.Api}/scim/v2/Groups/{id}?isSoftDeleted=true");
        stale.Headers.TryAddWithoutValidation("If-Match", createdVersion);
        await ScimErrorAsync(await client.SendAsync(stale), 412, "mutability");

        using (var hard = await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{id}?isSoftDeleted=true"))
        {
            Assert.Equal(HttpStatusCode.NoContent, hard.StatusCode);
        }

        Assert.Empty(await ListGroupsAsync(client, tenant, "isSoftDeleted eq true"));
        await ScimErrorAsync(await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{id}?isSoftDeleted=true"), 404);
        await AuditAsync(rest, tenant, "group_deleted", id, 1);
        await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{member}"), 200);

        // As for users, ?isSoftDeleted=true on a live group removes it at once, members and all.
        var live = (await CreateGroupAsync(client, tenant, "Live", member))["id"]!.GetValue<string>();
        using (var direct = await client.DeleteAsync($"{tenant.Api}/scim2.0/Groups/{live}?isSoftDeleted=true"))
        {
            Assert.Equal(HttpStatusCode.NoContent, direct.StatusCode);
        }

        Assert.Empty(await ListGroupsAsync(client, tenant, "isSoftDeleted eq true"));
        Assert.Empty(await ListGroupsAsync(client, tenant));
        await AuditAsync(rest, tenant, "group_deleted", live, 1);
        Assert.Empty((await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{member}"), 200))["groups"]?.AsArray() ?? []);
    }

    [Fact]
    public async Task SoftDeletedGroup_OfAnotherTenant_CannotBeSeenOrDeleted()
    {
        var owner = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        using var ownerClient = Scim(owner);
        using var otherClient = Scim(other);
        var id = (await CreateGroupAsync(ownerClient, owner, "Private"))["id"]!.GetValue<string>();
        (await ownerClient.DeleteAsync($"{owner.Api}/scim/v2/Groups/{id}")).Dispose();

        Assert.Empty(await ListGroupsAsync(otherClient, other, "isSoftDeleted eq true"));
        Assert.Empty(await ListGroupsAsync(otherClient, other, $"id eq \"{id}\" and isSoftDeleted eq true"));
        await ScimErrorAsync(await otherClient.GetAsync($"{other.Api}/scim/v2/Groups/{id}"), 404);
        await ScimErrorAsync(await otherClient.DeleteAsync($"{other.Api}/scim/v2/Groups/{id}?isSoftDeleted=true"), 404);
        await ScimErrorAsync(await otherClient.DeleteAsync($"{other.Api}/scim/v2/Groups/{id}"), 404);
        // Another tenant's key on this tenant's routes is not a credential here.
        await ScimErrorAsync(await otherClient.DeleteAsync($"{owner.Api}/scim/v2/Groups/{id}?isSoftDeleted=true"), 401);
        using var internalClient = factory.Internal();
        await ApiAssert.ErrorAsync(await internalClient.GetAsync($"/internal/v1/groups/{id}?tenantId={other.Id}"), 404, "resource_not_found");

        Assert.Equal(id, Assert.Single(await ListGroupsAsync(ownerClient, owner, "isSoftDeleted eq true"))!["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task GroupDelete_BadInput_IsAnsweredWithScimErrors()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        await ScimErrorAsync(await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{Guid.NewGuid()}"), 404);
        await ScimErrorAsync(await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{Guid.NewGuid()}?isSoftDeleted=true"), 404);
        await ScimErrorAsync(await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/not-an-id"), 404);
        await ScimErrorAsync(await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/not-an-id?isSoftDeleted=true"), 404);
        var id = (await CreateGroupAsync(client, tenant, "Stays"))["id"]!.GetValue<string>();
        await ScimErrorAsync(await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{id}?isSoftDeleted=perhaps"), 400);
        await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Groups/{id}"), 200);
        using var anonymous = factory.CreateClient();
        await ScimErrorAsync(await anonymous.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{id}"), 401);
        await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Groups/{id}"), 200);
    }

    /// <summary>
    /// Deletions and member changes of one group at once take turns on its row: each answers 200, 204 or 404, one soft
    /// delete wins, and whatever was added before it left with the other members.
    /// </summary>
    [Fact]
    public async Task SoftDeletes_RacingMemberChanges_AnswerWithoutServerErrors_AndLeaveNoMembers()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        using var rest = factory.ClientFor(tenant);
        var users = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            users.Add(await CreateUserAsync(client, tenant, $"race{i}@example.com"));
        }

        var id = (await CreateGroupAsync(client, tenant, "Racing", users[0]))["id"]!.GetValue<string>();
        var deletes = Enumerable.Range(0, 4).Select(_ => client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{id}")).ToList();
        var changes = users.Skip(1).Select((user, i) => i % 2 == 0
            ? client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{id}", AddMember(user))
            : rest.PostAsJsonAsync($"{tenant.Api}/admin/groups/{id}/members", new { userIds = new[] { user } })).ToList();
        var responses = await Task.WhenAll(deletes.Concat(changes));

        foreach (var response in responses)
        {
            Assert.True((int)response.StatusCode is 200 or 204 or 404, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }

        Assert.Equal(1, responses.Take(deletes.Count).Count(r => r.StatusCode == HttpStatusCode.NoContent));
        var soft = Assert.Single(await ListGroupsAsync(client, tenant, "isSoftDeleted eq true"))!.AsObject();
        Assert.Empty(soft["members"]?.AsArray() ?? []);
        foreach (var user in users)
        {
            Assert.Empty((await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{user}"), 200))["groups"]?.AsArray() ?? []);
        }

        foreach (var response in responses)
        {
            response.Dispose();
        }
    }
}
