using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Features.Scim;
using LumoAuth.Testing;
using Microsoft.Extensions.DependencyInjection;

using static LumoAuth.Admin.Tests.ScimHttp;

namespace LumoAuth.Admin.Tests;

public sealed class ScimTests(AdminFactory factory) : IClassFixture<AdminFactory>
{

    private HttpClient Scim(TestTenant tenant) => ClientFor(factory, tenant);

    private static async Task ScimErrorAsync(HttpResponseMessage response, int status, string? scimType = null)
    {
        var error = await ScimAsync(response, status);
        Assert.Equal("urn:ietf:params:scim:api:messages:2.0:Error", error["schemas"]![0]!.GetValue<string>());
        Assert.Equal(status.ToString(), error["status"]!.GetValue<string>());
        if (scimType is not null)
        {
            Assert.Equal(scimType, error["scimType"]!.GetValue<string>());
        }
    }

    private static object NewUser(string userName, string given = "Barbara", string family = "Jensen", bool active = true) => new
    {
        schemas = new[] { UserSchema, Enterprise },
        userName, externalId = "ext-" + userName, active, title = "Tour Guide",
        name = new { givenName = given, familyName = family },
        emails = new[] { new { value = userName, type = "work", primary = true } },
        phoneNumbers = new[] { new { value = "+1 555 0100", type = "work" } },
        urn_placeholder = 0,
    };

    private static StringContent UserContent(string userName, string given = "Barbara", string family = "Jensen", bool active = true, string department = "Tours")
    {
        var json = System.Text.Json.JsonSerializer.SerializeToNode(NewUser(userName, given, family, active))!.AsObject();
        json.Remove("urn_placeholder");
        json[Enterprise] = new JsonObject { ["department"] = department, ["employeeNumber"] = "701984" };
        return new StringContent(json.ToJsonString(), Encoding.UTF8, "application/scim+json");
    }

    [Theory]
    [InlineData("scim/v2")]
    [InlineData("scim2.0")]
    public async Task Discovery_IsPublic_AndDescribesTheService(string scimBase)
    {
        var tenant = await factory.CreateTenantAsync();
        using var anonymous = factory.CreateClient();
        var config = await ScimAsync(await anonymous.GetAsync($"{tenant.Api}/{scimBase}/ServiceProviderConfig"), 200);
        Assert.True(config["patch"]!["supported"]!.GetValue<bool>());
        Assert.Equal(1000, config["bulk"]!["maxOperations"]!.GetValue<int>());
        Assert.Equal(1048576, config["bulk"]!["maxPayloadSize"]!.GetValue<int>());
        Assert.Equal(200, config["filter"]!["maxResults"]!.GetValue<int>());
        Assert.True(config["etag"]!["supported"]!.GetValue<bool>());
        Assert.True(config["sort"]!["supported"]!.GetValue<bool>());
        Assert.True(config["changePassword"]!["supported"]!.GetValue<bool>());
        Assert.Contains("oauthbearertoken", config["authenticationSchemes"]!.AsArray().Select(a => a!["type"]!.GetValue<string>()));

        var types = await ScimAsync(await anonymous.GetAsync($"{tenant.Api}/{scimBase}/ResourceTypes"), 200);
        Assert.Equal(2, types["totalResults"]!.GetValue<int>());
        Assert.Equal(Enterprise, types["Resources"]![0]!["schemaExtensions"]![0]!["schema"]!.GetValue<string>());
        var schemas = await ScimAsync(await anonymous.GetAsync($"{tenant.Api}/{scimBase}/Schemas"), 200);
        Assert.Contains(schemas["Resources"]!.AsArray(), s => s!["id"]!.GetValue<string>() == "urn:ietf:params:scim:schemas:extension:lumoauth:1.0:SoftDelete");
        var one = await ScimAsync(await anonymous.GetAsync($"{tenant.Api}/{scimBase}/Schemas/{UserSchema}"), 200);
        Assert.Equal("User", one["name"]!.GetValue<string>());
        await ScimErrorAsync(await anonymous.GetAsync($"{tenant.Api}/{scimBase}/Schemas/urn:nope"), 404);
    }

    [Fact]
    public async Task Users_RequireAnAdminCredential_AnsweredInTheScimErrorSchema()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        using var anonymous = factory.CreateClient();
        await ScimErrorAsync(await anonymous.GetAsync($"{tenant.Api}/scim/v2/Users"), 401);
        using var foreign = Scim(other);
        await ScimErrorAsync(await foreign.GetAsync($"{tenant.Api}/scim/v2/Users"), 401);
        using var garbage = factory.CreateClient();
        garbage.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "lmk_not-a-key");
        await ScimErrorAsync(await garbage.GetAsync($"{tenant.Api}/scim2.0/Users"), 401);

        using var admin = factory.ClientFor(tenant);
        var readKey = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/api-keys",
            new StringContent("{\"name\":\"scim-reader\",\"scopes\":[\"admin:read\"]}", Encoding.UTF8, "application/json")), 201))["data"]!["key"]!.GetValue<string>();
        using var reader = factory.CreateClient();
        reader.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", readKey);
        await ScimAsync(await reader.GetAsync($"{tenant.Api}/scim/v2/Users"), 200);
        await ScimErrorAsync(await reader.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("r@example.com")), 403);
    }

    [Fact]
    public async Task User_Lifecycle_CreateGetReplacePatchSoftAndHardDelete()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        using var created = await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("bjensen@example.com"));
        var user = await ScimAsync(created, 201);
        var id = user["id"]!.GetValue<string>();
        Assert.Equal($"http://localhost{tenant.Api}/scim/v2/Users/{id}", created.Headers.Location!.ToString());
        Assert.Equal("Barbara", user["name"]!["givenName"]!.GetValue<string>());
        Assert.Equal("Tours", user[Enterprise]!["department"]!.GetValue<string>());
        Assert.StartsWith("W/\"", user["meta"]!["version"]!.GetValue<string>());
        Assert.Null(user["password"]);

        // The same user through the REST API, and the same event as a REST creation.
        using var rest = factory.ClientFor(tenant);
        var viaRest = (await ApiAssert.OkAsync(await rest.GetAsync($"{tenant.Api}/admin/users/bjensen@example.com")))["data"]!;
        Assert.Equal(id, viaRest["id"]!.GetValue<string>());
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await rest.GetAsync($"{tenant.Api}/admin/audit-logs?action=user_created&targetId={id}"));
            return page["meta"]!["total"]!.GetValue<long>() == 1 ? page : null;
        });

        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("BJENSEN@example.com")), 409, "uniqueness");

        // PUT replaces: what it leaves out is unassigned.
        var replaced = await ScimAsync(await client.PutAsync($"{tenant.Api}/scim/v2/Users/{id}", Json(new
        {
            schemas = new[] { UserSchema }, userName = "bjensen@example.com", name = new { givenName = "Babs" },
            emails = new[] { new { value = "bjensen@example.com", primary = true } },
        })), 200);
        Assert.Equal("Babs", replaced["name"]!["givenName"]!.GetValue<string>());
        Assert.Null(replaced["title"]);
        Assert.Null(replaced[Enterprise]);

        // PATCH deactivates (and the user can no longer sign in).
        var patched = await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new object[] { new { op = "replace", path = "active", value = false }, new { op = "add", path = "title", value = "Guide" } },
        })), 200);
        Assert.False(patched["active"]!.GetValue<bool>());
        Assert.Equal("Guide", patched["title"]!.GetValue<string>());
        // A single-valued attribute is removed whatever value the operation carries (only lists take a list of values).
        var untitled = await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new object[] { new { op = "remove", path = "title", value = "Guide" } },
        })), 200);
        Assert.Null(untitled["title"]);
        // A list attribute takes a list, even when the user holds none of it yet.
        await ScimErrorAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new object[] { new { op = "remove", path = "ims", value = new { value = "someone" } } },
        })), 400, "invalidValue");
        await ScimErrorAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new object[] { new { op = "replace", path = "id", value = "mine" } },
        })), 400, "mutability");

        // DELETE soft-deletes by default: hidden from lists, visible with the isSoftDeleted filter.
        using var soft = await client.DeleteAsync($"{tenant.Api}/scim/v2/Users/{id}");
        Assert.Equal(HttpStatusCode.NoContent, soft.StatusCode);
        var listed = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter=" + Uri.EscapeDataString("userName eq \"bjensen@example.com\"")), 200);
        Assert.Equal(0, listed["totalResults"]!.GetValue<int>());
        var softListed = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter=" + Uri.EscapeDataString("isSoftDeleted eq true")), 200);
        Assert.Equal(id, softListed["Resources"]![0]!["id"]!.GetValue<string>());

        // A soft delete also deactivates (this user was active until now).
        var other = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("active@example.com")), 201))["id"]!.GetValue<string>();
        (await client.DeleteAsync($"{tenant.Api}/scim/v2/Users/{other}")).Dispose();
        var softOther = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter=" + Uri.EscapeDataString("isSoftDeleted eq true")), 200);
        Assert.False(softOther["Resources"]!.AsArray().Single(r => r!["id"]!.GetValue<string>() == other)!["active"]!.GetValue<bool>());

        using var hard = await client.DeleteAsync($"{tenant.Api}/scim/v2/Users/{id}?isSoftDeleted=true");
        Assert.Equal(HttpStatusCode.NoContent, hard.StatusCode);
        await ScimErrorAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{id}"), 404);
    }

    /// <summary>
    /// What Entra ID sends when it syncs a user: a replace of one name part keeps the other (RFC 7644 §3.5.2.3), an add
    /// through a filter that matches nothing yet adds the value the filter names, and a manager given as a bare id.
    /// </summary>
    [Fact]
    public async Task EntraStylePatches_KeepSubAttributes_AddFilteredValues_AndTakeABareManagerId()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var manager = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("boss@example.com")), 201))["id"]!.GetValue<string>();
        var id = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("jdoe@example.com", "Jane", "Doe")), 201))["id"]!.GetValue<string>();
        await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" }, Operations = new[] { new { op = "Remove", path = "phoneNumbers" } },
        })), 200);

        var patched = await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new object[]
            {
                new { op = "Replace", path = "name", value = new { givenName = "Janet" } },
                new { op = "Add", path = "phoneNumbers[type eq \"work\"].value", value = "+1 555 0199" },
                new { op = "Add", path = Enterprise + ":manager", value = manager },
            },
        })), 200);

        Assert.Equal("Janet", patched["name"]!["givenName"]!.GetValue<string>());
        Assert.Equal("Doe", patched["name"]!["familyName"]!.GetValue<string>());
        Assert.Equal("+1 555 0199", patched["phoneNumbers"]![0]!["value"]!.GetValue<string>());
        Assert.Equal(manager, patched[Enterprise]!["manager"]!["value"]!.GetValue<string>());
        var read = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{id}"), 200);
        Assert.Equal("Doe", read["name"]!["familyName"]!.GetValue<string>());
        Assert.Equal("+1 555 0199", read["phoneNumbers"]![0]!["value"]!.GetValue<string>());

        // A filter that does not say what the value would be (not only equalities) still finds nothing to add to.
        await ScimErrorAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new[] { new { op = "add", path = "emails[type ne \"home\" and primary eq false].value", value = "x@example.com" } },
        })), 400, "noTarget");
        // Nor does a filter on a single-valued attribute turn it into a list.
        await ScimErrorAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new[] { new { op = "add", path = "name[givenName eq \"A\"].familyName", value = "B" } },
        })), 400, "invalidPath");
        Assert.Equal("Doe", (await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{id}"), 200))["name"]!["familyName"]!.GetValue<string>());
    }

    /// <summary>
    /// RFC 7644 §3.6: a deleted user is not considered in conflicts. After a (soft) DELETE the identity provider finds
    /// nobody with the name and creates the person again: that works, and the deleted record stays, without the names.
    /// </summary>
    [Fact]
    public async Task SoftDeletedUser_ProvisionedAgain_IsANewUser_AndTheOldRecordLetsGoOfTheNames()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var old = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("again@example.com")), 201))["id"]!.GetValue<string>();
        (await client.DeleteAsync($"{tenant.Api}/scim/v2/Users/{old}")).Dispose();
        var found = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter=" + Uri.EscapeDataString("userName eq \"again@example.com\"")), 200);
        Assert.Equal(0, found["totalResults"]!.GetValue<int>());

        // A creation that fails (a weak password) takes nothing from the deleted record.
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", Json(new { userName = "again@example.com", password = "short" })), 400, "invalidValue");
        Assert.Equal("again@example.com", (await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{old}"), 200))["userName"]!.GetValue<string>());

        var created = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("Again@example.com")), 201);

        Assert.NotEqual(old, created["id"]!.GetValue<string>());
        var deleted = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{old}"), 200);
        Assert.NotEqual("again@example.com", deleted["userName"]?.GetValue<string>()?.ToLowerInvariant());
        Assert.True(deleted["urn:ietf:params:scim:schemas:extension:lumoauth:1.0:SoftDelete"]!["isSoftDeleted"]!.GetValue<bool>());
        // An active holder of the name still conflicts.
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("again@example.com")), 409, "uniqueness");
    }

    [Fact]
    public async Task UserNameFilters_MatchUnderscoresLiterally_AndIgnoreCase()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        foreach (var (userName, email) in new[] { ("j_smith", "j1@example.com"), ("jxsmith", "j2@example.com") })
        {
            await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users",
                Json(new { schemas = new[] { UserSchema }, userName, emails = new[] { new { value = email, primary = true } } })), 201);
        }

        var found = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter=" + Uri.EscapeDataString("userName eq \"J_SMITH\"")), 200);
        Assert.Equal(1, found["totalResults"]!.GetValue<int>());
        Assert.Equal("j_smith", found["Resources"]![0]!["userName"]!.GetValue<string>());
    }

    [Fact]
    public async Task Users_BadInput_IsAnsweredWithScimErrors()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", Json(new { schemas = new[] { UserSchema } })), 400, "invalidValue");
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", Json(new { userName = "jdoe" })), 400, "invalidValue");
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", Json(new { userName = "x@example.com", active = "maybe" })), 400, "invalidValue");
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", Json(new { userName = "x@example.com", password = "short" })), 400, "invalidValue");
        // The refused password left nothing behind: the same user is created right after, not a 409. A password is never shown back.
        var withPassword = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", Json(new { userName = "x@example.com", password = "my own password 1" })), 201);
        Assert.Null(withPassword["password"]);
        Assert.Null((await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{withPassword["id"]!.GetValue<string>()}"), 200))["password"]);
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", Json(new { userName = "y@example.com", externalId = new string('e', 201) })), 400, "invalidValue");
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users",
            new StringContent("""{"userName":"z@example.com","userName":"w@example.com"}""", Encoding.UTF8, "application/scim+json")), 400, "invalidSyntax");
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users/.search", Json(new { attributes = new object[] { 1, new { } } })), 400, "invalidValue");
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", new StringContent("{not json", Encoding.UTF8, "application/scim+json")), 400, "invalidSyntax");
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users",
            new StringContent("""{"userName":"\ud800@example.com"}""", Encoding.UTF8, "application/scim+json")), 400, "invalidSyntax");
        await ScimErrorAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter=" + Uri.EscapeDataString("userName eq \"\\ud800\"")), 400, "invalidSyntax");
        await ScimErrorAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter=" + Uri.EscapeDataString("userName eq")), 400, "invalidFilter");
        await ScimErrorAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?sortOrder=sideways"), 400, "invalidValue");
        // A sorted list keeps startIndex + count resources in memory: it is not paged deeper than the bound.
        await ScimErrorAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?sortBy=userName&startIndex=10000&count=100"), 400, "tooMany");
        await ScimErrorAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{Guid.NewGuid()}"), 404);
        await ScimErrorAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/not-an-id"), 404);
    }

    [Fact]
    public async Task ErrorsRaisedBeforeAScimHandler_AreScimErrorsToo()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);

        await ScimErrorAsync(await client.GetAsync($"{tenant.Api}/scim/v2/NoSuchResource/1/2"), 404);
        var huge = new StringContent("{\"userName\":\"" + new string('x', 2 * 1024 * 1024) + "\"}", Encoding.UTF8, "application/scim+json");
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim2.0/Users", huge), 413);
        // A bulk request over the advertised maxPayloadSize (1 MiB) is refused the same way, before any operation runs.
        var hugeBulk = new StringContent("{\"Operations\":[{\"method\":\"POST\",\"path\":\"/Users\",\"data\":{\"userName\":\"" + new string('x', 1024 * 1024) + "\"}}]}", Encoding.UTF8, "application/scim+json");
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Bulk", hugeBulk), 413);
    }

    [Fact]
    public async Task Users_FilterSortPageAndProjectAttributes()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        foreach (var (email, family) in new[] { ("c@example.com", "Cole"), ("a@example.com", "Adams"), ("b@example.com", "Baker") })
        {
            await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent(email, "Pat", family)), 201);
        }

        var page = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter=" + Uri.EscapeDataString("name.givenName eq \"Pat\"")
            + "&sortBy=name.familyName&sortOrder=descending&startIndex=2&count=1&attributes=userName,name.familyName"), 200);
        Assert.Equal(3, page["totalResults"]!.GetValue<int>());
        Assert.Equal(2, page["startIndex"]!.GetValue<int>());
        Assert.Equal(1, page["itemsPerPage"]!.GetValue<int>());
        var only = page["Resources"]![0]!.AsObject();
        Assert.Equal("b@example.com", only["userName"]!.GetValue<string>());
        Assert.Equal("Baker", only["name"]!["familyName"]!.GetValue<string>());
        Assert.Null(only["name"]!["givenName"]);
        Assert.Null(only["emails"]);
        Assert.NotNull(only["id"]);

        var excluded = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?excludedAttributes=emails,groups&count=10"), 200);
        Assert.All(excluded["Resources"]!.AsArray(), r => Assert.Null(r!["emails"]));
        var complex = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter=" + Uri.EscapeDataString(
            "(name.familyName sw \"A\" or name.familyName sw \"C\") and not (userName ew \"c@example.com\")")), 200);
        Assert.Equal(["a@example.com"], complex["Resources"]!.AsArray().Select(r => r!["userName"]!.GetValue<string>()).ToList());

        var searched = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users/.search", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:SearchRequest" }, filter = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"Tours\"",
            attributes = new[] { "userName" }, sortBy = "userName", startIndex = 1, count = 2,
        })), 200);
        Assert.Equal(3, searched["totalResults"]!.GetValue<int>());
        Assert.Equal(["a@example.com", "b@example.com"], searched["Resources"]!.AsArray().Select(r => r!["userName"]!.GetValue<string>()).ToList());
    }

    [Fact]
    public async Task RootSearch_SpansUsersAndGroups()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var zeta = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("zeta@example.com")), 201))["id"]!.GetValue<string>();
        await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new { displayName = "Zeta Team" })), 201);
        var found = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim2.0/.search", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:SearchRequest" },
            filter = "userName sw \"zeta\" or displayName sw \"zeta\"", attributes = new[] { "userName", "displayName" },
        })), 200);
        Assert.Equal(2, found["totalResults"]!.GetValue<int>());
        var kinds = found["Resources"]!.AsArray().Select(r => r!["schemas"]![0]!.GetValue<string>()).ToList();
        Assert.Equal([UserSchema, "urn:ietf:params:scim:schemas:core:2.0:Group"], kinds);

        // Groups have a search of their own, with sorting, paging and attribute selection.
        await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new { displayName = "Zeta Alpha" })), 201);
        await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new { displayName = "Zeta Beta", members = new[] { new { value = zeta } } })), 201);
        var groups = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups/.search", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:SearchRequest" },
            filter = "displayName sw \"Zeta\"", sortBy = "displayName", sortOrder = "descending", startIndex = 2, count = 1, attributes = new[] { "displayName" },
        })), 200);
        Assert.Equal(3, groups["totalResults"]!.GetValue<int>());
        Assert.Equal(2, groups["startIndex"]!.GetValue<int>());
        var page = groups["Resources"]!.AsArray().Single()!;
        Assert.Equal("Zeta Beta", page["displayName"]!.GetValue<string>());
        Assert.Null(page["members"]); // it has one, left out by the attribute selection
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/.search", Json(new { filter = 42 })), 400, "invalidValue");
    }

    /// <summary>
    /// A multi-valued attribute replaced by something that is not a list is the caller's error (400 invalidValue), never
    /// "no members": the group keeps them. Adding and removing members by value in one operation is bounded.
    /// </summary>
    [Fact]
    public async Task GroupPatch_MembersReplacedByANonList_IsInvalidValue_AndTheMembersStay()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var member = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("kept@example.com")), 201))["id"]!.GetValue<string>();
        var group = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:schemas:core:2.0:Group" }, displayName = "Keepers", members = new[] { new { value = member } },
        })), 201))["id"]!.GetValue<string>();

        foreach (object value in new object[] { new { value = member }, "x" })
        {
            await ScimErrorAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{group}", Json(new
            {
                schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" }, Operations = new[] { new { op = "replace", path = "members", value } },
            })), 400, "invalidValue");
        }

        var tooMany = Enumerable.Range(0, ScimPatch.MaxValuesPerOperation + 1).Select(_ => new { value = Guid.NewGuid().ToString() }).ToArray();
        await ScimErrorAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{group}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" }, Operations = new[] { new { op = "add", path = "members", value = tooMany } },
        })), 400, "invalidValue");

        var read = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Groups/{group}"), 200);
        Assert.Equal(member, Assert.Single(read["members"]!.AsArray())!["value"]!.GetValue<string>());
    }

    /// <summary>RFC 7644 §3.9: the attribute selection shapes a single resource's answers too (Entra ID reads groups without members).</summary>
    [Fact]
    public async Task AttributeSelection_AppliesToSingleResourceAnswers()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var member = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("member@example.com")), 201))["id"]!.GetValue<string>();
        var group = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:schemas:core:2.0:Group" }, displayName = "Readers", members = new[] { new { value = member } },
        })), 201))["id"]!.GetValue<string>();

        var withoutMembers = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Groups/{group}?excludedAttributes=members"), 200);
        Assert.Null(withoutMembers["members"]);
        Assert.Equal("Readers", withoutMembers["displayName"]!.GetValue<string>());
        Assert.Equal(group, withoutMembers["id"]!.GetValue<string>());

        var onlyName = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{member}?attributes=userName,name.familyName"), 200);
        Assert.Equal(["schemas", "id", "userName", "name"], onlyName.Select(p => p.Key));
        Assert.Equal(["familyName"], onlyName["name"]!.AsObject().Select(p => p.Key));

        var patched = await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{group}?excludedAttributes=members", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" }, Operations = new[] { new { op = "replace", path = "displayName", value = "Readers 2" } },
        })), 200);
        Assert.Null(patched["members"]);
        Assert.Equal("Readers 2", patched["displayName"]!.GetValue<string>());
    }

    /// <summary>
    /// Identity providers push group changes in parallel: each PATCH adds its member and none undoes another's. A member
    /// change moves the group's version, so a stale If-Match is refused and a conditional read is answered afresh.
    /// </summary>
    [Fact]
    public async Task GroupPatches_AtOnce_KeepEveryMember_AndMoveTheVersion()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var users = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            users.Add((await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent($"push{i}@example.com")), 201))["id"]!.GetValue<string>());
        }

        using var created = await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new { schemas = new[] { "urn:ietf:params:scim:schemas:core:2.0:Group" }, displayName = "Pushed" }));
        var group = await ScimAsync(created, 201);
        var groupId = group["id"]!.GetValue<string>();
        var version = created.Headers.ETag!.ToString();

        var patches = await Task.WhenAll(users.Select(async user =>
        {
            using var patchClient = Scim(tenant);
            using var response = await patchClient.PatchAsync($"{tenant.Api}/scim/v2/Groups/{groupId}", Json(new
            {
                schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
                Operations = new[] { new { op = "add", path = "members", value = new[] { new { value = user } } } },
            }));
            return response.StatusCode;
        }));

        // Member-only pushes answer 204 without the member list (RFC 7644 §3.5.2), as Entra ID's reference service does.
        Assert.All(patches, status => Assert.Equal(HttpStatusCode.NoContent, status));
        using var read = await client.GetAsync($"{tenant.Api}/scim/v2/Groups/{groupId}");
        var members = (await ScimAsync(read, 200))["members"]!.AsArray().Select(m => m!["value"]!.GetValue<string>()).Order().ToList();
        Assert.Equal(users.Order().ToList(), members);
        Assert.NotEqual(version, read.Headers.ETag!.ToString());

        using var stale = new HttpRequestMessage(HttpMethod.Patch, $"{tenant.Api}/scim/v2/Groups/{groupId}")
        {
            Content = Json(new { schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" }, Operations = new[] { new { op = "remove", path = "members" } } }),
        };
        stale.Headers.TryAddWithoutValidation("If-Match", version);
        await ScimErrorAsync(await client.SendAsync(stale), 412, "mutability");
    }

    /// <summary>Group names are unique as written (any letter case); names that only share a slug are different groups.</summary>
    [Fact]
    public async Task GroupNames_SharingASlug_AreDifferentGroups_TheSameNameIsAConflict()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        object Group(string name) => new { schemas = new[] { "urn:ietf:params:scim:schemas:core:2.0:Group" }, displayName = name };

        var first = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(Group("R&D"))), 201);
        var second = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(Group("RD"))), 201);
        var third = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(Group("Sales (EU)"))), 201);
        await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(Group("Sales EU"))), 201);

        Assert.NotEqual(first["id"]!.GetValue<string>(), second["id"]!.GetValue<string>());
        Assert.Equal("Sales (EU)", third["displayName"]!.GetValue<string>());
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(Group("r&d"))), 409, "uniqueness");
        // A rename to another group's name is refused the same way; a change of letter case of its own name is not.
        var patch = (string name) => Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" }, Operations = new[] { new { op = "replace", path = "displayName", value = name } },
        });
        await ScimErrorAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{second["id"]!.GetValue<string>()}", patch("R&D")), 409, "uniqueness");
        await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{second["id"]!.GetValue<string>()}", patch("rd")), 200);
    }

    /// <summary>Sorted pages in both directions: values without regard to case, resources without the attribute last either way.</summary>
    [Fact]
    public async Task SortedPages_BothDirections_MissingValuesLast()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        foreach (var (name, title) in new[] { ("s1@example.com", "beta"), ("s2@example.com", (string?)null), ("s3@example.com", "Alpha"), ("s4@example.com", "gamma") })
        {
            await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", Json(new { schemas = new[] { UserSchema }, userName = name, title })), 201);
        }

        async Task<List<string>> PageAsync(string order, int start, int count) =>
            (await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter={Uri.EscapeDataString("userName sw \"s\"")}&sortBy=title&sortOrder={order}&startIndex={start}&count={count}"), 200))
                ["Resources"]!.AsArray().Select(r => r!["userName"]!.GetValue<string>()).ToList();

        Assert.Equal(["s3@example.com", "s1@example.com", "s4@example.com", "s2@example.com"], await PageAsync("ascending", 1, 10));
        Assert.Equal(["s4@example.com", "s1@example.com", "s3@example.com", "s2@example.com"], await PageAsync("descending", 1, 10));
        Assert.Equal(["s1@example.com", "s4@example.com"], await PageAsync("ascending", 2, 2));
        Assert.Equal(["s2@example.com"], await PageAsync("descending", 4, 2));
    }

    [Fact]
    public async Task ETags_GuardUpdates_AndConditionalGets()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var user = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("etag@example.com")), 201);
        var id = user["id"]!.GetValue<string>();
        using var get = await client.GetAsync($"{tenant.Api}/scim/v2/Users/{id}");
        var etag = get.Headers.ETag!.ToString();
        Assert.Equal(user["meta"]!["version"]!.GetValue<string>(), etag);

        using var notModified = new HttpRequestMessage(HttpMethod.Get, $"{tenant.Api}/scim/v2/Users/{id}");
        notModified.Headers.TryAddWithoutValidation("If-None-Match", etag);
        Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(notModified)).StatusCode);

        var patch = new { schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" }, Operations = new object[] { new { op = "replace", path = "title", value = "New" } } };
        using var ok = new HttpRequestMessage(HttpMethod.Patch, $"{tenant.Api}/scim/v2/Users/{id}") { Content = Json(patch) };
        ok.Headers.TryAddWithoutValidation("If-Match", etag);
        var updated = await ScimAsync(await client.SendAsync(ok), 200);
        Assert.NotEqual(etag, updated["meta"]!["version"]!.GetValue<string>());

        using var stale = new HttpRequestMessage(HttpMethod.Patch, $"{tenant.Api}/scim/v2/Users/{id}") { Content = Json(patch) };
        stale.Headers.TryAddWithoutValidation("If-Match", etag);
        await ScimErrorAsync(await client.SendAsync(stale), 412, "mutability");
    }

    [Fact]
    public async Task Groups_MembersByPatch_PublishMembershipChanges()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var u1 = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("g1@example.com")), 201))["id"]!.GetValue<string>();
        var u2 = (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", UserContent("g2@example.com")), 201))["id"]!.GetValue<string>();
        var group = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim2.0/Groups", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:schemas:core:2.0:Group" }, displayName = "Tour Guides", members = new[] { new { value = u1 } },
        })), 201);
        var groupId = group["id"]!.GetValue<string>();
        Assert.Equal("g1@example.com", group["members"]![0]!["display"]!.GetValue<string>());
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new { displayName = "Tour Guides" })), 409, "uniqueness");
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Groups", Json(new { displayName = "X", members = new[] { new { value = Guid.NewGuid().ToString() } } })), 400, "invalidValue");

        var patched = await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{groupId}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new object[]
            {
                new { op = "add", path = "members", value = new[] { new { value = u2 } } },
                new { op = "remove", path = $"members[value eq \"{u1}\"]" },
                new { op = "replace", path = "displayName", value = "Senior Guides" },
            },
        })), 200);
        Assert.Equal([u2], patched["members"]!.AsArray().Select(m => m!["value"]!.GetValue<string>()).ToList());
        Assert.Equal("Senior Guides", patched["displayName"]!.GetValue<string>());

        var user2 = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{u2}"), 200);
        Assert.Equal(groupId, user2["groups"]![0]!["value"]!.GetValue<string>());

        // A replace of the whole member list (as Entra ID and Okta send it) swaps the members: u1 back in, u2 out.
        var replaced = await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{groupId}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new object[] { new { op = "replace", path = "members", value = new[] { new { value = u1 } } } },
        })), 200);
        Assert.Equal([u1], replaced["members"]!.AsArray().Select(m => m!["value"]!.GetValue<string>()).ToList());
        Assert.Null((await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{u2}"), 200))["groups"]?.AsArray().FirstOrDefault());
        await ScimErrorAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{groupId}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new object[] { new { op = "replace", path = "members", value = new[] { new { value = Guid.NewGuid().ToString() } } } },
        })), 400, "invalidValue");
        var back = await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Groups/{groupId}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new object[] { new { op = "replace", path = "members", value = new[] { new { value = u2 } } } },
        })), 200);
        Assert.Equal([u2], back["members"]!.AsArray().Select(m => m!["value"]!.GetValue<string>()).ToList());
        var byName = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Groups?filter=" + Uri.EscapeDataString("displayName eq \"senior guides\"")), 200);
        Assert.Equal(1, byName["totalResults"]!.GetValue<int>());

        using var rest = factory.ClientFor(tenant);
        await ApiAssert.EventuallyAsync(async () =>
        {
            var page = await ApiAssert.OkAsync(await rest.GetAsync($"{tenant.Api}/admin/audit-logs?action=group_membership_changed&targetId={groupId}"));
            return page["meta"]!["total"]!.GetValue<long>() == 4 ? page : null;
        });

        using var deleted = await client.DeleteAsync($"{tenant.Api}/scim/v2/Groups/{groupId}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{u2}"), 200);
    }

    [Fact]
    public async Task Bulk_ResolvesBulkIds_AndStopsAfterFailOnErrors()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var bulk = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Bulk", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:BulkRequest" },
            failOnErrors = 2,
            Operations = new object[]
            {
                new { method = "POST", path = "/Users", bulkId = "u1", data = new { userName = "bulk1@example.com" } },
                new { method = "POST", path = "/Groups", bulkId = "g1", data = new { displayName = "Bulkers", members = new[] { new { value = "bulkId:u1" } } } },
                new { method = "PATCH", path = "/Users/bulkId:u1", data = new { schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" }, Operations = new[] { new { op = "replace", path = "title", value = "Bulked" } } } },
                new { method = "POST", path = "/Users", bulkId = "dup", data = new { userName = "bulk1@example.com" } },
                new { method = "DELETE", path = "/Users/bulkId:nowhere" },
                new { method = "POST", path = "/Users", bulkId = "late", data = new { userName = "never@example.com" } },
            },
        })), 200);
        var results = bulk["Operations"]!.AsArray();
        Assert.Equal(["201", "201", "200", "409", "409"], results.Select(r => r!["status"]!.GetValue<string>()).ToList());
        Assert.Equal("uniqueness", results[3]!["response"]!["scimType"]!.GetValue<string>());
        Assert.EndsWith("/Users/" + results[0]!["location"]!.GetValue<string>().Split('/').Last(), results[0]!["location"]!.GetValue<string>());

        var group = await ScimAsync(await client.GetAsync(new Uri(results[1]!["location"]!.GetValue<string>()).PathAndQuery), 200);
        Assert.Equal("bulk1@example.com", group["members"]![0]!["display"]!.GetValue<string>());
        var never = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter=" + Uri.EscapeDataString("userName eq \"never@example.com\"")), 200);
        Assert.Equal(0, never["totalResults"]!.GetValue<int>());

        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Bulk", Json(new { Operations = Array.Empty<object>() })), 400, "invalidSyntax");
        await ScimErrorAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Bulk", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:BulkRequest" },
            Operations = Enumerable.Range(0, 1001).Select(i => new { method = "DELETE", path = "/Users/x" }).ToArray(),
        })), 413);
    }

    /// <summary>RFC 7644 §3.7.2: an operation may name a bulkId created later in the request; a bulkId declared twice is refused.</summary>
    [Fact]
    public async Task Bulk_ResolvesForwardReferences_RefusesARepeatedBulkId_AndACycle()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var bulk = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Bulk", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:BulkRequest" },
            Operations = new object[]
            {
                new { method = "POST", path = "/Groups", bulkId = "g", data = new { displayName = "Early", members = new[] { new { value = "bulkId:u" } } } },
                new { method = "POST", path = "/Users", bulkId = "u", data = new { userName = "forward@example.com" } },
                new { method = "POST", path = "/Users", bulkId = "u", data = new { userName = "again@example.com" } },
                new { method = "POST", path = "/Groups", bulkId = "c1", data = new { displayName = "One", members = new[] { new { value = "bulkId:c2" } } } },
                new { method = "POST", path = "/Groups", bulkId = "c2", data = new { displayName = "Two", members = new[] { new { value = "bulkId:c1" } } } },
            },
        })), 200);

        var results = bulk["Operations"]!.AsArray();
        Assert.Equal(["g", "u", "u", "c1", "c2"], results.Select(r => r!["bulkId"]!.GetValue<string>()).ToList());
        Assert.Equal(["201", "201", "400", "409", "409"], results.Select(r => r!["status"]!.GetValue<string>()).ToList());
        Assert.Equal("invalidValue", results[2]!["response"]!["scimType"]!.GetValue<string>());
        var group = await ScimAsync(await client.GetAsync(new Uri(results[0]!["location"]!.GetValue<string>()).PathAndQuery), 200);
        Assert.Equal("forward@example.com", group["members"]![0]!["display"]!.GetValue<string>());
        var again = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter=" + Uri.EscapeDataString("userName eq \"again@example.com\"")), 200);
        Assert.Equal(0, again["totalResults"]!.GetValue<int>());
    }

    [Fact]
    public async Task Me_IsTheBasicUser_AndNotAvailableToApiKeys()
    {
        var tenant = await factory.CreateTenantAsync();
        var id = await factory.CreateUserAsync(tenant, "me@example.com", "my own password 1", "Me Myself");
        using var basic = factory.CreateClient();
        basic.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("me@example.com:my own password 1")));
        var me = await ScimAsync(await basic.GetAsync($"{tenant.Api}/scim2.0/Me"), 200);
        Assert.Equal(id.ToString(), me["id"]!.GetValue<string>());
        var patched = await ScimAsync(await basic.PatchAsync($"{tenant.Api}/scim2.0/Me", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" }, Operations = new[] { new { op = "replace", path = "displayName", value = "Just Me" } },
        })), 200);
        Assert.Equal("Just Me", patched["displayName"]!.GetValue<string>());
        // A plain user is not an admin: other resources stay closed.
        await ScimErrorAsync(await basic.GetAsync($"{tenant.Api}/scim2.0/Users"), 403);

        // A verified user who moves to another address holds an unproven one until it is verified again.
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { emailVerified = true }));
        await ScimAsync(await basic.PatchAsync($"{tenant.Api}/scim2.0/Me", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" },
            Operations = new[] { new { op = "replace", path = "emails", value = (object)new[] { new { value = "moved-me@example.com", primary = true } } } },
        })), 200);
        var moved = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{id}")))["data"]!;
        Assert.Equal("moved-me@example.com", moved["email"]!.GetValue<string>());
        Assert.False(moved["emailVerified"]!.GetValue<bool>());
        // An administrator may vouch for a new address in the same call.
        var vouched = (await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { email = "vouched-me@example.com", emailVerified = true })))["data"]!;
        Assert.True(vouched["emailVerified"]!.GetValue<bool>());
        // The same mailbox in other letter case (as SCIM clients send it back) is not a new address.
        var recased = (await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { email = "Vouched-Me@example.com" })))["data"]!;
        Assert.True(recased["emailVerified"]!.GetValue<bool>());
        var unvouched = (await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/users/{id}", new { email = "plain-me@example.com" })))["data"]!;
        Assert.False(unvouched["emailVerified"]!.GetValue<bool>());

        using var wrong = factory.CreateClient();
        wrong.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("me@example.com:nope")));
        await ScimErrorAsync(await wrong.GetAsync($"{tenant.Api}/scim2.0/Me"), 401);
        using var key = Scim(tenant);
        await ScimErrorAsync(await key.GetAsync($"{tenant.Api}/scim/v2/Me"), 501);
    }

    /// <summary>
    /// Only the /Me routes are open to a plain user: a group or user whose id reads "Me" is reached through the admin-only
    /// handlers, and a search's read-only allowance does not extend to a write on a user id ".search".
    /// </summary>
    [Fact]
    public async Task Me_IsOnlyTheMeRoute_NotAUserOrGroupPathEndingInMe()
    {
        var tenant = await factory.CreateTenantAsync();
        var id = await factory.CreateUserAsync(tenant, "plain@example.com", "my own password 1", "Plain User");
        using var basic = factory.CreateClient();
        basic.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("plain@example.com:my own password 1")));
        var patch = new { schemas = new[] { PatchOp }, Operations = new[] { new { op = "replace", path = "displayName", value = "Not Me" } } };

        foreach (var scimBase in new[] { "scim/v2", "scim2.0" })
        {
            await ScimErrorAsync(await basic.GetAsync($"{tenant.Api}/{scimBase}/Groups/Me"), 403);
            await ScimErrorAsync(await basic.PatchAsync($"{tenant.Api}/{scimBase}/Groups/Me", Json(patch)), 403);
            await ScimErrorAsync(await basic.DeleteAsync($"{tenant.Api}/{scimBase}/Groups/Me"), 403);
            await ScimErrorAsync(await basic.GetAsync($"{tenant.Api}/{scimBase}/Users/Me"), 403);
            await ScimErrorAsync(await basic.PutAsync($"{tenant.Api}/{scimBase}/Users/Me", UserContent("plain@example.com")), 403);
            await ScimErrorAsync(await basic.PatchAsync($"{tenant.Api}/{scimBase}/Users/Me", Json(patch)), 403);
            await ScimErrorAsync(await basic.DeleteAsync($"{tenant.Api}/{scimBase}/Users/Me"), 403);

            var me = await ScimAsync(await basic.GetAsync($"{tenant.Api}/{scimBase}/Me"), 200);
            Assert.Equal(id.ToString(), me["id"]!.GetValue<string>());
        }

        var patched = await ScimAsync(await basic.PatchAsync($"{tenant.Api}/scim/v2/Me", Json(new
        {
            schemas = new[] { PatchOp }, Operations = new[] { new { op = "replace", path = "displayName", value = "Still Me" } },
        })), 200);
        Assert.Equal("Still Me", patched["displayName"]!.GetValue<string>());

        // A reading key may search (a POST), but not write to a user whose id happens to be ".search".
        using var admin = factory.ClientFor(tenant);
        var readKey = (await ApiAssert.OkAsync(await admin.PostAsync($"{tenant.Api}/admin/api-keys",
            new StringContent("{\"name\":\"scim-reader\",\"scopes\":[\"admin:read\"]}", Encoding.UTF8, "application/json")), 201))["data"]!["key"]!.GetValue<string>();
        using var reader = factory.CreateClient();
        reader.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", readKey);
        await ScimAsync(await reader.PostAsync($"{tenant.Api}/scim/v2/Users/.search", Json(new { schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:SearchRequest" } })), 200);
        await ScimErrorAsync(await reader.PutAsync($"{tenant.Api}/scim/v2/Users/.search", UserContent("r@example.com")), 403);
        await ScimErrorAsync(await reader.DeleteAsync($"{tenant.Api}/scim/v2/Groups/.search"), 403);
    }

    [Fact]
    public async Task Deactivated_ByScim_CannotSignIn_UntilActiveAgain()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        const string password = "a long enough password 7";
        var created = await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/Users", Json(new
        {
            schemas = new[] { UserSchema }, userName = "provisioned@example.com", password,
            emails = new[] { new { value = "provisioned@example.com", primary = true } },
        })), 201);
        var id = created["id"]!.GetValue<string>();
        async Task<string> SignInAsync()
        {
            using var internalApi = factory.Internal();
            using var response = await internalApi.PostAsJsonAsync(LumoAuth.Contracts.Internal.InternalRoutes.Authenticate,
                new LumoAuth.Contracts.Internal.AuthenticateRequest(tenant.Id, "provisioned@example.com", password, null, "203.0.113.9"));
            return (await response.Content.ReadFromJsonAsync<LumoAuth.Contracts.Internal.AuthenticateResponse>())!.Outcome;
        }

        async Task SetActiveAsync(bool active) => await ScimAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Json(new
        {
            schemas = new[] { "urn:ietf:params:scim:api:messages:2.0:PatchOp" }, Operations = new object[] { new { op = "replace", path = "active", value = active } },
        })), 200);

        Assert.Equal(LumoAuth.Contracts.Internal.AuthenticationOutcomes.Success, await SignInAsync());
        await SetActiveAsync(false);
        Assert.Equal(LumoAuth.Contracts.Internal.AuthenticationOutcomes.Blocked, await SignInAsync());
        await SetActiveAsync(true);
        Assert.Equal(LumoAuth.Contracts.Internal.AuthenticationOutcomes.Success, await SignInAsync());
    }

    [Fact]
    public async Task Lists_PageThroughMoreUsersThanABatch_WithOrWithoutAFilter()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        // 1,100 users created at three instants: batches (500) must continue past ties on the creation time.
        var now = DateTimeOffset.UtcNow;
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<LumoAuth.Admin.Data.AdminDbContext>();
            db.Users.AddRange(Enumerable.Range(0, 1100).Select(i => new LumoAuth.Admin.Data.User
            {
                Id = Guid.NewGuid(), TenantId = tenant.Id, Email = $"bulk{i:D4}@example.com", NormalizedEmail = $"bulk{i:D4}@example.com",
                Title = i % 2 == 0 ? "Even" : "Odd", CreatedAt = now.AddSeconds(i / 400), UpdatedAt = now,
            }));
            await db.SaveChangesAsync();
        }

        // Unfiltered: the tenant's own administrator and the 1,100; a page from the middle.
        var page = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?startIndex=1001&count=150"), 200);
        Assert.Equal(1101, page["totalResults"]!.GetValue<int>());
        Assert.Equal(101, page["itemsPerPage"]!.GetValue<int>());
        Assert.Equal(1001, page["startIndex"]!.GetValue<int>());
        // A page holds 100 unless asked otherwise, and never more than 200.
        Assert.Equal(100, (await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users"), 200))["itemsPerPage"]!.GetValue<int>());
        Assert.Equal(200, (await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?count=5000"), 200))["itemsPerPage"]!.GetValue<int>());
        var none = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?count=0"), 200);
        Assert.Equal(1101, none["totalResults"]!.GetValue<int>());
        Assert.Empty(none["Resources"]?.AsArray() ?? []);

        // Filtered on an attribute SQL is not asked about: every user is looked at, once.
        var odd = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?count=200&startIndex=501&filter=" + Uri.EscapeDataString("title eq \"Odd\"")), 200);
        Assert.Equal(550, odd["totalResults"]!.GetValue<int>());
        var names = odd["Resources"]!.AsArray().Select(r => r!["userName"]!.GetValue<string>()).ToList();
        Assert.Equal(50, names.Count);
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, n => Assert.True(int.Parse(n[4..8], System.Globalization.CultureInfo.InvariantCulture) % 2 == 1, n));
    }
}
