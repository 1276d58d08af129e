using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

namespace LumoAuth.Admin.Tests;

public sealed class UserManagementTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private static async Task<JsonObject> DataAsync(HttpResponseMessage response, int status = 200) =>
        (await ApiAssert.OkAsync(response, status))["data"]!.AsObject();

    [Fact]
    public async Task ListUsers_FiltersBySearchBlockedActiveAndGroup_AndSorts()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var alice = await factory.CreateUserAsync(tenant, "alice@list.example.com", name: "Alice Zed");
        var bob = await factory.CreateUserAsync(tenant, "bob@list.example.com", name: "Bob Young");
        var carol = await factory.CreateUserAsync(tenant, "carol@list.example.com", name: "Carol Xu");
        await factory.CreateGroupAsync(tenant, "Engineering");
        await ApiAssert.OkAsync(await client.PostAsync($"{tenant.Api}/admin/users/{bob}/block", null));
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{carol}", new { isActive = false }));
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{alice}/groups", new { groups = new[] { "engineering" } }));

        async Task<List<string>> EmailsAsync(string query)
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/users?{query}"));
            return page["data"]!.AsArray().Select(u => u!["email"]!.GetValue<string>()).ToList();
        }

        Assert.Equal(["alice@list.example.com"], await EmailsAsync("search=ZED"));
        Assert.Equal(["bob@list.example.com"], await EmailsAsync("blocked=true"));
        Assert.Equal(["carol@list.example.com"], await EmailsAsync("active=false"));
        Assert.Equal(["alice@list.example.com"], await EmailsAsync("group=engineering"));
        Assert.Equal(
            ["carol@list.example.com", "bob@list.example.com", "alice@list.example.com"],
            (await EmailsAsync("sortBy=email&sortDir=DESC&search=list.example")).ToList());
        Assert.Equal(["alice@list.example.com", "bob@list.example.com"], await EmailsAsync("sortBy=name&search=list.example&limit=2"));

        // What is searched for matches itself: '_' and '%' are no wildcards.
        await factory.CreateUserAsync(tenant, "dan_o@wild.example.com");
        await factory.CreateUserAsync(tenant, "danxo@wild.example.com");
        Assert.Equal(["dan_o@wild.example.com"], await EmailsAsync("search=DAN_O"));
        Assert.Empty(await EmailsAsync("search=dan%25"));
    }

    [Fact]
    public async Task ListUsers_BadSortOrFilter_Returns400()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/users?sortBy=password"), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/users?sortDir=sideways"), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/users?role={new string('r', 101)}"), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/users?blocked=maybe"), 400, "invalid_request");
    }

    [Fact]
    public async Task ListUsers_RoleFilter_AuthorizationUnreachable_Returns503()
    {
        // Roles live in the authorization service, which this suite does not run: the list fails closed.
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/users?role=admin"), 503, "service_unavailable");
    }

    [Fact]
    public async Task UpdateUser_PutAndPatchArePartial_AndPublishUserUpdated()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "upd@example.com", name: "Before");
        var put = await DataAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { name = "After", givenName = "Ann" }));
        Assert.Equal("After", put["name"]!.GetValue<string>());
        Assert.Equal("upd@example.com", put["email"]!.GetValue<string>());

        var patch = await DataAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/users/upd@example.com", new { emailVerified = true, givenName = "" }));
        Assert.True(patch["emailVerified"]!.GetValue<bool>());
        Assert.Null(patch["givenName"]);
        Assert.Equal("After", patch["name"]!.GetValue<string>());

        var entry = await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_updated&targetId={id}"));
            return page["meta"]!["total"]!.GetValue<long>() >= 2 ? page : null;
        });
        Assert.Contains("emailVerified", entry.ToJsonString());
    }

    [Fact]
    public async Task UpdateUser_BadFieldsUnknownFieldsAndDuplicateEmail_AreRefused()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "one@example.com");
        await factory.CreateUserAsync(tenant, "two@example.com");

        var invalid = await ApiAssert.ErrorAsync(
            await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { email = "nope", name = new string('n', 201), picture = "ftp://x" }),
            400, "validation_error");
        Assert.NotNull(invalid["details"]!["email"]);
        Assert.NotNull(invalid["details"]!["name"]);
        Assert.NotNull(invalid["details"]!["picture"]);

        // Mass assignment: fields that are not part of the request record are refused, not silently applied.
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { blocked = true }), 400, "invalid_request");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { isAdmin = true }), 400, "invalid_request");
        using var wrongType = new StringContent("{\"isActive\":\"yes\"}", Encoding.UTF8, "application/json");
        await ApiAssert.ErrorAsync(await client.PutAsync($"{tenant.Api}/admin/users/{id}", wrongType), 400, "invalid_request");

        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { email = "TWO@example.com" }), 409, "duplicate_resource");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{Guid.NewGuid()}", new { name = "x" }), 404, "resource_not_found");
    }

    [Fact]
    public async Task DeleteUser_RemovesItAndItsMemberships()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "gone@example.com");
        var groupId = await factory.CreateGroupAsync(tenant, "Leavers");
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/groups", new { groups = new[] { groupId.ToString() } }));

        using var deleted = await client.DeleteAsync($"{tenant.Api}/admin/users/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/users/{id}"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.DeleteAsync($"{tenant.Api}/admin/users/{id}"), 404, "resource_not_found");
        var group = await DataAsync(await client.GetAsync($"{tenant.Api}/admin/groups/{groupId}"));
        Assert.Equal(0, group["memberCount"]!.GetValue<int>());

        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_deleted&targetId={id}"));
            return page["meta"]!["total"]!.GetValue<long>() == 1 ? page : null;
        });
    }

    [Fact]
    public async Task BlockAndUnblock_ToggleTheFlag_AndAreAudited()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "blocky@example.com");
        Assert.True((await DataAsync(await client.PostAsync($"{tenant.Api}/admin/users/{id}/block", null)))["blocked"]!.GetValue<bool>());
        Assert.True((await DataAsync(await client.PostAsync($"{tenant.Api}/admin/users/blocky@example.com/block", null)))["blocked"]!.GetValue<bool>());
        Assert.False((await DataAsync(await client.PostAsync($"{tenant.Api}/admin/users/{id}/unblock", null)))["blocked"]!.GetValue<bool>());
        await ApiAssert.ErrorAsync(await client.PostAsync($"{tenant.Api}/admin/users/{Guid.NewGuid()}/block", null), 404, "resource_not_found");

        await ApiAssert.EventuallyAsync(async () =>
        {
            var blocked = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_blocked&targetId={id}"));
            var unblocked = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_unblocked&targetId={id}"));
            return blocked["meta"]!["total"]!.GetValue<long>() == 1 && unblocked["meta"]!["total"]!.GetValue<long>() == 1 ? blocked : null;
        });
    }

    [Fact]
    public async Task SetPassword_EnforcesTheTenantPolicyAndReuse()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings",
            new { passwordPolicy = new { minLength = 10, requireNumbers = true, requireSymbols = true, preventReuse = 2 } }));
        var id = await factory.CreateUserAsync(tenant, "pw@example.com");

        var weak = await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/password", new { password = "short" }), 400, "validation_error");
        Assert.Equal(3, weak["details"]!["password"]!.AsArray().Count);
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/password", new { }), 400, "validation_error");

        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/password", new { password = "first-pass-1" }));
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/password", new { password = "second-pass-2" }));
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/password", new { password = "first-pass-1" }), 400, "validation_error");

        // The same policy applies at creation.
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "weak@example.com", password = "password" }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{Guid.NewGuid()}/password", new { password = "third-pass-3" }), 404, "resource_not_found");
    }

    /// <summary>The letter-case rules, each named on its own, and a password meeting both is taken.</summary>
    [Fact]
    public async Task SetPassword_UpperAndLowerCaseRules_AreEachEnforced()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/settings",
            new { passwordPolicy = new { minLength = 8, requireUppercase = true, requireLowercase = true } }));
        var id = await factory.CreateUserAsync(tenant, "case@example.com");
        var path = $"{tenant.Api}/admin/users/{id}/password";

        var lower = await ApiAssert.ErrorAsync(await client.PutAsJsonAsync(path, new { password = "all lower case" }), 400, "validation_error");
        Assert.Equal(["must contain an uppercase letter"], lower["details"]!["password"]!.AsArray().Select(m => m!.GetValue<string>()));
        var upper = await ApiAssert.ErrorAsync(await client.PutAsJsonAsync(path, new { password = "ALL UPPER CASE" }), 400, "validation_error");
        Assert.Equal(["must contain a lowercase letter"], upper["details"]!["password"]!.AsArray().Select(m => m!.GetValue<string>()));
        await ApiAssert.OkAsync(await client.PutAsJsonAsync(path, new { password = "Mixed Case Words" }));
    }

    [Fact]
    public async Task PasswordReset_RecordsARequest_AndAnswersNothingSecret()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "reset@example.com");
        using var response = await client.PostAsync($"{tenant.Api}/admin/users/{id}/password-reset", null);
        var body = await ApiAssert.OkAsync(response, 202);
        Assert.Equal(id.ToString(), body["data"]!["userId"]!.GetValue<string>());
        Assert.Equal(["userId", "expiresAt"], body["data"]!.AsObject().Select(p => p.Key).ToList());
        await ApiAssert.ErrorAsync(await client.PostAsync($"{tenant.Api}/admin/users/{Guid.NewGuid()}/password-reset", null), 404, "resource_not_found");

        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_password_reset_requested&targetId={id}"));
            return page["meta"]!["total"]!.GetValue<long>() == 1 ? page : null;
        });
    }

    [Fact]
    public async Task Attributes_AreReplacedAsAJsonObject_WithinBounds()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "attrs@example.com");
        var set = await DataAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/attributes",
            new { department = "engineering", clearance_level = 3, tags = new[] { "a", "b" } }));
        Assert.Equal(3, set["attributes"]!["clearance_level"]!.GetValue<int>());
        var user = await DataAsync(await client.GetAsync($"{tenant.Api}/admin/users/{id}"));
        Assert.Equal("engineering", user["attributes"]!["department"]!.GetValue<string>());
        await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/attributes", new { team = "core" }));
        var replaced = await DataAsync(await client.GetAsync($"{tenant.Api}/admin/users/{id}/attributes"));
        Assert.Null(replaced["attributes"]!["department"]);

        using var array = new StringContent("[1,2]", Encoding.UTF8, "application/json");
        await ApiAssert.ErrorAsync(await client.PutAsync($"{tenant.Api}/admin/users/{id}/attributes", array), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/attributes", new { big = new string('x', 17_000) }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/attributes",
            new { a = new { b = new { c = new { d = new { e = new { f = 1 } } } } } }), 400, "validation_error");
    }

    [Fact]
    public async Task Groups_OfAUser_AreReplaced_AndUnknownGroupsRefused()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "member@example.com");
        var red = await factory.CreateGroupAsync(tenant, "Red");
        await factory.CreateGroupAsync(tenant, "Blue");
        var groups = (await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/groups", new { groups = new[] { "blue", red.ToString() } })))["data"]!.AsArray();
        Assert.Equal(["blue", "red"], groups.Select(g => g!["slug"]!.GetValue<string>()).ToList());
        var user = await DataAsync(await client.GetAsync($"{tenant.Api}/admin/users/{id}"));
        Assert.Equal(2, user["groups"]!.AsArray().Count);

        var cleared = (await ApiAssert.OkAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/groups", new { groups = Array.Empty<string>() })))["data"]!.AsArray();
        Assert.Empty(cleared);
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/groups", new { groups = new[] { "nope" } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/groups", new { }), 400, "validation_error");

        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/audit-logs?action=group_membership_changed&targetId={red}"));
            return page["meta"]!["total"]!.GetValue<long>() == 2 ? page : null;
        });
    }

    [Fact]
    public async Task RacingClaimsOfOneSignInName_LeaveItToOneUser()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        for (var round = 0; round < 5; round++)
        {
            // Four creations at once: two take one username, one takes it as its e-mail address, one renames to it.
            var name = $"racer{round}@example.com";
            var renamed = await DataAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = $"renamed{round}@example.com" }), 201);
            var answers = await Task.WhenAll(
                client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = $"a{round}@example.com", username = name }),
                client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = $"b{round}@example.com", username = name.ToUpperInvariant() }),
                client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = name }),
                client.PatchAsJsonAsync($"{tenant.Api}/admin/users/{renamed["id"]}", new { username = name }));

            Assert.Single(answers, a => a.IsSuccessStatusCode);
            foreach (var refused in answers.Where(a => !a.IsSuccessStatusCode))
            {
                await ApiAssert.ErrorAsync(refused, 409, "duplicate_resource");
            }

            var holders = await ApiAssert.OkAsync(await client.GetAsync($"{tenant.Api}/admin/users?search={Uri.EscapeDataString($"racer{round}@")}"));
            Assert.Equal(1, holders["meta"]!["total"]!.GetValue<long>());
        }
    }

    [Fact]
    public async Task CreateUser_WithGroupsAndProfile_AndRolesOnlyWhenTheyCanBeAssigned()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        await factory.CreateGroupAsync(tenant, "Engineering");
        var user = await DataAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users",
            new { email = "full@example.com", givenName = "Full", familyName = "Profile", username = "full", groups = new[] { "engineering" } }), 201);
        Assert.Equal("engineering", user["groups"]![0]!["slug"]!.GetValue<string>());

        // A username names one user (in any letter case), and is nobody else's e-mail address, as in SCIM.
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "other@example.com", username = "FULL" }), 409, "duplicate_resource");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "other@example.com", username = "full@example.com" }), 409, "duplicate_resource");
        var other = await DataAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "other@example.com", username = "f_ll" }), 201);
        await ApiAssert.ErrorAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/users/{other["id"]}", new { username = "Full" }), 409, "duplicate_resource");
        await ApiAssert.OkAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/users/{other["id"]}", new { username = "F_LL" }));
        await ApiAssert.OkAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/users/{user["id"]}", new { username = "Full" }));
        await ApiAssert.OkAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/users/{other["id"]}", new { username = "boss@corp.example" }));
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "Boss@corp.example" }), 409, "duplicate_resource");
        await ApiAssert.ErrorAsync(await client.PatchAsJsonAsync($"{tenant.Api}/admin/users/{user["id"]}", new { email = "boss@corp.example" }), 409, "duplicate_resource");
        Assert.False(user["mfaEnabled"]!.GetValue<bool>());
        // Roles are written in the authorization service, which this suite does not run: nothing is created.
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "r@example.com", roles = new[] { "admin" } }), 503, "service_unavailable");
        await ApiAssert.ErrorAsync(await client.GetAsync($"{tenant.Api}/admin/users/r@example.com"), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "r@example.com", roles = new[] { " " } }), 400, "validation_error");
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/admin/users", new { email = "g@example.com", groups = new[] { "missing" } }), 400, "validation_error");
    }

    [Fact]
    public async Task UserEndpoints_WithAnotherTenantsIds_Return404()
    {
        var a = await factory.CreateTenantAsync();
        var b = await factory.CreateTenantAsync();
        var foreign = await factory.CreateUserAsync(b, "foreign@b.example.com");
        using var client = factory.ClientFor(a);
        var paths = new (HttpMethod Method, string Path, object? Body)[]
        {
            (HttpMethod.Get, $"users/{foreign}", null),
            (HttpMethod.Get, "users/foreign@b.example.com", null),
            (HttpMethod.Put, $"users/{foreign}", new { name = "x" }),
            (HttpMethod.Patch, $"users/{foreign}", new { name = "x" }),
            (HttpMethod.Delete, $"users/{foreign}", null),
            (HttpMethod.Post, $"users/{foreign}/block", null),
            (HttpMethod.Post, $"users/{foreign}/unblock", null),
            (HttpMethod.Put, $"users/{foreign}/password", new { password = "a long password 1!" }),
            (HttpMethod.Post, $"users/{foreign}/password-reset", null),
            (HttpMethod.Post, $"users/{foreign}/mfa/reset", null),
            (HttpMethod.Get, $"users/{foreign}/attributes", null),
            (HttpMethod.Put, $"users/{foreign}/attributes", new { a = 1 }),
            (HttpMethod.Get, $"users/{foreign}/groups", null),
            (HttpMethod.Put, $"users/{foreign}/groups", new { groups = Array.Empty<string>() }),
        };
        foreach (var (method, path, body) in paths)
        {
            using var request = new HttpRequestMessage(method, $"{a.Api}/admin/{path}") { Content = body is null ? null : JsonContent.Create(body) };
            await ApiAssert.ErrorAsync(await client.SendAsync(request), 404, "resource_not_found");
        }

        using var clientB = factory.ClientFor(b);
        var still = await DataAsync(await clientB.GetAsync($"{b.Api}/admin/users/{foreign}"));
        Assert.False(still["blocked"]!.GetValue<bool>());
        Assert.Null(still["name"]);
    }

    [Fact]
    public async Task UserGroups_SetByManyRequestsAtOnce_AnswerSuccessOrConflict_NeverAServerError()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);
        var id = await factory.CreateUserAsync(tenant, "busy@example.com");
        var groups = new List<Guid>();
        foreach (var name in new[] { "Alpha", "Beta", "Gamma" })
        {
            groups.Add(await factory.CreateGroupAsync(tenant, name));
        }

        var statuses = await Task.WhenAll(Enumerable.Range(0, 10).Select(async i =>
        {
            var wanted = groups.Where((_, g) => (i + g) % 2 == 0).Select(g => g.ToString()).ToArray();
            using var response = await client.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/groups", new { groups = wanted });
            if ((int)response.StatusCode == 409)
            {
                await ApiAssert.ErrorAsync(response, 409, "invalid_request");
            }

            return (int)response.StatusCode;
        }));
        Assert.True(statuses.All(status => status is 200 or 409), string.Join(",", statuses));
        Assert.Contains(200, statuses);
    }
}
