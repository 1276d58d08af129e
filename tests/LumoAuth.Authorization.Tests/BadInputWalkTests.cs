using LumoAuth.Testing;
using Xunit.Abstractions;

namespace LumoAuth.Authorization.Tests;

/// <summary>
/// Bad input on every public endpoint of the authorization service, through the gateway (<see cref="BadInputWalk"/>):
/// never a 500, always the documented error format.
/// </summary>
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

        var failures = await walk.WalkAsync();

        Assert.True(failures.Count == 0, $"{failures.Count} bad answers:\n" + string.Join('\n', failures.Take(60)));
        Assert.True(walk.Sent > 2000, $"only {walk.Sent} requests sent");
    }
}
