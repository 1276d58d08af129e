using System.Net;
using System.Net.Http.Json;
using System.Text;
using LumoAuth.Admin.Data;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Admin.Tests;

public sealed class PlatformTenantTests(AdminFactory factory) : IClassFixture<AdminFactory>
{
    [Fact]
    public async Task CreateTenant_WithPlatformKey_ReturnsTenantAdminAndApiKeyOnce()
    {
        var slug = "acme-" + Guid.NewGuid().ToString("N")[..8];
        using var platform = factory.Platform();
        using var response = await platform.PostAsJsonAsync("/api/v1/tenants", new { slug, name = "Acme", adminEmail = "owner@acme.example.com", adminPassword = "correct horse battery" });

        var json = await ApiAssert.OkAsync(response, 201);
        var data = json["data"]!;
        Assert.Equal(slug, data["tenant"]!["slug"]!.GetValue<string>());
        Assert.Equal("active", data["tenant"]!["status"]!.GetValue<string>());
        Assert.Equal("owner@acme.example.com", data["adminUser"]!["email"]!.GetValue<string>());
        Assert.StartsWith("lmk_", data["apiKey"]!["key"]!.GetValue<string>());
        Assert.NotNull(data["_note"]);

        using var fetched = await platform.GetAsync($"/api/v1/tenants/{slug}");
        var tenant = await ApiAssert.OkAsync(fetched);
        Assert.DoesNotContain("lmk_", tenant.ToJsonString());
    }

    [Fact]
    public async Task CreateTenant_WithoutPlatformKey_Returns401()
    {
        using var client = factory.CreateClient();
        using var response = await client.PostAsJsonAsync("/api/v1/tenants", new { slug = "nokey", name = "x", adminEmail = "a@b.example.com" });
        await ApiAssert.ErrorAsync(response, 401, "unauthorized");
    }

    [Fact]
    public async Task CreateTenant_WithWrongPlatformKey_Returns401()
    {
        using var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Platform-Key", TestInfrastructure.PlatformKey + "x");
        using var response = await client.PostAsJsonAsync("/api/v1/tenants", new { slug = "wrongkey", name = "x", adminEmail = "a@b.example.com" });
        await ApiAssert.ErrorAsync(response, 401, "unauthorized");
    }

    [Fact]
    public async Task CreateTenant_InvalidFields_ReturnsValidationErrorPerField()
    {
        using var platform = factory.Platform();
        using var response = await platform.PostAsJsonAsync("/api/v1/tenants", new { slug = "Not A Slug!", adminEmail = "not-an-email", adminPassword = "short", region = "mars" });
        var error = await ApiAssert.ErrorAsync(response, 400, "validation_error");
        var details = error["details"]!.AsObject();
        foreach (var field in new[] { "slug", "name", "adminEmail", "adminPassword", "region" })
        {
            Assert.True(details.ContainsKey(field), $"missing detail for {field}: {details}");
        }
    }

    [Fact]
    public async Task CreateTenant_ForAnotherRegion_IsRefused_AndCreatesNothing()
    {
        // This deployment serves "us" (the test settings' LumoAuth:Region).
        var slug = "eu" + Guid.NewGuid().ToString("N")[..12];
        using var platform = factory.Platform();
        using var response = await platform.PostAsJsonAsync("/api/v1/tenants", new { slug, name = "Elsewhere", region = "eu", adminEmail = "a@eu.example.com" });
        await ApiAssert.ErrorAsync(response, 421, "tenant_in_other_region");
        using var lookup = await platform.GetAsync($"/api/v1/tenants/{slug}");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, lookup.StatusCode);

        using var home = await platform.PostAsJsonAsync("/api/v1/tenants", new { slug = slug + "us", name = "Home", region = "us", adminEmail = "a@us.example.com" });
        await ApiAssert.OkAsync(home, 201);
    }

    /// <summary>A tenant another region serves (a shared or restored directory) is not served here: 421 naming its region.</summary>
    [Fact]
    public async Task TenantPath_OfATenantInAnotherRegion_Is421_NamingItsRegion()
    {
        var tenant = await factory.CreateTenantAsync();
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AdminDbContext>().Tenants.Where(t => t.Id == tenant.Id)
                .ExecuteUpdateAsync(s => s.SetProperty(t => t.Region, "eu"));
        }

        factory.Services.GetRequiredService<TenantDirectory>().Evict(tenant.Slug);
        using var client = factory.ClientFor(tenant);
        using var response = await client.GetAsync($"{tenant.Api}/admin/users");
        var error = await ApiAssert.ErrorAsync(response, 421, "tenant_in_other_region");
        Assert.Equal("eu", error["details"]!["region"]!.GetValue<string>());
    }

    [Fact]
    public async Task CreateTenant_DuplicateSlug_Returns409()
    {
        var tenant = await factory.CreateTenantAsync();
        using var platform = factory.Platform();
        using var response = await platform.PostAsJsonAsync("/api/v1/tenants", new { slug = tenant.Slug, name = "Again", adminEmail = "x@y.example.com" });
        await ApiAssert.ErrorAsync(response, 409, "duplicate_resource");
    }

    [Fact]
    public async Task CreateTenant_MalformedJson_Returns400InvalidRequest()
    {
        using var platform = factory.Platform();
        using var content = new StringContent("{\"slug\": \"abc\", ", Encoding.UTF8, "application/json");
        using var response = await platform.PostAsync("/api/v1/tenants", content);
        await ApiAssert.ErrorAsync(response, 400, "invalid_request");
    }

    [Fact]
    public async Task CreateTenant_WrongFieldType_Returns400InvalidRequest()
    {
        using var platform = factory.Platform();
        using var content = new StringContent("{\"slug\": 42, \"name\": [1]}", Encoding.UTF8, "application/json");
        using var response = await platform.PostAsync("/api/v1/tenants", content);
        await ApiAssert.ErrorAsync(response, 400, "invalid_request");
    }

    [Fact]
    public async Task CreateTenant_WrongContentType_Returns415()
    {
        using var platform = factory.Platform();
        using var content = new StringContent("slug=abc", Encoding.UTF8, "application/x-www-form-urlencoded");
        using var response = await platform.PostAsync("/api/v1/tenants", content);
        await ApiAssert.ErrorAsync(response, 415, "unsupported_media_type");
    }

    [Fact]
    public async Task CreateTenant_OversizedBody_Returns413()
    {
        using var platform = factory.Platform();
        var huge = "{\"slug\":\"big\",\"name\":\"" + new string('a', 2 * 1024 * 1024) + "\"}";
        using var content = new StringContent(huge, Encoding.UTF8, "application/json");
        using var response = await platform.PostAsync("/api/v1/tenants", content);
        await ApiAssert.ErrorAsync(response, 413, "payload_too_large");
    }

    [Fact]
    public async Task TenantPath_UnknownSlug_Returns404TenantNotFound()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/t/no-such-tenant-here/api/v1/admin/users");
        await ApiAssert.ErrorAsync(response, 404, "tenant_not_found");
    }

    [Fact]
    public async Task TenantPath_SuspendedTenant_Returns403()
    {
        var tenant = await factory.CreateTenantAsync();
        using var platform = factory.Platform();
        using var suspend = await platform.PatchAsJsonAsync($"/api/v1/tenants/{tenant.Slug}", new { status = "suspended" });
        await ApiAssert.OkAsync(suspend);

        using var client = factory.ClientFor(tenant);
        // The tenant cache is evicted by the TenantUpdated event; allow it a moment to arrive.
        await ApiAssert.EventuallyAsync<HttpResponseMessage>(async () =>
        {
            var response = await client.GetAsync($"{tenant.Api}/admin/users");
            return response.StatusCode == HttpStatusCode.Forbidden ? response : null;
        });
        using var final = await client.GetAsync($"{tenant.Api}/admin/users");
        await ApiAssert.ErrorAsync(final, 403, "tenant_suspended");
    }

    [Fact]
    public async Task UnknownRoute_ReturnsEnvelope404()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/api/v1/nothing-here");
        await ApiAssert.ErrorAsync(response, 404, "route_not_found");
    }

    [Fact]
    public async Task Health_Answers()
    {
        using var client = factory.CreateClient();
        using var alive = await client.GetAsync("/alive");
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        using var health = await client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }
}
