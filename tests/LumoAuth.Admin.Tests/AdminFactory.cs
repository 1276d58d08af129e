using System.Net.Http.Json;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Data;
using LumoAuth.ServiceDefaults;
using LumoAuth.Testing;

namespace LumoAuth.Admin.Tests;

/// <summary>The admin service in-process against real PostgreSQL and RabbitMQ, with its own database.</summary>
public sealed class AdminFactory() : ServiceFactory<Program, AdminDbContext>(ServiceNames.AdminDb)
{
    public HttpClient Platform()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Platform-Key", TestInfrastructure.PlatformKey);
        return client;
    }

    /// <summary>Creates a tenant through the platform API; returns its slug and first API key.</summary>
    public async Task<TestTenant> CreateTenantAsync(string? slug = null)
    {
        slug ??= "t" + Guid.NewGuid().ToString("N")[..12];
        using var platform = Platform();
        using var response = await platform.PostAsJsonAsync("/api/v1/tenants", new
        {
            slug, name = "Tenant " + slug, adminEmail = $"admin@{slug}.example.com",
        });
        response.EnsureSuccessStatusCode();
        var data = (await response.Content.ReadFromJsonAsync<JsonObject>())!["data"]!;
        return new TestTenant(slug, Guid.Parse(data["tenant"]!["id"]!.GetValue<string>()), data["apiKey"]!["key"]!.GetValue<string>());
    }

    public HttpClient ClientFor(TestTenant tenant)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        return client;
    }

    public HttpClient Internal()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Internal-Key", TestInfrastructure.InternalKey);
        return client;
    }
}

