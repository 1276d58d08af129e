using System.Net;
using System.Net.Http.Json;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>An API key issued by admin with a resource scope manages that resource here, and nothing else.</summary>
[Collection(SharedTokenSuite.Name)]
public sealed class ApiKeyScopeTests(TokenSuite suite)
{
    [Fact]
    public async Task ClientsScopedKey_ManagesClients_ButNotSessionsOrKeys()
    {
        var setup = await suite.SetUpAsync();
        using var http = await TokenClientWithKeyAsync(setup.Tenant, "admin:clients");

        using var created = await http.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new { name = "from ci", allowedScopes = new[] { "orders.read" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"{setup.Tenant.Api}/admin/clients")).StatusCode);

        await HttpAssert.EnvelopeAsync(await http.GetAsync($"{setup.Tenant.Api}/admin/sessions"), HttpStatusCode.Forbidden, "insufficient_scope");
        using var rotate = await http.PostAsJsonAsync($"{setup.Tenant.Api}/admin/signing-keys/rotate", new { algorithm = "ES256" });
        await HttpAssert.EnvelopeAsync(rotate, HttpStatusCode.Forbidden, "insufficient_scope");
    }

    [Fact]
    public async Task ClientsScopedKey_CannotMakeOrTouchAClientAllowedAdministeringScopes()
    {
        var setup = await suite.SetUpAsync();
        using var scoped = await TokenClientWithKeyAsync(setup.Tenant, "admin:clients");
        using var full = suite.Token.CreateClient();
        full.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        var clients = $"{setup.Tenant.Api}/admin/clients";

        // Its client-credentials tokens would carry the scope: an admin:clients key would mint itself a full admin.
        foreach (var scope in new[] { "admin", "admin.write", "admin:users", "zanzibar.write" })
        {
            using var minted = await scoped.PostAsJsonAsync(clients, new { name = "m2m", applicationType = "m2m", allowedScopes = new[] { scope } });
            await HttpAssert.EnvelopeAsync(minted, HttpStatusCode.Forbidden, "insufficient_scope");
        }

        // Nor widen an ordinary client to one.
        using var plain = await scoped.PostAsJsonAsync(clients, new { name = "m2m", applicationType = "m2m", allowedScopes = new[] { "orders.read" } });
        var plainId = (await HttpAssert.JsonAsync(plain, HttpStatusCode.Created)).GetProperty("data").GetProperty("clientId").GetString()!;
        using (var widened = await scoped.PutAsJsonAsync($"{clients}/{plainId}", new { allowedScopes = new[] { "orders.read", "admin" } }))
        {
            await HttpAssert.EnvelopeAsync(widened, HttpStatusCode.Forbidden, "insufficient_scope");
        }

        using (var renamed = await scoped.PutAsJsonAsync($"{clients}/{plainId}", new { name = "renamed" }))
        {
            Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        }

        // A client a full administrator allowed admin scopes: the scoped key reads it but cannot take its secret, change
        // it (even to narrow it) or remove it, on either path.
        using var made = await full.PostAsJsonAsync(clients, new { name = "ops", applicationType = "m2m", allowedScopes = new[] { "admin.read" } });
        var opsId = (await HttpAssert.JsonAsync(made, HttpStatusCode.Created)).GetProperty("data").GetProperty("clientId").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await scoped.GetAsync($"{clients}/{opsId}")).StatusCode);
        await HttpAssert.EnvelopeAsync(await scoped.PostAsync($"{clients}/{opsId}/rotate-secret", null), HttpStatusCode.Forbidden, "insufficient_scope");
        await HttpAssert.EnvelopeAsync(await scoped.PostAsync($"{setup.Tenant.Api}/admin/oauth-clients/{opsId}/secret", null), HttpStatusCode.Forbidden, "insufficient_scope");
        using (var narrowed = await scoped.PutAsJsonAsync($"{clients}/{opsId}", new { allowedScopes = new[] { "orders.read" } }))
        {
            await HttpAssert.EnvelopeAsync(narrowed, HttpStatusCode.Forbidden, "insufficient_scope");
        }

        await HttpAssert.EnvelopeAsync(await scoped.DeleteAsync($"{clients}/{opsId}"), HttpStatusCode.Forbidden, "insufficient_scope");

        // The full administrator still can.
        Assert.Equal(HttpStatusCode.OK, (await full.PostAsync($"{clients}/{opsId}/rotate-secret", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await full.DeleteAsync($"{clients}/{opsId}")).StatusCode);
    }

    /// <summary>A client of the token service holding a new API key of the tenant with only <paramref name="scope"/>.</summary>
    private async Task<HttpClient> TokenClientWithKeyAsync(LumoAuth.Testing.TestTenant tenant, string scope)
    {
        using var admin = suite.Admin.ClientFor(tenant);
        using var issued = await admin.PostAsJsonAsync($"{tenant.Api}/admin/api-keys", new { name = "ci", scopes = new[] { scope } });
        var key = (await HttpAssert.JsonAsync(issued, HttpStatusCode.Created)).GetProperty("data").GetProperty("key").GetString()!;
        var http = suite.Token.CreateClient();
        http.DefaultRequestHeaders.Add("X-API-Key", key);
        return http;
    }
}
