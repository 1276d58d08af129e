using System.Net;
using System.Net.Http.Json;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>An API key issued by admin with a resource scope manages that resource here, and nothing else.</summary>
public sealed class ApiKeyScopeTests(TokenSuite suite) : IClassFixture<TokenSuite>
{
    [Fact]
    public async Task ClientsScopedKey_ManagesClients_ButNotSessionsOrKeys()
    {
        var setup = await suite.SetUpAsync();
        using var admin = suite.Admin.ClientFor(setup.Tenant);
        using var issued = await admin.PostAsJsonAsync($"{setup.Tenant.Api}/admin/api-keys", new { name = "ci", scopes = new[] { "admin:clients" } });
        var key = (await HttpAssert.JsonAsync(issued, HttpStatusCode.Created)).GetProperty("data").GetProperty("key").GetString()!;
        using var http = suite.Token.CreateClient();
        http.DefaultRequestHeaders.Add("X-API-Key", key);

        using var created = await http.PostAsJsonAsync($"{setup.Tenant.Api}/admin/clients", new { name = "from ci", allowedScopes = new[] { "orders.read" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"{setup.Tenant.Api}/admin/clients")).StatusCode);

        await HttpAssert.EnvelopeAsync(await http.GetAsync($"{setup.Tenant.Api}/admin/sessions"), HttpStatusCode.Forbidden, "insufficient_scope");
        using var rotate = await http.PostAsJsonAsync($"{setup.Tenant.Api}/admin/signing-keys/rotate", new { algorithm = "ES256" });
        await HttpAssert.EnvelopeAsync(rotate, HttpStatusCode.Forbidden, "insufficient_scope");
    }
}
