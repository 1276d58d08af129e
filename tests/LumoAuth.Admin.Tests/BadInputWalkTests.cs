using System.Net.Http.Json;
using LumoAuth.Testing;
using Xunit.Abstractions;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// Bad input on every public endpoint of the admin service, through the gateway (<see cref="BadInputWalk"/>):
/// never a 500, always the documented error format.
/// </summary>
[RunsLong(140)]
public sealed class BadInputWalkTests(AdminFactory factory, ITestOutputHelper output) : IClassFixture<AdminFactory>
{
    [Fact]
    public async Task TenantEndpoints_AnswerBadInput_WithDocumentedErrors()
    {
        var seeded = await TenantIsolationWalkTests.SeedAsync(factory);
        var walk = new BadInputWalk(factory.Services, factory.CreateClient, name => seeded.Ids.GetValueOrDefault(name))
        {
            Include = pattern => pattern.StartsWith("/t/", StringComparison.Ordinal),
            Headers = new Dictionary<string, string> { ["X-API-Key"] = seeded.Tenant.ApiKey },
            Log = output.WriteLine,
        };

        await walk.AssertEveryAnswerIsCleanAsync(atLeast: 3000);
    }

    [Fact]
    public async Task PlatformEndpoints_AnswerBadInput_WithDocumentedErrors()
    {
        var tenant = await factory.CreateTenantAsync();
        var walk = new BadInputWalk(factory.Services, factory.CreateClient, name => name == "tenantId" ? tenant.Id.ToString() : tenant.Slug)
        {
            Include = pattern => pattern.StartsWith("/api/v1/", StringComparison.Ordinal),
            Headers = new Dictionary<string, string> { ["X-Platform-Key"] = TestInfrastructure.PlatformKey },
        };

        await walk.AssertEveryAnswerIsCleanAsync(atLeast: 100);
    }

    [Fact]
    public async Task TextPostgresCannotStore_Is400InvalidRequest()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);

        await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/gdpr/data-export", new { userId = "a\0b@example.com" }), 400, "invalid_request");
        using var invalidUtf8 = new ByteArrayContent([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]) { Headers = { ContentType = new("application/json") } };
        var userId = await factory.CreateUserAsync(tenant, $"utf8@{tenant.Slug}.example.com");
        await ApiAssert.ErrorAsync(await client.PutAsync($"{tenant.Api}/admin/users/{userId}/attributes", invalidUtf8), 400, "invalid_request");
    }

    [Fact]
    public async Task NullGroupReference_IsAValidationError()
    {
        var tenant = await factory.CreateTenantAsync();
        using var client = factory.ClientFor(tenant);

        var error = await ApiAssert.ErrorAsync(await client.PostAsJsonAsync($"{tenant.Api}/invitations",
            new { email = $"invitee@{tenant.Slug}.example.com", groups = new string?[] { null } }), 400, "validation_error");
        Assert.NotNull(error["details"]!["groups"]);
    }
}
