using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using LumoAuth.Testing;

using static LumoAuth.Admin.Tests.ScimHttp;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// What a user may change about themselves through SCIM <c>/Me</c>: their names, phone, address and password, but not what
/// the provisioning client owns and identity providers match on (<c>externalId</c>, <c>active</c>, the enterprise extension).
/// An administrator's or a provisioning client's credential still changes those through <c>/Users/{id}</c>.
/// </summary>
public sealed class ScimMeTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private const string Password = "my own password 1";

    private static readonly string[] EnterpriseFields = ["employeeNumber", "costCenter", "organization", "division", "department"];

    private sealed record Setup(TestTenant Tenant, string Id, string Email, HttpClient Admin, HttpClient Me) : IDisposable
    {
        public void Dispose()
        {
            Admin.Dispose();
            Me.Dispose();
        }
    }

    /// <summary>A user with a password, given an externalId, a manager and the enterprise fields by the tenant's provisioning key.</summary>
    private async Task<Setup> SetUpAsync(TestTenant? tenant = null)
    {
        tenant ??= await factory.CreateTenantAsync();
        var email = $"me-{Guid.NewGuid():N}@example.com";
        var id = (await factory.CreateUserAsync(tenant, email, Password, "Me Myself")).ToString();
        var admin = ClientFor(factory, tenant);
        var enterprise = new JsonObject { ["manager"] = new JsonObject { ["value"] = "boss-1" } };
        foreach (var field in EnterpriseFields)
        {
            enterprise[field] = field + "-1";
        }

        await ScimAsync(await admin.PatchAsync($"{tenant.Api}/scim/v2/Users/{id}", Patch(
            new JsonObject { ["op"] = "add", ["path"] = "externalId", ["value"] = "ext-" + id },
            new JsonObject { ["op"] = "add", ["value"] = new JsonObject { [Enterprise] = enterprise } })), 200);

        var me = factory.CreateClient();
        me.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{email}:{Password}")));
        return new Setup(tenant, id, email, admin, me);
    }

    private static StringContent Patch(params JsonObject[] operations) => PatchOf(operations);

    private static async Task MutabilityErrorAsync(HttpResponseMessage response)
    {
        var error = await ScimAsync(response, 400);
        Assert.Equal("urn:ietf:params:scim:api:messages:2.0:Error", error["schemas"]![0]!.GetValue<string>());
        Assert.Equal("mutability", error["scimType"]!.GetValue<string>());
    }

    /// <summary>The provisioned attributes as the set-up left them, read with the provisioning key.</summary>
    private static async Task AssertProvisionedUnchangedAsync(Setup setup)
    {
        var user = await ScimAsync(await setup.Admin.GetAsync($"{setup.Tenant.Api}/scim/v2/Users/{setup.Id}"), 200);
        Assert.Equal("ext-" + setup.Id, user["externalId"]!.GetValue<string>());
        Assert.True(user["active"]!.GetValue<bool>());
        Assert.Equal("boss-1", user[Enterprise]!["manager"]!["value"]!.GetValue<string>());
        foreach (var field in EnterpriseFields)
        {
            Assert.Equal(field + "-1", user[Enterprise]![field]!.GetValue<string>());
        }

        Assert.Equal("Me Myself", user["displayName"]!.GetValue<string>());
    }

    /// <summary>Each provisioned attribute, as a PATCH path and the value a user might try to give it.</summary>
    public static TheoryData<string, string> ProvisionedChanges() => new()
    {
        { "externalId", "\"someone-elses-object-id\"" },
        { "active", "false" },
        { "active", "\"False\"" },
        { Enterprise + ":manager", "{\"value\":\"my-friend\"}" },
        { Enterprise + ":manager", "\"my-friend\"" },
        { Enterprise + ":employeeNumber", "\"0001\"" },
        { Enterprise + ":costCenter", "\"cc-2\"" },
        { Enterprise + ":organization", "\"Other Org\"" },
        { Enterprise + ":division", "\"Other Division\"" },
        { Enterprise + ":department", "\"Finance\"" },
    };

    [Theory]
    [MemberData(nameof(ProvisionedChanges))]
    public async Task Me_PatchWithPath_OfAProvisionedAttribute_IsMutabilityError(string path, string value)
    {
        using var setup = await SetUpAsync();

        foreach (var op in new[] { "replace", "add" })
        {
            await MutabilityErrorAsync(await setup.Me.PatchAsync($"{setup.Tenant.Api}/scim/v2/Me", Patch(
                new JsonObject { ["op"] = op, ["path"] = path, ["value"] = JsonNode.Parse(value) })));
        }

        await AssertProvisionedUnchangedAsync(setup);
    }

    /// <summary>(Removing <c>active</c> stores true, which a user able to sign in already is: no change.)</summary>
    [Theory]
    [InlineData("externalId")]
    [InlineData(Enterprise + ":manager")]
    [InlineData(Enterprise + ":department")]
    public async Task Me_PatchRemovingAProvisionedAttribute_IsMutabilityError(string path)
    {
        using var setup = await SetUpAsync();

        await MutabilityErrorAsync(await setup.Me.PatchAsync($"{setup.Tenant.Api}/scim/v2/Me", Patch(new JsonObject { ["op"] = "remove", ["path"] = path })));
        await AssertProvisionedUnchangedAsync(setup);
    }

    public static TheoryData<string> ProvisionedValueObjects() => new()
    {
        "{\"externalId\":\"someone-elses-object-id\"}",
        "{\"ExternalID\":\"someone-elses-object-id\"}",
        "{\"active\":false}",
        "{\"" + Enterprise + "\":{\"manager\":{\"value\":\"my-friend\"}}}",
        "{\"" + Enterprise + "\":{\"employeeNumber\":\"0001\"}}",
        "{\"" + Enterprise + "\":{\"organization\":\"Other Org\"}}",
        "{\"" + Enterprise + "\":{\"department\":\"Finance\"}}",
        "{\"" + Enterprise + ":department\":\"Finance\"}",
        // A harmless change beside the refused one is refused with it: a PATCH is applied whole or not at all.
        "{\"displayName\":\"Not Stored\",\"externalId\":\"someone-elses-object-id\"}",
    };

    [Theory]
    [MemberData(nameof(ProvisionedValueObjects))]
    public async Task Me_PatchWithoutPath_OfAProvisionedAttribute_IsMutabilityError(string value)
    {
        using var setup = await SetUpAsync();

        foreach (var op in new[] { "replace", "add" })
        {
            await MutabilityErrorAsync(await setup.Me.PatchAsync($"{setup.Tenant.Api}/scim2.0/Me", Patch(
                new JsonObject { ["op"] = op, ["value"] = JsonNode.Parse(value) })));
        }

        await AssertProvisionedUnchangedAsync(setup);
    }

    /// <summary>
    /// There is no PUT of /Me, and a user's own credentials do not reach the administrators' PUT (or PATCH) of their own
    /// resource either, so a replace cannot carry the provisioned attributes past the /Me checks.
    /// </summary>
    [Fact]
    public async Task Me_Put_IsNoWayAround_TheProvisionedAttributes()
    {
        using var setup = await SetUpAsync();
        var replacement = new JsonObject
        {
            ["schemas"] = new JsonArray(UserSchema, Enterprise), ["userName"] = setup.Email, ["externalId"] = "someone-elses-object-id",
            ["active"] = true, [Enterprise] = new JsonObject { ["department"] = "Finance" },
        }.ToJsonString();

        foreach (var scimBase in new[] { "scim/v2", "scim2.0" })
        {
            using var put = await setup.Me.PutAsync($"{setup.Tenant.Api}/{scimBase}/Me", new StringContent(replacement, Encoding.UTF8, "application/scim+json"));
            Assert.Equal(405, (int)put.StatusCode);
            await ScimAsync(await setup.Me.PutAsync($"{setup.Tenant.Api}/{scimBase}/Users/{setup.Id}", new StringContent(replacement, Encoding.UTF8, "application/scim+json")), 403);
            await ScimAsync(await setup.Me.PatchAsync($"{setup.Tenant.Api}/{scimBase}/Users/{setup.Id}", Patch(
                new JsonObject { ["op"] = "replace", ["path"] = "externalId", ["value"] = "someone-elses-object-id" })), 403);
        }

        await AssertProvisionedUnchangedAsync(setup);
    }

    /// <summary>The review's scenario: a user cannot take another user's externalId, which an identity provider would look them up by.</summary>
    [Fact]
    public async Task Me_TakingAnotherUsersExternalId_IsMutabilityError_AndTheLookupStillFindsThem()
    {
        using var victim = await SetUpAsync();
        using var attacker = await SetUpAsync(victim.Tenant);

        await MutabilityErrorAsync(await attacker.Me.PatchAsync($"{attacker.Tenant.Api}/scim/v2/Me", Patch(
            new JsonObject { ["op"] = "replace", ["path"] = "externalId", ["value"] = "ext-" + victim.Id })));

        var found = await ScimAsync(await victim.Admin.GetAsync(
            $"{victim.Tenant.Api}/scim/v2/Users?filter=" + Uri.EscapeDataString($"externalId eq \"ext-{victim.Id}\"")), 200);
        Assert.Equal(1, found["totalResults"]!.GetValue<int>());
        Assert.Equal(victim.Id, found["Resources"]![0]!["id"]!.GetValue<string>());
    }

    /// <summary>The rest stays the user's own, and sending a provisioned attribute back unchanged (as it was read) is no change.</summary>
    [Fact]
    public async Task Me_Patch_ChangesTheUsersOwnFields_AndTakesProvisionedValuesSentBackUnchanged()
    {
        using var setup = await SetUpAsync();
        var read = await ScimAsync(await setup.Me.GetAsync($"{setup.Tenant.Api}/scim/v2/Me"), 200);

        var patched = await ScimAsync(await setup.Me.PatchAsync($"{setup.Tenant.Api}/scim/v2/Me", Patch(
            new JsonObject { ["op"] = "replace", ["path"] = "displayName", ["value"] = "Just Me" },
            new JsonObject { ["op"] = "replace", ["path"] = "name.givenName", ["value"] = "Justine" },
            new JsonObject { ["op"] = "replace", ["path"] = "title", ["value"] = "Guide" },
            new JsonObject { ["op"] = "add", ["path"] = "phoneNumbers", ["value"] = new JsonArray(new JsonObject { ["value"] = "+1 555 0123", ["primary"] = true }) },
            new JsonObject { ["op"] = "replace", ["path"] = "externalId", ["value"] = "ext-" + setup.Id },
            new JsonObject { ["op"] = "replace", ["path"] = "active", ["value"] = "True" },
            new JsonObject { ["op"] = "replace", ["path"] = Enterprise + ":manager", ["value"] = "boss-1" },
            new JsonObject { ["op"] = "replace", ["value"] = new JsonObject { [Enterprise] = read[Enterprise]!.DeepClone() } })), 200);

        Assert.Equal("Just Me", patched["displayName"]!.GetValue<string>());
        Assert.Equal("Justine", patched["name"]!["givenName"]!.GetValue<string>());
        Assert.Equal("Guide", patched["title"]!.GetValue<string>());
        Assert.Equal("+1 555 0123", patched["phoneNumbers"]![0]!["value"]!.GetValue<string>());
        Assert.Equal("ext-" + setup.Id, patched["externalId"]!.GetValue<string>());
        Assert.True(patched["active"]!.GetValue<bool>());
        Assert.Equal("department-1", patched[Enterprise]!["department"]!.GetValue<string>());
        Assert.Equal("boss-1", patched[Enterprise]!["manager"]!["value"]!.GetValue<string>());
    }

    /// <summary>The provisioning key keeps changing them all, by PATCH with a path, PATCH without one, and PUT.</summary>
    [Fact]
    public async Task ProvisioningKey_StillChangesTheProvisionedAttributes()
    {
        using var setup = await SetUpAsync();
        var users = $"{setup.Tenant.Api}/scim/v2/Users/{setup.Id}";

        var withPath = await ScimAsync(await setup.Admin.PatchAsync(users, Patch(
            new JsonObject { ["op"] = "replace", ["path"] = "externalId", ["value"] = "ext-2" },
            new JsonObject { ["op"] = "replace", ["path"] = Enterprise + ":department", ["value"] = "Finance" },
            new JsonObject { ["op"] = "replace", ["path"] = Enterprise + ":manager", ["value"] = "boss-2" })), 200);
        Assert.Equal("ext-2", withPath["externalId"]!.GetValue<string>());
        Assert.Equal("Finance", withPath[Enterprise]!["department"]!.GetValue<string>());
        Assert.Equal("boss-2", withPath[Enterprise]!["manager"]!["value"]!.GetValue<string>());

        var withoutPath = await ScimAsync(await setup.Admin.PatchAsync(users, Patch(new JsonObject
        {
            ["op"] = "replace",
            ["value"] = new JsonObject { ["externalId"] = "ext-3", ["active"] = false, [Enterprise] = new JsonObject { ["organization"] = "Org 3" } },
        })), 200);
        Assert.Equal("ext-3", withoutPath["externalId"]!.GetValue<string>());
        Assert.False(withoutPath["active"]!.GetValue<bool>());
        Assert.Equal("Org 3", withoutPath[Enterprise]!["organization"]!.GetValue<string>());

        var replaced = await ScimAsync(await setup.Admin.PutAsync(users, new StringContent(new JsonObject
        {
            ["schemas"] = new JsonArray(UserSchema, Enterprise), ["userName"] = setup.Email, ["externalId"] = "ext-4", ["active"] = true,
            [Enterprise] = new JsonObject { ["employeeNumber"] = "4", ["manager"] = new JsonObject { ["value"] = "boss-4" } },
        }.ToJsonString(), Encoding.UTF8, "application/scim+json")), 200);
        Assert.Equal("ext-4", replaced["externalId"]!.GetValue<string>());
        Assert.True(replaced["active"]!.GetValue<bool>());
        Assert.Equal("4", replaced[Enterprise]!["employeeNumber"]!.GetValue<string>());
        Assert.Equal("boss-4", replaced[Enterprise]!["manager"]!["value"]!.GetValue<string>());
    }
}
