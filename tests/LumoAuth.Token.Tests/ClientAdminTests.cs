using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LumoAuth.Contracts.Clients;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Token.Tests.Support;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Token.Tests;

public sealed class ClientAdminTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    [Fact]
    public async Task CreateClient_Valid_Returns201WithSecretOnlyOnce()
    {
        var tenant = factory.Acme;
        using var client = factory.AdminClient(tenant);

        using var created = await client.PostAsJsonAsync($"/t/{tenant.Slug}/api/v1/admin/clients", new
        {
            name = "Billing worker",
            description = "Nightly billing",
            allowedScopes = new[] { "invoices.read" },
        });

        var json = await HttpAssert.JsonAsync(created, HttpStatusCode.Created);
        Assert.Equal("OAuth client created successfully", json.GetProperty("message").GetString());
        var data = json.GetProperty("data");
        var clientId = data.GetProperty("clientId").GetString()!;
        var secret = data.GetProperty("secret").GetString()!;
        Assert.StartsWith("cs_", secret, StringComparison.Ordinal);
        Assert.True(secret.Length >= 3 + 43);
        Assert.Equal("Store the secret securely. It will not be shown again.", data.GetProperty("_note").GetString());
        Assert.True(data.GetProperty("isConfidential").GetBoolean());
        Assert.Equal(["client_credentials"], data.GetProperty("grantTypes").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["invoices.read"], data.GetProperty("allowedScopes").EnumerateArray().Select(e => e.GetString()));

        using var fetched = await client.GetAsync($"/t/{tenant.Slug}/api/v1/admin/clients/{clientId}");
        var one = await HttpAssert.JsonAsync(fetched, HttpStatusCode.OK);
        Assert.Equal(clientId, one.GetProperty("data").GetProperty("clientId").GetString());
        Assert.Equal("Billing worker", one.GetProperty("data").GetProperty("name").GetString());
        Assert.False(one.GetProperty("data").TryGetProperty("secret", out _));

        using var listed = await client.GetAsync($"/t/{tenant.Slug}/api/v1/admin/clients?limit=100");
        var listBody = await listed.Content.ReadAsStringAsync();
        Assert.Contains(clientId, listBody, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, listBody, StringComparison.Ordinal);
        Assert.DoesNotContain("\"secret\"", listBody, StringComparison.Ordinal);

        // Stored as a SHA-256 hash, never as the secret itself.
        var stored = await factory.WithDbAsync(db => db.Applications.IgnoreQueryFilters().Where(a => a.ClientId == clientId).Select(a => a.ClientSecret).SingleAsync());
        Assert.DoesNotContain(secret, stored!, StringComparison.Ordinal);
        Assert.StartsWith("sha256:", stored, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeleteClient_TwiceAtOnce_OneDeletes_TheOtherFindsItGoneOrChanged_NeverA500()
    {
        var tenant = factory.Acme;
        using var admin = factory.AdminClient(tenant);
        for (var round = 0; round < 8; round++)
        {
            using var created = await admin.PostAsJsonAsync($"/t/{tenant.Slug}/api/v1/admin/clients", new { name = "Short-lived", allowedScopes = new[] { "invoices.read" } });
            var clientId = (await HttpAssert.JsonAsync(created, HttpStatusCode.Created)).GetProperty("data").GetProperty("clientId").GetString()!;

            var statuses = await Task.WhenAll(
                Task.Run(async () => { using var r = await admin.DeleteAsync($"/t/{tenant.Slug}/api/v1/admin/clients/{clientId}"); return r.StatusCode; }),
                Task.Run(async () => { using var r = await admin.DeleteAsync($"/t/{tenant.Slug}/api/v1/admin/clients/{clientId}"); return r.StatusCode; }),
                Task.Run(async () => { using var r = await admin.PostAsync($"/t/{tenant.Slug}/api/v1/admin/clients/{clientId}/rotate-secret", null); return r.StatusCode; }));

            // A rotation that commits first makes both deletes stale (409, retry); the client is then deleted by a retry.
            var deletes = new[] { statuses[0], statuses[1] };
            Assert.All(deletes, s => Assert.Contains(s, new[] { HttpStatusCode.NoContent, HttpStatusCode.NotFound, HttpStatusCode.Conflict }));
            Assert.Contains(statuses[2], new[] { HttpStatusCode.OK, HttpStatusCode.NotFound, HttpStatusCode.Conflict });
            using var retried = await admin.DeleteAsync($"/t/{tenant.Slug}/api/v1/admin/clients/{clientId}");
            Assert.Equal(deletes.Contains(HttpStatusCode.NoContent) ? HttpStatusCode.NotFound : HttpStatusCode.NoContent, retried.StatusCode);
        }
    }

    [Fact]
    public async Task CreateClient_WritesClientCreatedToOutbox()
    {
        var tenant = factory.Acme;
        var created = await factory.CreateOAuthClientAsync(tenant);

        var rows = await factory.WithDbAsync(db => db.Set<OutboxMessage>()
            .Where(m => m.MessageType == ContractTypes.NameOf(typeof(ClientCreated)) && m.TenantId == tenant.Info.Id)
            .ToListAsync());
        var row = Assert.Single(rows, r => r.Body.Contains(created.ClientId, StringComparison.Ordinal));
        var body = JsonDocument.Parse(row.Body).RootElement;
        Assert.Equal("test client", body.GetProperty("name").GetString());
        Assert.Equal("api_key", body.GetProperty("actor").GetProperty("type").GetString());
        Assert.DoesNotContain(created.Secret!, row.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateClient_PublicClientWithLoopbackRedirect_HasNoSecret()
    {
        var created = await factory.CreateOAuthClientAsync(factory.Acme, new
        {
            name = "CLI",
            isConfidential = false,
            redirectUris = new[] { "http://127.0.0.1:7777/callback", "https://app.example.com/cb" },
        });

        Assert.Null(created.Secret);
        Assert.False(created.Data.GetProperty("isConfidential").GetBoolean());
        Assert.Equal(["authorization_code"], created.Data.GetProperty("grantTypes").EnumerateArray().Select(e => e.GetString()));
    }

    public static TheoryData<string, string> InvalidBodies => new()
    {
        { """{"description":"no name"}""", "name" },
        { """{"name":"   "}""", "name" },
        { $$"""{"name":"{{new string('x', 201)}}"}""", "name" },
        { """{"name":"x","grantTypes":["password"]}""", "grantTypes" },
        { """{"name":"x","grantTypes":["password","client_credentials"]}""", "grantTypes" },
        { """{"name":"x","applicationType":"spa","grantTypes":["implicit"]}""", "redirectUris" },
        { """{"name":"x","applicationType":"spa","redirectUris":["https://a.example.com/cb"],"frontchannelLogoutUri":"http://a.example.com/fc"}""", "frontchannelLogoutUri" },
        { """{"name":"x","applicationType":"spa","redirectUris":["https://a.example.com/cb"],"frontchannelLogoutUri":"https://a.example.com/fc#x"}""", "frontchannelLogoutUri" },
        { """{"name":"x","isConfidential":false,"grantTypes":["client_credentials"]}""", "grantTypes" },
        { """{"name":"x","grantTypes":["authorization_code"]}""", "redirectUris" },
        { """{"name":"x","grantTypes":["authorization_code"],"redirectUris":["/relative/cb"]}""", "redirectUris" },
        { """{"name":"x","grantTypes":["authorization_code"],"redirectUris":["https://app.example.com/cb#frag"]}""", "redirectUris" },
        { """{"name":"x","grantTypes":["authorization_code"],"redirectUris":["http://app.example.com/cb"]}""", "redirectUris" },
        { """{"name":"x","allowedScopes":["has space"]}""", "allowedScopes" },
        { """{"name":"x","logoUri":"http://cdn.example.com/logo.png"}""", "logoUri" },
        { """{"name":"x","logoUri":"javascript:alert(1)"}""", "logoUri" },
        { """{"name":"x","clientUri":"/home"}""", "clientUri" },
        { """{"name":"x","policyUri":"https://user:pw@app.example.com/privacy"}""", "policyUri" },
        { """{"name":"x","tosUri":"data:text/html,hi"}""", "tosUri" },
    };

    [Theory]
    [MemberData(nameof(InvalidBodies))]
    public async Task CreateClient_InvalidBody_ReturnsValidationErrorForTheField(string body, string field)
    {
        using var client = factory.AdminClient(factory.Acme);
        using var content = new StringContent(body, Encoding.UTF8, "application/json");

        using var response = await client.PostAsync($"/t/{factory.Acme.Slug}/api/v1/admin/clients", content);

        var json = await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "validation_error");
        Assert.True(json.GetProperty("details").TryGetProperty(field, out var problems), json.ToString());
        Assert.NotEqual(0, problems.GetArrayLength());
    }

    [Fact]
    public async Task CreateClient_MalformedJson_Returns400Envelope()
    {
        using var client = factory.AdminClient(factory.Acme);
        using var content = new StringContent("{\"name\":", Encoding.UTF8, "application/json");

        using var response = await client.PostAsync($"/t/{factory.Acme.Slug}/api/v1/admin/clients", content);

        await HttpAssert.EnvelopeAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task AdminApi_MissingApiKey_Returns401Envelope()
    {
        using var client = factory.CreateClient();

        using var response = await client.GetAsync($"/t/{factory.Acme.Slug}/api/v1/admin/clients");

        await HttpAssert.EnvelopeAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task AdminApi_InvalidApiKey_Returns401Envelope()
    {
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", "lk_test_not_a_key");

        using var response = await client.PostAsJsonAsync($"/t/{factory.Acme.Slug}/api/v1/admin/clients", new { name = "x" });

        await HttpAssert.EnvelopeAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task AdminApi_OtherTenantsApiKey_Returns401Envelope()
    {
        using var client = factory.AdminClient(factory.Globex);

        using var response = await client.GetAsync($"/t/{factory.Acme.Slug}/api/v1/admin/clients");

        await HttpAssert.EnvelopeAsync(response, HttpStatusCode.Unauthorized, "unauthorized");
    }

    [Fact]
    public async Task AdminApi_UnknownTenant_Returns404Envelope()
    {
        using var client = factory.AdminClient(factory.Acme);

        using var response = await client.GetAsync("/t/no-such-tenant/api/v1/admin/clients");

        await HttpAssert.EnvelopeAsync(response, HttpStatusCode.NotFound, "tenant_not_found");
    }

    [Fact]
    public async Task GetClient_OtherTenantsClient_Returns404()
    {
        var acmeClient = await factory.CreateOAuthClientAsync(factory.Acme);
        using var client = factory.AdminClient(factory.Globex);

        using var response = await client.GetAsync($"/t/{factory.Globex.Slug}/api/v1/admin/clients/{acmeClient.ClientId}");

        await HttpAssert.EnvelopeAsync(response, HttpStatusCode.NotFound, "resource_not_found");
    }

    [Fact]
    public async Task ListClients_OnlyTheTenantsOwn_Paginated()
    {
        var tenant = factory.AddTenant("list");
        var other = await factory.CreateOAuthClientAsync(factory.Acme);
        var mine = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            mine.Add((await factory.CreateOAuthClientAsync(tenant, new { name = $"c{i}" })).ClientId);
        }

        using var client = factory.AdminClient(tenant);
        using var page1 = await client.GetAsync($"/t/{tenant.Slug}/api/v1/admin/clients?page=1&limit=2");
        using var page2 = await client.GetAsync($"/t/{tenant.Slug}/api/v1/admin/clients?page=2&limit=2");

        var first = await HttpAssert.JsonAsync(page1, HttpStatusCode.OK);
        var second = await HttpAssert.JsonAsync(page2, HttpStatusCode.OK);
        var meta = first.GetProperty("meta");
        Assert.Equal(3, meta.GetProperty("total").GetInt32());
        Assert.Equal(2, meta.GetProperty("totalPages").GetInt32());
        Assert.Equal(2, meta.GetProperty("limit").GetInt32());
        Assert.True(meta.GetProperty("hasNextPage").GetBoolean());
        Assert.False(meta.GetProperty("hasPreviousPage").GetBoolean());
        Assert.True(second.GetProperty("meta").GetProperty("hasPreviousPage").GetBoolean());
        var ids = first.GetProperty("data").EnumerateArray().Concat(second.GetProperty("data").EnumerateArray())
            .Select(c => c.GetProperty("clientId").GetString()!).ToList();
        Assert.Equal(mine.Order(), ids.Order());
        Assert.DoesNotContain(other.ClientId, ids);
    }

    [Fact]
    public async Task ListClients_LimitAboveMaximum_IsCapped()
    {
        using var client = factory.AdminClient(factory.Acme);

        using var response = await client.GetAsync($"/t/{factory.Acme.Slug}/api/v1/admin/clients?limit=1000");

        var json = await HttpAssert.JsonAsync(response, HttpStatusCode.OK);
        Assert.Equal(100, json.GetProperty("meta").GetProperty("limit").GetInt32());
        Assert.Equal(1, json.GetProperty("meta").GetProperty("page").GetInt32());
    }
}
