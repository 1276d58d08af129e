using System.Net;
using System.Net.Http.Json;
using LumoAuth.Token.Tests.Support;

namespace LumoAuth.Token.Tests;

/// <summary>The token service's admin lists take <c>search</c>, <c>sortBy</c> and <c>sortDir</c> (inventory C-18), and refuse what they do not offer.</summary>
public sealed class ListQueryTests(TokenFactory factory) : IClassFixture<TokenFactory>
{
    private static async Task<IReadOnlyList<string>> NamesAsync(HttpClient client, string url, string field)
    {
        var json = await HttpAssert.JsonAsync(await client.GetAsync(url), HttpStatusCode.OK);
        return [.. json.GetProperty("data").EnumerateArray().Select(e => e.GetProperty(field).GetString()!)];
    }

    [Fact]
    public async Task Clients_AreSearchedAndSorted()
    {
        var tenant = factory.Acme;
        using var client = factory.AdminClient(tenant);
        var tag = "lq" + Guid.NewGuid().ToString("N")[..8];
        foreach (var name in new[] { $"{tag} beta", $"{tag} alpha", $"{tag} gamma" })
        {
            (await client.PostAsJsonAsync($"/t/{tenant.Slug}/api/v1/admin/clients", new { name, allowedScopes = new[] { "invoices.read" } })).EnsureSuccessStatusCode();
        }

        var clients = $"/t/{tenant.Slug}/api/v1/admin/clients?search={tag}";
        Assert.Equal([$"{tag} gamma", $"{tag} alpha", $"{tag} beta"], await NamesAsync(client, clients, "name"));
        Assert.Equal([$"{tag} alpha", $"{tag} beta", $"{tag} gamma"], await NamesAsync(client, clients + "&sortBy=name", "name"));
        Assert.Equal([$"{tag} gamma", $"{tag} beta", $"{tag} alpha"], await NamesAsync(client, clients + "&sortBy=NAME&sortDir=desc", "name"));
        Assert.Empty(await NamesAsync(client, $"/t/{tenant.Slug}/api/v1/admin/clients?search=%25{tag}_", "name"));

        await HttpAssert.EnvelopeAsync(await client.GetAsync(clients + "&sortBy=secret"), HttpStatusCode.BadRequest, "validation_error");
        await HttpAssert.EnvelopeAsync(await client.GetAsync(clients + "&sortDir=sideways"), HttpStatusCode.BadRequest, "validation_error");
        await HttpAssert.EnvelopeAsync(await client.GetAsync($"/t/{tenant.Slug}/api/v1/admin/clients?search={new string('x', 201)}"), HttpStatusCode.BadRequest, "validation_error");

        // Another tenant's search finds none of them.
        using var other = factory.AdminClient(factory.Globex);
        Assert.Empty(await NamesAsync(other, $"/t/{factory.Globex.Slug}/api/v1/admin/clients?search={tag}", "name"));
    }

    [Fact]
    public async Task Scopes_BuiltInAndCustom_AreSearchedAndSorted()
    {
        var tenant = factory.Acme;
        using var client = factory.AdminClient(tenant);
        var tag = "lq" + Guid.NewGuid().ToString("N")[..8];
        foreach (var name in new[] { $"{tag}.write", $"{tag}.read" })
        {
            (await client.PostAsJsonAsync($"/t/{tenant.Slug}/api/v1/admin/scopes", new { name, description = "Lists" })).EnsureSuccessStatusCode();
        }

        var scopes = $"/t/{tenant.Slug}/api/v1/admin/scopes?limit=100";
        Assert.Equal([$"{tag}.write", $"{tag}.read"], await NamesAsync(client, scopes + $"&search={tag}", "name"));
        Assert.Equal([$"{tag}.read", $"{tag}.write"], await NamesAsync(client, scopes + $"&search={tag}&sortBy=name", "name"));
        Assert.Equal(["address"], await NamesAsync(client, scopes + "&search=POSTAL&sortBy=name", "name"));
        await HttpAssert.EnvelopeAsync(await client.GetAsync(scopes + "&sortBy=description"), HttpStatusCode.BadRequest, "validation_error");
    }

    [Fact]
    public async Task Sessions_TakeTheirOrder_AndRefuseAnother()
    {
        var tenant = factory.Acme;
        using var client = factory.AdminClient(tenant);
        var sessions = $"/t/{tenant.Slug}/api/v1/admin/sessions";
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(sessions + "?sortBy=createdAt&sortDir=ASC")).StatusCode);
        await HttpAssert.EnvelopeAsync(await client.GetAsync(sessions + "?sortBy=ipAddress"), HttpStatusCode.BadRequest, "validation_error");
    }
}
