using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

using static LumoAuth.Admin.Tests.ScimHttp;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// What a SCIM client relies on between requests: a refused update changes nothing (RFC 7644 §3.5.2), concurrent updates
/// of one user both land rather than fail as a name conflict (§3.12), and a version (ETag) moves whenever the
/// representation does, also through the other resource (a user's groups, a group's member display) (§3.14).
/// </summary>
public sealed class ScimIntegrityTests(AdminFactory factory) : IClassFixture<AdminFactory>
{

    private HttpClient Scim(TestTenant tenant) => ClientFor(factory, tenant);

    private static async Task<JsonObject> ScimErrorAsync(HttpResponseMessage response, int status, string? scimType = null)
    {
        var error = await ScimAsync(response, status);
        Assert.Equal("urn:ietf:params:scim:api:messages:2.0:Error", error["schemas"]![0]!.GetValue<string>());
        Assert.Equal(status.ToString(System.Globalization.CultureInfo.InvariantCulture), error["status"]!.GetValue<string>());
        if (scimType is not null)
        {
            Assert.Equal(scimType, error["scimType"]!.GetValue<string>());
        }

        return error;
    }

    private static StringContent Patch(params object[] operations) => Json(new { schemas = new[] { PatchOp }, Operations = operations });

    private async Task<(string Id, string Version)> CreateUserAsync(HttpClient client, TestTenant tenant, object body)
    {
        using var created = await client.PostAsync($"{tenant.Api}/scim/v2/Users", Json(body));
        var user = await ScimAsync(created, 201);
        return (user["id"]!.GetValue<string>(), created.Headers.ETag!.ToString());
    }

    private static async Task<(JsonObject Body, string Version)> GetAsync(HttpClient client, string url)
    {
        using var read = await client.GetAsync(url);
        return (await ScimAsync(read, 200), read.Headers.ETag!.ToString());
    }

    [Fact]
    public async Task UserPatch_WithARefusedPassword_ChangesNothing()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var (id, version) = await CreateUserAsync(client, tenant, new { schemas = new[] { UserSchema }, userName = "atomic@example.com", title = "Before" });

        var error = await ScimErrorAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Patch(
            new { op = "replace", path = "title", value = "After" },
            new { op = "replace", path = "active", value = (object)false },
            new { op = "replace", path = "emails", value = (object)new[] { new { value = "moved@example.com", primary = true } } },
            new { op = "add", path = "password", value = "short" })), 400, "invalidValue");
        Assert.Contains("password", error["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        var (user, after) = await GetAsync(client, $"{tenant.Api}/scim/v2/Users/{id}");
        Assert.Equal(version, after);
        Assert.Equal("Before", user["title"]!.GetValue<string>());
        Assert.True(user["active"]!.GetValue<bool>());
        Assert.Equal("atomic@example.com", user["emails"]![0]!["value"]!.GetValue<string>());
    }

    [Fact]
    public async Task UserPut_WithARefusedPassword_ChangesNothing_AndAGoodOneLandsWithTheRest()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var (id, version) = await CreateUserAsync(client, tenant, new { schemas = new[] { UserSchema }, userName = "atomic-put@example.com", title = "Before" });

        await ScimErrorAsync(await client.PutAsync($"{tenant.Api}/scim/v2/Users/{id}", Json(new
        {
            schemas = new[] { UserSchema }, userName = "atomic-put@example.com", title = "After", active = false, password = "short",
        })), 400, "invalidValue");
        var (user, after) = await GetAsync(client, $"{tenant.Api}/scim/v2/Users/{id}");
        Assert.Equal(version, after);
        Assert.Equal("Before", user["title"]!.GetValue<string>());
        Assert.True(user["active"]!.GetValue<bool>());

        var replaced = await ScimAsync(await client.PutAsync($"{tenant.Api}/scim/v2/Users/{id}", Json(new
        {
            schemas = new[] { UserSchema }, userName = "atomic-put@example.com", title = "After", password = "a long enough password 7",
        })), 200);
        Assert.Equal("After", replaced["title"]!.GetValue<string>());
        using var internalApi = factory.Internal();
        using var signIn = await internalApi.PostAsJsonAsync(LumoAuth.Contracts.Internal.InternalRoutes.Authenticate,
            new LumoAuth.Contracts.Internal.AuthenticateRequest(tenant.Id, "atomic-put@example.com", "a long enough password 7", null, "203.0.113.9"));
        Assert.Equal(LumoAuth.Contracts.Internal.AuthenticationOutcomes.Success,
            (await signIn.Content.ReadFromJsonAsync<LumoAuth.Contracts.Internal.AuthenticateResponse>())!.Outcome);
    }

    /// <summary>Entra and Okta push attribute changes in parallel: each PATCH of the same user waits for the one before.</summary>
    [Fact]
    public async Task UserPatches_AtOnce_AllLand_NoneIsAUniquenessConflict()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var (id, version) = await CreateUserAsync(client, tenant, new { schemas = new[] { UserSchema }, userName = "racing@example.com" });
        string[] attributes = ["title", "displayName", "name.givenName", "name.familyName", "externalId"];

        var answers = await Task.WhenAll(attributes.Select(async attribute =>
        {
            using var patchClient = Scim(tenant);
            using var response = await patchClient.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Patch(new { op = "replace", path = attribute, value = "set-" + attribute }));
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }));

        Assert.All(answers, a => Assert.True(a.Item1 == 200, a.Item2));
        var (user, after) = await GetAsync(client, $"{tenant.Api}/scim/v2/Users/{id}");
        Assert.NotEqual(version, after);
        Assert.Equal("set-title", user["title"]!.GetValue<string>());
        Assert.Equal("set-name.familyName", user["name"]!["familyName"]!.GetValue<string>());
        Assert.Equal("set-externalId", user["externalId"]!.GetValue<string>());
    }

    /// <summary>
    /// Another writer holds the user's row (the REST API, a sign-in counting a failure): the PATCH waits for it and then
    /// applies itself to what that writer committed, instead of failing on the row version it read before.
    /// </summary>
    [Fact]
    public async Task UserPatch_WhileAnotherWriterHoldsTheUser_WaitsAndAppliesOnTopOfIt()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var (id, _) = await CreateUserAsync(client, tenant, new { schemas = new[] { UserSchema }, userName = "held@example.com", title = "Before" });

        await using var connection = new Npgsql.NpgsqlConnection(factory.DatabaseConnectionString);
        await connection.OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand("""UPDATE users SET "Title" = 'Held', "UpdatedAt" = now() WHERE "Id" = @id""", connection, transaction))
        {
            hold.Parameters.AddWithValue("id", Guid.Parse(id));
            Assert.Equal(1, await hold.ExecuteNonQueryAsync());
        }

        var patch = client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Patch(new { op = "replace", path = "displayName", value = "Patched" }));
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.False(patch.IsCompleted);
        await transaction.CommitAsync();

        using var answer = await patch;
        var user = await ScimAsync(answer, 200);
        Assert.Equal("Held", user["title"]!.GetValue<string>());
        Assert.Equal("Patched", user["displayName"]!.GetValue<string>());
    }

    /// <summary>RFC 7644 §3.12: only a value already in use is "uniqueness"; a concurrent change is a plain, retryable 409.</summary>
    [Fact]
    public void Conflicts_OnlyATakenName_IsUniqueness()
    {
        var concurrent = Assert.Throws<LumoAuth.Admin.Features.Scim.ScimException>(() => LumoAuth.Admin.Features.Scim.ScimService.Throw(
            LumoAuth.ServiceDefaults.Errors.ApiErrors.Create(409, LumoAuth.ServiceDefaults.Errors.ErrorCodes.InvalidRequest, "The user was changed concurrently; retry")));
        Assert.Equal(409, concurrent.Status);
        Assert.Null(concurrent.ScimType);
        var taken = Assert.Throws<LumoAuth.Admin.Features.Scim.ScimException>(() => LumoAuth.Admin.Features.Scim.ScimService.Throw(
            LumoAuth.ServiceDefaults.Errors.ApiErrors.Duplicate("taken")));
        Assert.Equal("uniqueness", taken.ScimType);
    }

    [Fact]
    public async Task UserVersion_MovesWithTheirGroups_JoinRenameLeave()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var (id, _) = await CreateUserAsync(client, tenant, new { schemas = new[] { UserSchema }, userName = "etag-g@example.com" });
        var url = $"{tenant.Api}/scim/v2/Users/{id}";
        var (first, e1) = await GetAsync(client, url);
        Assert.Empty(first["groups"]?.AsArray() ?? []);

        var group = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new
        {
            schemas = new[] { GroupSchema }, displayName = "G", members = new[] { new { value = id } },
        })), 201))["id"]!.GetValue<string>();

        async Task<(JsonObject Body, string Version)> ChangedSinceAsync(string etag)
        {
            using var conditional = new HttpRequestMessage(HttpMethod.Get, url);
            conditional.Headers.TryAddWithoutValidation("If-None-Match", etag);
            using var response = await client.SendAsync(conditional);
            var body = await ScimAsync(response, 200);
            Assert.NotEqual(etag, response.Headers.ETag!.ToString());
            Assert.Equal(response.Headers.ETag!.ToString(), body["meta"]!["version"]!.GetValue<string>());
            return (body, response.Headers.ETag!.ToString());
        }

        var (joined, e2) = await ChangedSinceAsync(e1);
        Assert.Equal(group, joined["groups"]![0]!["value"]!.GetValue<string>());
        Assert.True(DateTimeOffset.Parse(joined["meta"]!["lastModified"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture)
            >= DateTimeOffset.Parse(first["meta"]!["lastModified"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture));

        await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{group}", Patch(new { op = "replace", path = "displayName", value = "G2" })), 200);
        var (renamed, e3) = await ChangedSinceAsync(e2);
        Assert.Equal("G2", renamed["groups"]![0]!["display"]!.GetValue<string>());

        await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{group}", Patch(new { op = "remove", path = $"members[value eq \"{id}\"]" })), 204);
        var (left, e4) = await ChangedSinceAsync(e3);
        Assert.Empty(left["groups"]?.AsArray() ?? []);

        // Through REST too, and by a soft DELETE of the group.
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/groups", new { groups = new[] { group } }));
        var (_, e5) = await ChangedSinceAsync(e4);
        var other = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new { schemas = new[] { GroupSchema }, displayName = "G3" })), 201);
        await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/groups/{other["id"]!.GetValue<string>()}/members", new { userIds = new[] { id } }));
        var (_, e6) = await ChangedSinceAsync(e5);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{group}")).StatusCode);
        await ChangedSinceAsync(e6);
    }

    [Fact]
    public async Task GroupVersion_MovesWhenAMembersDisplayChanges()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var (id, _) = await CreateUserAsync(client, tenant, new { schemas = new[] { UserSchema }, userName = "shown@example.com" });
        using var created = await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new { schemas = new[] { GroupSchema }, displayName = "Shown", members = new[] { new { value = id } } }));
        var group = (await ScimAsync(created, 201))["id"]!.GetValue<string>();
        var version = created.Headers.ETag!.ToString();

        await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Patch(
            new { op = "replace", path = "emails", value = (object)new[] { new { value = "renamed@example.com", primary = true } } })), 200);

        using var conditional = new HttpRequestMessage(HttpMethod.Get, $"{tenant.Api}/scim/v2/Groups/{group}");
        conditional.Headers.TryAddWithoutValidation("If-None-Match", version);
        using var response = await client.SendAsync(conditional);
        var body = await ScimAsync(response, 200);
        Assert.Equal("renamed@example.com", body["members"]![0]!["display"]!.GetValue<string>());
        Assert.NotEqual(version, response.Headers.ETag!.ToString());

        // The old version no longer guards a write; the new one does.
        using var stale = new HttpRequestMessage(HttpMethod.Patch, $"{tenant.Api}/scim/v2/Groups/{group}") { Content = Patch(new { op = "replace", path = "displayName", value = "X" }) };
        stale.Headers.TryAddWithoutValidation("If-Match", version);
        await ScimErrorAsync(await client.SendAsync(stale), 412, "mutability");
        using var fresh = new HttpRequestMessage(HttpMethod.Patch, $"{tenant.Api}/scim/v2/Groups/{group}") { Content = Patch(new { op = "replace", path = "displayName", value = "X" }) };
        fresh.Headers.TryAddWithoutValidation("If-Match", response.Headers.ETag!.ToString());
        await ScimAsync(await client.SendAsync(fresh), 200);
    }

    /// <summary>
    /// What identity providers push most: PATCHes that only add and remove members. Without If-Match or a shaping
    /// parameter they answer 204 and touch only the members they name; each value ends as its last operation says. A
    /// read without members carries the same version as one with them.
    /// </summary>
    [Fact]
    public async Task MemberPushes_Answer204_AndReadsWithoutMembers_KeepTheVersion()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var users = new List<string>();
        foreach (var name in new[] { "m1@example.com", "m2@example.com", "m3@example.com" })
        {
            users.Add((await CreateUserAsync(client, tenant, new { schemas = new[] { UserSchema }, userName = name })).Id);
        }

        var group = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups",
            Json(new { schemas = new[] { GroupSchema }, displayName = "Pushed", members = new[] { new { value = users[0] } } })), 201))["id"]!.GetValue<string>();
        var url = $"{tenant.Api}/scim/v2/Groups/{group}";

        using (var pushed = await client.PatchAsync(url, Patch(
                   new { op = "Add", path = "members", value = new[] { new { value = users[1] }, new { value = users[2] } } },
                   new { op = "remove", path = $"members[value eq \"{users[2]}\"]" },
                   new { op = "Remove", path = "members", value = new[] { new { value = "not-a-user" } } })))
        {
            Assert.Equal(HttpStatusCode.NoContent, pushed.StatusCode);
            Assert.Empty(await pushed.Content.ReadAsStringAsync());
        }

        using var read = await client.GetAsync(url);
        var full = await ScimAsync(read, 200);
        Assert.Equal(users[..2].Order(), full["members"]!.AsArray().Select(m => m!["value"]!.GetValue<string>()).Order());
        var version = read.Headers.ETag!.ToString();
        using var slim = await client.GetAsync($"{url}?excludedAttributes=members");
        Assert.Null((await ScimAsync(slim, 200))["members"]);
        Assert.Equal(version, slim.Headers.ETag!.ToString());
        var listed = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Groups?excludedAttributes=members"), 200);
        Assert.Null(listed["Resources"]![0]!["members"]);
        Assert.Equal(version, listed["Resources"]![0]!["meta"]!["version"]!.GetValue<string>());
        // A filter on members still reads them, though the answer leaves them out.
        var byMember = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Groups?excludedAttributes=members&filter="
            + Uri.EscapeDataString($"members[value eq \"{users[1]}\"]")), 200);
        Assert.Equal(1, byMember["totalResults"]!.GetValue<int>());
        Assert.Null(byMember["Resources"]![0]!["members"]);

        // Unknown users are refused as before, and change nothing.
        await ScimErrorAsync(await client.PatchAsync(url, Patch(new { op = "add", path = "members", value = new[] { new { value = Guid.NewGuid().ToString() } } })), 400, "invalidValue");
        await ScimErrorAsync(await client.PatchAsync(url, Patch(new { op = "add", path = "members", value = new[] { new { value = "nope" } } })), 400, "invalidValue");
        using (var unchanged = await client.GetAsync($"{url}?excludedAttributes=members"))
        {
            Assert.Equal(version, unchanged.Headers.ETag!.ToString());
        }

        // A client that asks for the representation gets it, shaped; If-Match still guards member pushes.
        var shaped = await ScimAsync(await client.PatchAsync($"{url}?excludedAttributes=members",
            Patch(new { op = "add", path = "members", value = new[] { new { value = users[2] } } })), 200);
        Assert.Null(shaped["members"]);
        Assert.Equal("Pushed", shaped["displayName"]!.GetValue<string>());
        Assert.NotEqual(version, shaped["meta"]!["version"]!.GetValue<string>());
        using var stale = new HttpRequestMessage(HttpMethod.Patch, url) { Content = Patch(new { op = "remove", path = $"members[value eq \"{users[0]}\"]" }) };
        stale.Headers.TryAddWithoutValidation("If-Match", version);
        await ScimErrorAsync(await client.SendAsync(stale), 412, "mutability");

        // A user is one user however their id is written: removed, then added back in capitals, they stay a member.
        using (var readded = await client.PatchAsync(url, Patch(
                   new { op = "remove", path = $"members[value eq \"{users[1]}\"]" },
                   new { op = "add", path = "members", value = new[] { new { value = users[1].ToUpperInvariant() } } })))
        {
            Assert.Equal(HttpStatusCode.NoContent, readded.StatusCode);
        }

        // attributes decides over excludedAttributes, as in every shaped answer.
        var both = await ScimAsync(await client.GetAsync($"{url}?attributes=members&excludedAttributes=members"), 200);
        Assert.Contains(users[1], both["members"]!.AsArray().Select(m => m!["value"]!.GetValue<string>()));

        // A value that is not a list is refused rather than read as "remove them all".
        await ScimErrorAsync(await client.PatchAsync(url, Patch(new { op = "remove", path = "members", value = new { value = users[0] } })), 400, "invalidValue");
        Assert.Equal(3, (await ScimAsync(await client.GetAsync(url), 200))["members"]!.AsArray().Count);

        // Removing every member (no value) takes the general way and answers with the group.
        var emptied = await ScimAsync(await client.PatchAsync(url, Patch(new { op = "remove", path = "members" })), 200);
        Assert.Null(emptied["members"]?.AsArray().FirstOrDefault());
    }
}
