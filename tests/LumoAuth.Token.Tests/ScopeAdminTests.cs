using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>ADM-28…31: built-in OIDC and admin scopes, custom scopes per tenant, withdrawal from clients on delete.</summary>
public sealed class ScopeAdminTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    private static string Scopes(TestTenant tenant) => $"/t/{tenant.Slug}/api/v1/admin/scopes";

    private async Task<JsonElement> CreateScopeAsync(TestTenant tenant, object body)
    {
        using var admin = factory.AdminClient(tenant);
        using var response = await admin.PostAsJsonAsync(Scopes(tenant), body);
        return (await HttpAssert.JsonAsync(response, HttpStatusCode.Created)).GetProperty("data");
    }

    [Fact]
    public async Task ListScopes_NewTenant_HasTheBuiltInScopes()
    {
        var tenant = factory.AddTenant("scopes");
        using var admin = factory.AdminClient(tenant);

        using var response = await admin.GetAsync(Scopes(tenant) + "?limit=100");

        var data = (await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("data").EnumerateArray().ToList();
        var names = data.Select(s => s.GetProperty("name").GetString()).ToList();
        foreach (var expected in new[] { "openid", "profile", "email", "address", "phone", "offline_access", "admin.read", "admin.write" })
        {
            Assert.Contains(expected, names);
        }

        Assert.All(data, s =>
        {
            Assert.True(s.GetProperty("isSystem").GetBoolean());
            Assert.Equal(JsonValueKind.Number, s.GetProperty("id").ValueKind);
            Assert.False(string.IsNullOrEmpty(s.GetProperty("description").GetString()));
        });
    }

    [Fact]
    public async Task CreateScope_Valid_IsListedAndFetchable_OnlyInItsTenant()
    {
        var tenant = factory.AddTenant("scopes");
        var created = await CreateScopeAsync(tenant, new { name = "billing.manage", description = "Manage billing", isDefault = true });
        var id = created.GetProperty("id").GetInt32();
        using var admin = factory.AdminClient(tenant);
        using var other = factory.AdminClient(factory.Globex);

        using var fetched = await admin.GetAsync($"{Scopes(tenant)}/{id}");
        using var listed = await admin.GetAsync(Scopes(tenant));
        using var foreign = await other.GetAsync($"{Scopes(factory.Globex)}/{id}");
        using var foreignList = await other.GetAsync(Scopes(factory.Globex) + "?limit=100");

        Assert.False(created.GetProperty("isSystem").GetBoolean());
        Assert.True(created.GetProperty("isDefault").GetBoolean());
        Assert.True(id >= 1000);
        var one = (await HttpAssert.JsonAsync(fetched, HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal("billing.manage", one.GetProperty("name").GetString());
        Assert.Equal("Manage billing", one.GetProperty("description").GetString());
        Assert.Contains("billing.manage", await listed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        await HttpAssert.EnvelopeAsync(foreign, HttpStatusCode.NotFound, "resource_not_found");
        Assert.DoesNotContain("billing.manage", await foreignList.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateScope_SameNameInAnotherTenant_IsAllowed_ButNotTwiceInOne()
    {
        var first = factory.AddTenant("scopes");
        var second = factory.AddTenant("scopes");
        await CreateScopeAsync(first, new { name = "orders.read", description = "Read orders" });
        await CreateScopeAsync(second, new { name = "orders.read", description = "Read orders" });
        using var admin = factory.AdminClient(first);

        using var duplicate = await admin.PostAsJsonAsync(Scopes(first), new { name = "orders.read", description = "again" });
        using var builtIn = await admin.PostAsJsonAsync(Scopes(first), new { name = "openid", description = "mine" });

        await HttpAssert.EnvelopeAsync(duplicate, HttpStatusCode.Conflict, "duplicate_resource");
        await HttpAssert.EnvelopeAsync(builtIn, HttpStatusCode.Conflict, "duplicate_resource");
    }

    public static TheoryData<string, string> InvalidBodies => new()
    {
        { """{"description":"no name"}""", "name" },
        { """{"name":"has space","description":"x"}""", "name" },
        { """{"name":"quote\"d","description":"x"}""", "name" },
        { """{"name":"resource:https://api.example.com","description":"reserved for consent"}""", "name" },
        { """{"name":"admin:users","description":"See your name"}""", "name" },
        { """{"name":"zanzibar:tuples","description":"x"}""", "name" },
        { """{"name":"orders.read"}""", "description" },
        { """{"name":"orders.read","description":"   "}""", "description" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task CreateScope_InvalidBody_ReturnsValidationErrorForTheField(string body, string field)
    {
        using var admin = factory.AdminClient(factory.Acme);
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");

        using var response = await admin.PostAsync(Scopes(factory.Acme), content);

        var json = await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(json.GetProperty("details").TryGetProperty(field, out _), json.ToString());
    }

    [Fact]
    public async Task UpdateScope_Custom_ChangesDescriptionAndDefault_ButNotTheName()
    {
        var tenant = factory.AddTenant("scopes");
        var id = (await CreateScopeAsync(tenant, new { name = "reports.read", description = "Read reports" })).GetProperty("id").GetInt32();
        using var admin = factory.AdminClient(tenant);

        using var updated = await admin.PutAsJsonAsync($"{Scopes(tenant)}/{id}", new { description = "See every report", isDefault = true });
        using var renamed = await admin.PutAsJsonAsync($"{Scopes(tenant)}/{id}", new { name = "reports.write" });
        using var missing = await admin.PutAsJsonAsync($"{Scopes(tenant)}/999999", new { description = "x" });

        var data = (await HttpAssert.JsonAsync(updated, HttpStatusCode.OK)).GetProperty("data");
        Assert.Equal("See every report", data.GetProperty("description").GetString());
        Assert.True(data.GetProperty("isDefault").GetBoolean());
        await HttpAssert.EnvelopeAsync(renamed, HttpStatusCode.BadRequest, "validation_error");
        await HttpAssert.EnvelopeAsync(missing, HttpStatusCode.NotFound, "resource_not_found");
    }

    [Fact]
    public async Task UpdateScope_WhileItIsDeleted_AnswersItsOutcome_NeverA500()
    {
        var tenant = factory.AddTenant("scope-race");
        using var admin = factory.AdminClient(tenant);
        for (var round = 0; round < 8; round++)
        {
            var id = (await CreateScopeAsync(tenant, new { name = $"reports.r{round}", description = "Reports" })).GetProperty("id").GetInt32();

            var update = Task.Run(async () =>
            {
                using var r = await admin.PutAsJsonAsync($"{Scopes(tenant)}/{id}", new { description = "Changed", isDefault = true });
                return r.StatusCode;
            });
            var delete = Task.Run(async () => { using var r = await admin.DeleteAsync($"{Scopes(tenant)}/{id}"); return r.StatusCode; });

            Assert.Contains(await update, new[] { HttpStatusCode.OK, HttpStatusCode.NotFound, HttpStatusCode.Conflict });
            Assert.Contains(await delete, new[] { HttpStatusCode.NoContent, HttpStatusCode.Conflict });
        }
    }

    [Fact]
    public async Task UpdateOrDeleteScope_BuiltIn_Returns403()
    {
        using var admin = factory.AdminClient(factory.Acme);

        using var updated = await admin.PutAsJsonAsync($"{Scopes(factory.Acme)}/1", new { description = "mine now" });
        using var deleted = await admin.DeleteAsync($"{Scopes(factory.Acme)}/1");

        await HttpAssert.EnvelopeAsync(updated, HttpStatusCode.Forbidden, "permission_denied");
        await HttpAssert.EnvelopeAsync(deleted, HttpStatusCode.Forbidden, "permission_denied");
    }

    /// <summary>Also for names that JSON escapes by default (a "+", an "&amp;", a "'"), which OpenIddict stores unescaped.</summary>
    [Theory]
    [InlineData("ledger.write")]
    [InlineData("ledger+write")]
    [InlineData("ledger&it's")]
    public async Task DeleteScope_WithdrawsItFromEveryClient_AndTokenRequestsForItFail(string name)
    {
        var tenant = factory.AddTenant("scopes");
        var id = (await CreateScopeAsync(tenant, new { name, description = "Write the ledger" })).GetProperty("id").GetInt32();
        var client = await factory.CreateOAuthClientAsync(tenant, new { name = "svc", allowedScopes = new[] { name, "ledger.read" } });
        await factory.AccessTokenAsync(tenant, client, name);
        using var admin = factory.AdminClient(tenant);
        using var foreign = factory.AdminClient(factory.Globex);

        using var foreignDelete = await foreign.DeleteAsync($"{Scopes(factory.Globex)}/{id}");
        await HttpAssert.EnvelopeAsync(foreignDelete, HttpStatusCode.NotFound, "resource_not_found");
        using var deleted = await admin.DeleteAsync($"{Scopes(tenant)}/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        using var fetched = await admin.GetAsync($"/t/{tenant.Slug}/api/v1/admin/clients/{client.ClientId}");
        var scopes = (await HttpAssert.JsonAsync(fetched, HttpStatusCode.OK)).GetProperty("data").GetProperty("allowedScopes").EnumerateArray().Select(e => e.GetString());
        Assert.Equal(["ledger.read"], scopes);
        using var token = await factory.ClientCredentialsAsync(tenant, client, name);
        await HttpAssert.OAuthErrorAsync(token, HttpStatusCode.BadRequest, "invalid_scope");
        using var gone = await admin.GetAsync($"{Scopes(tenant)}/{id}");
        await HttpAssert.EnvelopeAsync(gone, HttpStatusCode.NotFound, "resource_not_found");
    }
}
