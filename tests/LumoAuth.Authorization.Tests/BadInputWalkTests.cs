using LumoAuth.Testing;
using Xunit.Abstractions;

namespace LumoAuth.Authorization.Tests;

/// <summary>
/// Bad input on every public endpoint of the authorization service, through the gateway (<see cref="BadInputWalk"/>):
/// never a 500, always the documented error format.
/// </summary>
[LumoAuth.Testing.RunsLong(100)]
public sealed class BadInputWalkTests(AuthorizationSuite suite, ITestOutputHelper output) : IClassFixture<AuthorizationSuite>
{
    [Fact]
    public async Task TenantEndpoints_AnswerBadInput_WithDocumentedErrors()
    {
        var tenant = await suite.Admin.CreateTenantAsync();
        var walk = new BadInputWalk(suite.Authorization.Services, suite.Authorization.CreateClient, name => name == "tenantSlug" ? tenant.Slug : null)
        {
            Include = pattern => pattern.StartsWith("/t/", StringComparison.Ordinal),
            Headers = new Dictionary<string, string> { ["X-API-Key"] = tenant.ApiKey },
            Log = output.WriteLine,
        };

        await walk.AssertEveryAnswerIsCleanAsync(atLeast: 2000);
    }
}
