using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

using static LumoAuth.Admin.Tests.ScimHttp;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// The tenant's declared profile attributes through SCIM, in an extension of our own (as Okta and Entra ID map custom
/// attributes): read, created, replaced and patched, each value held to its declaration; left out of a PUT, they stay.
/// </summary>
public sealed class ScimProfileAttributesTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private const string Profile = "urn:ietf:params:scim:schemas:extension:lumoauth:1.0:Profile";

    private static StringContent Patch(params JsonObject[] operations) => PatchOf(operations);

    [Fact]
    public async Task DeclaredAttributes_AreReadAndWrittenInTheProfileExtension_HeldToTheirDeclarations()
    {
        var tenant = await factory.CreateTenantAsync();
        using (var settings = factory.ClientFor(tenant))
        {
            await ApiAssert.OkAsync(await settings.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new
            {
                userProfile = new
                {
                    attributes = new object[]
                    {
                        new { name = "team", label = "Team", type = "choice", options = new[] { new { value = "red", label = "Red" }, new { value = "blue", label = "Blue" } } },
                        new { name = "floor", label = "Floor", type = "integer", min = 1, max = 99 },
                        new { name = "skills", label = "Skills", multiValued = true },
                    },
                },
            }));
        }

        using var scim = ClientFor(factory, tenant);
        var users = $"{tenant.Api}/scim/v2/Users";
        async Task<string> RefusedAsync(HttpResponseMessage response)
        {
            var error = await ScimAsync(response, 400);
            Assert.Equal("invalidValue", error["scimType"]!.GetValue<string>());
            return error["detail"]!.GetValue<string>();
        }

        // Created with the extension (names matched without regard to case); an administrator's own keys are not in it.
        var created = await ScimAsync(await scim.PostAsync(users, Json(new Dictionary<string, object>
        {
            ["schemas"] = new[] { UserSchema, Profile },
            ["userName"] = "pat@example.com",
            [Profile] = new Dictionary<string, object> { ["Team"] = "red", ["floor"] = 12, ["skills"] = new[] { "go", "rust", "go" } },
        })), 201);
        var id = created["id"]!.GetValue<string>();
        Assert.Contains(Profile, created["schemas"]!.AsArray().Select(s => s!.GetValue<string>()));
        Assert.Equal("red", created[Profile]!["team"]!.GetValue<string>());
        Assert.Equal(12, created[Profile]!["floor"]!.GetValue<long>());
        Assert.Equal(["go", "rust"], created[Profile]!["skills"]!.AsArray().Select(v => v!.GetValue<string>()));

        // Held to the declarations, and only declared names; nothing of a refused request is kept.
        Assert.Contains("must be one of the attribute's options", await RefusedAsync(await scim.PatchAsync($"{users}/{id}",
            Patch(new JsonObject { ["op"] = "replace", ["path"] = $"{Profile}:team", ["value"] = "green" }))), StringComparison.Ordinal);
        Assert.Contains("must be at most 99", await RefusedAsync(await scim.PatchAsync($"{users}/{id}",
            Patch(new JsonObject { ["op"] = "replace", ["path"] = $"{Profile}:floor", ["value"] = 100 }))), StringComparison.Ordinal);
        Assert.Contains("'risk' is not one of", await RefusedAsync(await scim.PatchAsync($"{users}/{id}",
            Patch(new JsonObject { ["op"] = "add", ["path"] = $"{Profile}:risk", ["value"] = "low" }))), StringComparison.Ordinal);
        Assert.Contains("must be an object", await RefusedAsync(await scim.PostAsync(users, Json(new Dictionary<string, object>
        {
            ["schemas"] = new[] { UserSchema }, ["userName"] = "other@example.com", [Profile] = "red",
        }))), StringComparison.Ordinal);

        // A PATCH of one value keeps the others; the administrator's own keys beside them stay too.
        using (var admin = factory.ClientFor(tenant))
        {
            var attributes = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{id}/attributes")))["data"]!["attributes"]!.AsObject();
            attributes["costCentre"] = "CC-7";
            await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/attributes", attributes));
        }

        var patched = await ScimAsync(await scim.PatchAsync($"{users}/{id}",
            Patch(new JsonObject { ["op"] = "replace", ["path"] = $"{Profile}:team", ["value"] = "blue" })), 200);
        Assert.Equal("blue", patched[Profile]!["team"]!.GetValue<string>());
        Assert.Equal(12, patched[Profile]!["floor"]!.GetValue<long>());
        Assert.Null(patched[Profile]!["costCentre"]);

        // Filters read the extension as any other attribute.
        async Task<int> FoundAsync(string filter) =>
            (await ScimAsync(await scim.GetAsync($"{users}?filter={Uri.EscapeDataString(filter)}"), 200))["totalResults"]!.GetValue<int>();
        Assert.Equal(1, await FoundAsync($"{Profile}:team eq \"blue\""));
        Assert.Equal(0, await FoundAsync($"{Profile}:team eq \"red\""));
        Assert.Equal(1, await FoundAsync($"{Profile}:floor gt 10"));
        Assert.Equal(1, await FoundAsync($"{Profile}:skills eq \"rust\""));

        // A PUT without the extension leaves them; with it, it replaces them all (one left out is removed).
        var put = await ScimAsync(await scim.PutAsync($"{users}/{id}", Json(new { schemas = new[] { UserSchema }, userName = "pat@example.com", title = "Lead" })), 200);
        Assert.Equal("blue", put[Profile]!["team"]!.GetValue<string>());
        put = await ScimAsync(await scim.PutAsync($"{users}/{id}", Json(new Dictionary<string, object>
        {
            ["schemas"] = new[] { UserSchema, Profile }, ["userName"] = "pat@example.com", [Profile] = new Dictionary<string, object> { ["floor"] = "3" },
        })), 200);
        Assert.Null(put[Profile]!["team"]);
        Assert.Equal(3, put[Profile]!["floor"]!.GetValue<long>());

        // Removing the last one removes the extension from the answer; the administrator's key is still there.
        var removed = await ScimAsync(await scim.PatchAsync($"{users}/{id}", Patch(new JsonObject { ["op"] = "remove", ["path"] = $"{Profile}:floor" })), 200);
        Assert.Null(removed[Profile]);
        using (var admin = factory.ClientFor(tenant))
        {
            var attributes = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{id}/attributes")))["data"]!["attributes"]!.AsObject();
            Assert.Equal(["costCentre"], attributes.Select(p => p.Key));
        }

        // Discovery names the extension to anyone; its attributes (the tenant's settings) only to a caller that may read users.
        using var anonymous = factory.CreateClient();
        var resourceType = JsonNode.Parse(await anonymous.GetStringAsync($"{tenant.Api}/scim/v2/ResourceTypes/User"))!;
        Assert.Contains(Profile, resourceType["schemaExtensions"]!.AsArray().Select(e => e!["schema"]!.GetValue<string>()));
        Assert.Empty((await ScimAsync(await anonymous.GetAsync($"{tenant.Api}/scim/v2/Schemas/{Profile}"), 200))["attributes"]!.AsArray());
    }

    /// <summary>A provisioning client that builds its mapping from discovery (Okta's schema import) finds the declared attributes.</summary>
    [Fact]
    public async Task TheProfileSchema_ListsTheDeclaredAttributes_ToCallersThatMayReadUsers_Only()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        using (var settings = factory.ClientFor(tenant))
        {
            await ApiAssert.OkAsync(await settings.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new
            {
                userProfile = new
                {
                    attributes = new object[]
                    {
                        new { name = "team", label = "Team", type = "choice", options = new[] { new { value = "red", label = "Red" }, new { value = "blue", label = "Blue" } } },
                        new { name = "floor", label = "Floor", type = "integer" },
                        new { name = "skills", label = "Skills", multiValued = true },
                    },
                },
            }));
        }

        using var scim = ClientFor(factory, tenant);
        var schema = await ScimAsync(await scim.GetAsync($"{tenant.Api}/scim/v2/Schemas/{Profile}"), 200);
        var attributes = schema["attributes"]!.AsArray().Select(a => a!.AsObject()).ToList();
        Assert.Equal(["team", "floor", "skills"], attributes.Select(a => a["name"]!.GetValue<string>()));
        Assert.Equal(["string", "integer", "string"], attributes.Select(a => a["type"]!.GetValue<string>()));
        Assert.Equal([false, false, true], attributes.Select(a => a["multiValued"]!.GetValue<bool>()));
        Assert.Equal("Team", attributes[0]["description"]!.GetValue<string>());
        Assert.Equal(["red", "blue"], attributes[0]["canonicalValues"]!.AsArray().Select(v => v!.GetValue<string>()));
        var listed = await ScimAsync(await scim.GetAsync($"{tenant.Api}/scim/v2/Schemas"), 200);
        Assert.Equal(3, listed["Resources"]!.AsArray().Single(s => s!["id"]!.GetValue<string>() == Profile)!["attributes"]!.AsArray().Count);

        // Another tenant's key, a key without the admin scopes, and no key at all see the extension without them.
        using var foreign = ClientFor(factory, other);
        Assert.Empty((await ScimAsync(await foreign.GetAsync($"{tenant.Api}/scim/v2/Schemas/{Profile}"), 200))["attributes"]!.AsArray());
        using var narrow = factory.CreateClient();
        using (var admin = factory.ClientFor(tenant))
        {
            var key = (await ApiAssert.OkAsync(await admin.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "narrow", scopes = new[] { "admin:users" } }), 201))["data"]!["key"]!;
            narrow.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.GetValue<string>());
        }

        Assert.Empty((await ScimAsync(await narrow.GetAsync($"{tenant.Api}/scim/v2/Schemas/{Profile}"), 200))["attributes"]!.AsArray());
        using var nobody = factory.CreateClient();
        nobody.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "lmk_not-a-key");
        Assert.Empty((await ScimAsync(await nobody.GetAsync($"{tenant.Api}/scim/v2/Schemas/{Profile}"), 200))["attributes"]!.AsArray());
    }

    [Fact]
    public async Task AValueKeptBeforeADeclarationGrewStricter_DoesNotBlockOtherChanges_AndMeCannotChangeThem()
    {
        var tenant = await factory.CreateTenantAsync();
        const string password = "my own password 1";
        var email = $"me-{Guid.NewGuid():N}@example.com";
        var id = (await factory.CreateUserAsync(tenant, email, password, "Me Myself")).ToString();
        using var admin = factory.ClientFor(tenant);
        object Declare(int max) => new { userProfile = new { attributes = new object[] { new { name = "floor", label = "Floor", type = "integer", min = 1, max } } } };
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", Declare(99)));
        await ApiAssert.OkAsync(await admin.PutAsJsonAsync($"{tenant.Api}/admin/users/{id}/attributes", new { floor = 50 }));
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", Declare(10)));

        using var scim = ClientFor(factory, tenant);
        var user = await ScimAsync(await scim.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}",
            Patch(new JsonObject { ["op"] = "replace", ["path"] = "title", ["value"] = "Lead" })), 200);
        Assert.Equal(50, user[Profile]!["floor"]!.GetValue<long>());
        user.Remove("meta");
        await ScimAsync(await scim.PutAsync($"{tenant.Api}/scim/v2/Users/{id}", new StringContent(user.ToJsonString(), Encoding.UTF8, "application/scim+json")), 200);

        using var me = factory.CreateClient();
        me.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{email}:{password}")));
        var refused = await ScimAsync(await me.PatchAsync($"{tenant.Api}/scim/v2/Me",
            Patch(new JsonObject { ["op"] = "replace", ["path"] = $"{Profile}:floor", ["value"] = 5 })), 400);
        Assert.Equal("mutability", refused["scimType"]!.GetValue<string>());
    }
}
