using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

using static LumoAuth.Admin.Tests.ScimHttp;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// What a SCIM answer shows is what is kept, and /Schemas says so: attribute selection reaches sub-attributes of
/// multi-valued attributes, filters compare as the schema declares, and the one address and phone number a user keeps
/// take the PATCH forms identity providers send for them.
/// </summary>
public sealed class ScimRepresentationTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private const string PasswordSchema = "urn:ietf:params:scim:schemas:extension:lumoauth:1.0:Password";

    private HttpClient Scim(TestTenant tenant) => ClientFor(factory, tenant);

    private static StringContent Patch(params object[] operations) => Json(new { schemas = new[] { PatchOp }, Operations = operations });

    private static async Task ScimErrorAsync(HttpResponseMessage response, int status, string scimType)
    {
        var error = await ScimAsync(response, status);
        Assert.Equal("urn:ietf:params:scim:api:messages:2.0:Error", error["schemas"]![0]!.GetValue<string>());
        Assert.Equal(scimType, error["scimType"]!.GetValue<string>());
    }

    private static async Task<string> CreateAsync(HttpClient client, TestTenant tenant, string type, object body) =>
        (await ScimAsync(await client.PostAsync($"{tenant.Api}/scim/v2/{type}", Json(body)), 201))["id"]!.GetValue<string>();

    [Fact]
    public async Task AttributeSelection_ReachesSubAttributesOfMultiValuedAttributes()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var user = await CreateAsync(client, tenant, "Users", new { schemas = new[] { UserSchema }, userName = "sub@example.com" });
        var group = await CreateAsync(client, tenant, "Groups", new { schemas = new[] { GroupSchema }, displayName = "Subs", members = new[] { new { value = user } } });

        var values = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{user}?attributes=emails.value"), 200);
        Assert.Equal(["schemas", "id", "emails"], values.Select(p => p.Key));
        Assert.Equal("""[{"value":"sub@example.com"}]""", values["emails"]!.ToJsonString());
        var pairs = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{user}?attributes=emails.value,emails.primary"), 200);
        Assert.Equal("""[{"value":"sub@example.com","primary":true}]""", pairs["emails"]!.ToJsonString());
        // A sub-attribute no value has leaves the attribute out.
        Assert.Null((await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{user}?attributes=emails.display"), 200))["emails"]);

        var members = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Groups/{group}?attributes=members.value"), 200);
        Assert.Equal($$"""[{"value":"{{user}}"}]""", members["members"]!.ToJsonString());
        var excluded = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{user}?excludedAttributes=emails.primary"), 200);
        Assert.Equal("""[{"value":"sub@example.com"}]""", excluded["emails"]!.ToJsonString());
        var listed = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Groups?attributes=members.display"), 200);
        Assert.Equal("""[{"display":"sub@example.com"}]""", listed["Resources"]![0]!["members"]!.ToJsonString());
    }

    [Fact]
    public async Task Filters_ComparePresenceOfName_AndExternalIdCaseExactly_InEveryShape()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        await CreateAsync(client, tenant, "Users", new { schemas = new[] { UserSchema }, userName = "x@example.com", externalId = "AbC", name = new { givenName = "X" } });
        await CreateAsync(client, tenant, "Users", new { schemas = new[] { UserSchema }, userName = "nameless@example.com" });

        async Task<int> CountAsync(string filter) =>
            (await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter={Uri.EscapeDataString(filter)}"), 200))["totalResults"]!.GetValue<int>();

        Assert.Equal(0, await CountAsync("externalId eq \"abc\""));
        Assert.Equal(0, await CountAsync("externalId eq \"abc\" and active eq true"));
        Assert.Equal(1, await CountAsync("externalId eq \"AbC\" and active eq true"));
        async Task<List<string>> UserNamesAsync(string filter) =>
            (await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users?filter={Uri.EscapeDataString(filter)}"), 200))["Resources"]!.AsArray()
                .Select(r => r!["userName"]!.GetValue<string>()).ToList();

        var named = await UserNamesAsync("name pr");
        Assert.Contains("x@example.com", named);
        Assert.DoesNotContain("nameless@example.com", named);
        var unnamed = await UserNamesAsync("not (name pr)");
        Assert.Contains("nameless@example.com", unnamed);
        Assert.DoesNotContain("x@example.com", unnamed);
    }

    [Fact]
    public async Task Schemas_SayWhatIsKept()
    {
        var tenant = await factory.CreateTenantAsync();
        using var anonymous = factory.CreateClient();
        var user = await ScimAsync(await anonymous.GetAsync($"{tenant.Api}/scim/v2/Schemas/{UserSchema}"), 200);
        JsonObject Attribute(string name) => user["attributes"]!.AsArray().Single(a => a!["name"]!.GetValue<string>() == name)!.AsObject();

        Assert.Equal("readOnly", Attribute("groups")["mutability"]!.GetValue<string>());
        Assert.Equal(["formatted", "familyName", "givenName"], Attribute("name")["subAttributes"]!.AsArray().Select(a => a!["name"]!.GetValue<string>()));
        foreach (var kept in new[] { "emails", "phoneNumbers" })
        {
            Assert.Contains("One ", Attribute(kept)["description"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal("never", Attribute(kept)["subAttributes"]!.AsArray().Single(a => a!["name"]!.GetValue<string>() == "type")!["returned"]!.GetValue<string>());
        }

        var enterprise = await ScimAsync(await anonymous.GetAsync($"{tenant.Api}/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"), 200);
        var manager = enterprise["attributes"]!.AsArray().Single(a => a!["name"]!.GetValue<string>() == "manager")!;
        Assert.Equal(["value"], manager["subAttributes"]!.AsArray().Select(a => a!["name"]!.GetValue<string>()));

        // The Password extension's passwordChangedAt is returned once there is a password.
        using var client = Scim(tenant);
        var id = await CreateAsync(client, tenant, "Users", new { schemas = new[] { UserSchema }, userName = "pw@example.com", password = "a long enough password 7" });
        var read = await ScimAsync(await client.GetAsync($"{tenant.Api}/scim/v2/Users/{id}"), 200);
        Assert.NotNull(read[PasswordSchema]!["passwordChangedAt"]);
        Assert.Contains(PasswordSchema, read["schemas"]!.AsArray().Select(s => s!.GetValue<string>()));
        // Read-only, as the schema says: a PATCH of it or of groups is refused.
        await ScimErrorAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Patch(new { op = "replace", path = PasswordSchema + ":passwordChangedAt", value = "2020-01-01T00:00:00Z" })), 400, "mutability");
        await ScimErrorAsync(await client.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Patch(new { op = "add", path = "groups", value = new[] { new { value = Guid.NewGuid() } } })), 400, "mutability");
    }

    [Fact]
    public async Task TheKeptPhoneAndAddress_TakeTypeFilteredPatches_AndAnAddedPrimary()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var id = await CreateAsync(client, tenant, "Users", new
        {
            schemas = new[] { UserSchema }, userName = "m@example.com", phoneNumbers = new[] { new { type = "mobile", value = "+1 555 0100" } },
        });
        var url = $"{tenant.Api}/scim/v2/Users/{id}";
        var created = await ScimAsync(await client.GetAsync(url), 200);
        // No type is kept, so none is made up.
        var phone = Assert.Single(created["phoneNumbers"]!.AsArray())!.AsObject();
        Assert.Equal(["value", "primary"], phone.Select(p => p.Key));
        Assert.Equal("+1 555 0100", phone["value"]!.GetValue<string>());

        // Entra ID's mapping of "mobile": applied to the one number kept, whichever type it names.
        var added = await ScimAsync(await client.PatchAsync(url, Patch(new { op = "Add", path = "phoneNumbers[type eq \"mobile\"].value", value = "+1 555 0199" })), 200);
        Assert.Equal("+1 555 0199", added["phoneNumbers"]![0]!["value"]!.GetValue<string>());
        var replaced = await ScimAsync(await client.PatchAsync(url, Patch(new { op = "Replace", path = "phoneNumbers[type eq \"work\"].value", value = "+1 555 0142" })), 200);
        Assert.Equal("+1 555 0142", Assert.Single(replaced["phoneNumbers"]!.AsArray())!["value"]!.GetValue<string>());
        var email = await ScimAsync(await client.PatchAsync(url, Patch(new { op = "replace", path = "emails[type eq \"home\"].value", value = "m2@example.com" })), 200);
        Assert.Equal("m2@example.com", email["emails"]![0]!["value"]!.GetValue<string>());
        // A filter on the value itself still has to match it.
        await ScimErrorAsync(await client.PatchAsync(url, Patch(new { op = "replace", path = "emails[value eq \"other@example.com\"].value", value = "m3@example.com" })), 400, "noTarget");

        // An address added as primary is the one kept (RFC 7644 §3.5.2: the others stop being primary).
        var primary = await ScimAsync(await client.PatchAsync(url, Patch(new { op = "add", path = "emails", value = new[] { new { value = "p2@example.com", type = "work", primary = true } } })), 200);
        Assert.Equal("""[{"value":"p2@example.com","primary":true}]""", primary["emails"]!.ToJsonString());
        var pathless = await ScimAsync(await client.PatchAsync(url, Patch(new { op = "add", value = new { emails = new[] { new { value = "p3@example.com", primary = true } } } })), 200);
        Assert.Equal("p3@example.com", pathless["emails"]![0]!["value"]!.GetValue<string>());
    }

    [Fact]
    public async Task NameFormatted_IsTheDisplayName_APatchOfItAloneChangesIt()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = Scim(tenant);
        var id = await CreateAsync(client, tenant, "Users", new { schemas = new[] { UserSchema }, userName = "f@example.com", displayName = "Before" });
        var url = $"{tenant.Api}/scim/v2/Users/{id}";
        var patched = await ScimAsync(await client.PatchAsync(url, Patch(new { op = "replace", path = "name.formatted", value = "After" })), 200);
        Assert.Equal("After", patched["displayName"]!.GetValue<string>());
        Assert.Equal("After", patched["name"]!["formatted"]!.GetValue<string>());
        // Both at once: displayName is the one written.
        var both = await ScimAsync(await client.PatchAsync(url, Patch(
            new { op = "replace", path = "name.formatted", value = "Formatted" }, new { op = "replace", path = "displayName", value = "Display" })), 200);
        Assert.Equal("Display", both["name"]!["formatted"]!.GetValue<string>());
    }
}
