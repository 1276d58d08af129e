using LumoAuth.Testing;
using Xunit.Abstractions;

namespace LumoAuth.Admin.Tests;

/// <summary>
/// Bad input on every public endpoint of the admin service, through the gateway (<see cref="BadInputWalk"/>):
/// never a 500, always the documented error format.
/// </summary>
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
}
