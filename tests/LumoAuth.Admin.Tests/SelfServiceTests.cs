using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.Testing;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// The internal calls behind the token service's account pages, tenant-scoped: the password change (current password
/// first, counted like sign-ins) and the user's own names.
/// </summary>
public sealed class SelfServiceTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    private const string Password = "correct horse battery 1";

    [Fact]
    public async Task OwnProfile_ChangesOnlyTheNames_OfTheUserInTheirTenant()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        var userId = await factory.CreateUserAsync(tenant, $"names@{tenant.Slug}.example.com", Password, "Old Name");
        using var client = factory.Internal();

        await ApiAssert.ErrorAsync(await client.PatchAsJsonAsync(SelfProfileUpdate.Route(userId, other.Id), new SelfProfileUpdate("X", null, null)), 404, "resource_not_found");
        await ApiAssert.ErrorAsync(await client.PatchAsJsonAsync(SelfProfileUpdate.Route(userId, tenant.Id), new { name = new[] { 1 } }), 400, "invalid_request");
        await ApiAssert.OkAsync(await client.PatchAsJsonAsync(SelfProfileUpdate.Route(userId, tenant.Id), new SelfProfileUpdate("New Name", "New", null)));

        using var admin = factory.ClientFor(tenant);
        var user = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}")))["data"]!;
        Assert.Equal("New Name", user["name"]!.GetValue<string>());
        Assert.Equal("New", user["givenName"]!.GetValue<string>());
        Assert.Equal($"names@{tenant.Slug}.example.com", user["email"]!.GetValue<string>());
    }

    [Fact]
    public async Task OwnAttributes_AreCheckedAgainstTheirDeclaredTypes_AndKeptTyped()
    {
        var tenant = await factory.CreateTenantAsync();
        var userId = await factory.CreateUserAsync(tenant, $"typed@{tenant.Slug}.example.com", Password);
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new
        {
            userProfile = new
            {
                attributes = new object[]
                {
                    new { name = "age", label = "Age", type = "integer", min = 18, max = 130 },
                    new { name = "born", label = "Born", type = "date" },
                    new { name = "site", label = "Site", type = "url" },
                    new { name = "team", label = "Team", type = "choice", options = new[] { new { value = "red", label = "Red" }, new { value = "blue", label = "Blue" } } },
                    new { name = "badge", label = "Badge", pattern = "[A-Z]{2}-[0-9]{4}", patternMessage = "looks like AB-1234" },
                },
            },
        }));
        using var client = factory.Internal();

        async Task<string> RefusedAsync(string name, string value)
        {
            var refused = await ApiAssert.ErrorAsync(await client.PatchAsJsonAsync(SelfProfileUpdate.Route(userId, tenant.Id),
                new SelfProfileUpdate(null, null, null) { Attributes = new Dictionary<string, string> { [name] = value } }), 400, "validation_error");
            return refused["details"]![$"attributes.{name}"]![0]!.GetValue<string>();
        }

        Assert.Equal("must be a whole number", await RefusedAsync("age", "forty"));
        Assert.Equal("must be at least 18", await RefusedAsync("age", "17"));
        Assert.Equal("must be at most 130", await RefusedAsync("age", "131"));
        Assert.Equal("must be a date (YYYY-MM-DD)", await RefusedAsync("born", "1990-02-30"));
        Assert.Equal("must be an http or https address", await RefusedAsync("site", "javascript:alert(1)"));
        Assert.Equal("must be one of the attribute's options", await RefusedAsync("team", "Red"));
        Assert.Equal("looks like AB-1234", await RefusedAsync("badge", "XAB-1234"));

        await ApiAssert.OkAsync(await client.PatchAsJsonAsync(SelfProfileUpdate.Route(userId, tenant.Id), new SelfProfileUpdate(null, null, null)
        {
            Attributes = new Dictionary<string, string> { ["age"] = " 42 ", ["born"] = "1990-12-31", ["site"] = "https://example.com/me", ["team"] = "blue", ["badge"] = "AB-1234" },
        }));
        var attributes = (await ApiAssert.OkAsync(await admin.GetAsync($"{tenant.Api}/admin/users/{userId}/attributes")))["data"]!["attributes"]!;
        Assert.Equal(42, attributes["age"]!.GetValue<long>());
        Assert.Equal("1990-12-31", attributes["born"]!.GetValue<string>());
        Assert.Equal("blue", attributes["team"]!.GetValue<string>());
        Assert.Equal("AB-1234", attributes["badge"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnAdministratorsAttributes_AreHeldToTheDeclarations_NotToRequired_AndUndeclaredKeysStayFree()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        var userId = await factory.CreateUserAsync(tenant, $"held@{tenant.Slug}.example.com", Password);
        var otherUserId = await factory.CreateUserAsync(other, $"free@{other.Slug}.example.com", Password);
        using var admin = factory.ClientFor(tenant);
        await ApiAssert.OkAsync(await admin.PatchAsJsonAsync($"{tenant.Api}/admin/settings", new
        {
            userProfile = new
            {
                attributes = new object[]
                {
                    new { name = "age", label = "Age", type = "integer", min = 18, max = 130, required = true },
                    new { name = "team", label = "Team", type = "choice", options = new[] { new { value = "red", label = "Red" } } },
                    new { name = "badge", label = "Badge", pattern = "[A-Z]{2}-[0-9]{4}", patternMessage = "looks like AB-1234" },
                    new { name = "tags", label = "Tags", multiValued = true, maxValues = 2 },
                },
            },
        }));
        var route = $"{tenant.Api}/admin/users/{userId}/attributes";

        async Task<string> RefusedAsync(string name, object value)
        {
            var refused = await ApiAssert.ErrorAsync(await admin.PutAsJsonAsync(route, new Dictionary<string, object> { [name] = value, ["note"] = "kept?" }), 400, "validation_error");
            return refused["details"]![$"attributes.{name}"]![0]!.GetValue<string>();
        }

        Assert.Equal("must be at least 18", await RefusedAsync("age", 17));
        Assert.Equal("must be a whole number", await RefusedAsync("age", 42.5));
        Assert.Equal("must be a whole number", await RefusedAsync("age", new { years = 42 }));
        Assert.Equal("must be one of the attribute's options", await RefusedAsync("team", "blue"));
        Assert.Equal("must be a string", await RefusedAsync("team", true));
        Assert.Equal("looks like AB-1234", await RefusedAsync("badge", "ab-1234"));
        Assert.Equal("must have at most 2 values", await RefusedAsync("tags", new[] { "a", "b", "c" }));
        Assert.Equal("must be a list of strings without line breaks", await RefusedAsync("tags", new object[] { "a", 1 }));
        Assert.Equal("must be a list of strings without line breaks", await RefusedAsync("tags", new[] { "a\nb" }));
        Assert.Equal("must be a string", await RefusedAsync("badge", new[] { "AB-1234" }));
        // Nothing of a refused body was kept.
        Assert.Null((await ApiAssert.OkAsync(await admin.GetAsync(route)))["data"]!["attributes"]!["note"]);

        // Kept in the form the person's pages keep (a whole number as a number, trimmed text); the required age may be
        // left out (the person is asked for it at the next sign-in), and undeclared keys are the administrator's own.
        var kept = (await ApiAssert.OkAsync(await admin.PutAsJsonAsync(route, new { age = " 42 ", team = "red", badge = "AB-1234 ", risk = new { grade = "low" } })))["data"]!["attributes"]!;
        Assert.Equal(42, kept["age"]!.GetValue<long>());
        Assert.Equal("AB-1234", kept["badge"]!.GetValue<string>());
        Assert.Equal("low", kept["risk"]!["grade"]!.GetValue<string>());
        var tags = (await ApiAssert.OkAsync(await admin.PutAsJsonAsync(route, new { tags = new[] { "x", " y ", "x" } })))["data"]!["attributes"]!["tags"]!;
        Assert.Equal(["x", "y"], tags.AsArray().Select(t => t!.GetValue<string>()));
        var single = (await ApiAssert.OkAsync(await admin.PutAsJsonAsync(route, new { tags = "solo" })))["data"]!["attributes"]!["tags"]!;
        Assert.Equal(["solo"], single.AsArray().Select(t => t!.GetValue<string>()));
        var withoutAge = (await ApiAssert.OkAsync(await admin.PutAsJsonAsync(route, new { team = "red", badge = "" })))["data"]!["attributes"]!.AsObject();
        Assert.Equal(["team"], withoutAge.Select(p => p.Key));

        // Another tenant's declarations are not this one's.
        using var otherAdmin = factory.ClientFor(other);
        await ApiAssert.OkAsync(await otherAdmin.PutAsJsonAsync($"{other.Api}/admin/users/{otherUserId}/attributes", new { age = "forty", team = "blue" }));
    }

    [Fact]
    public async Task WrongCurrentPasswords_CountTowardsTheLockout_AndALockedAccountCannotChangeIt()
    {
        var tenant = await factory.CreateTenantAsync();
        var userId = await factory.CreateUserAsync(tenant, $"change@{tenant.Slug}.example.com", Password);
        using var client = factory.Internal();

        for (var attempt = 0; attempt < 5; attempt++)
        {
            var refused = await ApiAssert.ErrorAsync(
                await client.PostAsJsonAsync(ChangePasswordRequest.Route(userId, tenant.Id), new ChangePasswordRequest("wrong password 1", "new password 12345")), 400, "validation_error");
            Assert.NotNull(refused["details"]!["currentPassword"]);
        }

        var locked = await ApiAssert.ErrorAsync(
            await client.PostAsJsonAsync(ChangePasswordRequest.Route(userId, tenant.Id), new ChangePasswordRequest(Password, "new password 12345")), 400, "validation_error");
        Assert.Contains("locked", locked["details"]!["currentPassword"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChangedPassword_SignsIn_AndTheNewOneMeetsThePolicy_OnlyInTheUsersTenant()
    {
        var tenant = await factory.CreateTenantAsync();
        var other = await factory.CreateTenantAsync();
        var address = $"mover@{tenant.Slug}.example.com";
        var userId = await factory.CreateUserAsync(tenant, address, Password);
        using var client = factory.Internal();

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(ChangePasswordRequest.Route(userId, other.Id), new ChangePasswordRequest(Password, "new password 12345")), 404, "resource_not_found");
        var weak = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(ChangePasswordRequest.Route(userId, tenant.Id), new ChangePasswordRequest(Password, "x")), 400, "validation_error");
        Assert.NotNull(weak["details"]!["password"]);
        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync(ChangePasswordRequest.Route(userId, tenant.Id), new { currentPassword = 12 }), 400, "invalid_request");

        await ApiAssert.OkAsync(await client.PostAsJsonAsync(ChangePasswordRequest.Route(userId, tenant.Id), new ChangePasswordRequest(Password, "new password 12345")));

        using var login = await client.PostAsJsonAsync(InternalRoutes.Authenticate, new AuthenticateRequest(tenant.Id, address, "new password 12345", null, null));
        Assert.Equal(AuthenticationOutcomes.Success, (await login.Content.ReadFromJsonAsync<AuthenticateResponse>())!.Outcome);
    }
}
