using BadInputWalk = LumoAuth.Testing.BadInputWalk;
using LumoAuth.Token.Tests.Support;
using Xunit.Abstractions;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Bad input on every public endpoint of the token service, through the gateway (<see cref="BadInputWalk"/>): the
/// client and scope administration with the tenant's API key, the OAuth endpoints and hosted pages with a real
/// confidential client's credentials, so each grant's own parsing is reached. Never a 500; always the path's error format.
/// </summary>
public sealed class BadInputWalkTests(TokenFactory factory, ITestOutputHelper output) : IClassFixture<TokenFactory>
{
    private async Task<(TestTenant Tenant, CreatedClient Client)> SeedAsync()
    {
        var tenant = factory.AddTenant("walk");
        var client = await factory.CreateOAuthClientAsync(tenant, new
        {
            name = "walker", applicationType = "web", redirectUris = new[] { "https://app.example.com/callback" },
            grantTypes = new[] { "authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:device_code" },
            allowedScopes = new[] { "openid", "profile", "orders.read" },
        });
        return (tenant, client);
    }

    private static string? RouteValue(string name, TestTenant tenant, CreatedClient client) => name switch
    {
        "tenantSlug" => tenant.Slug,
        "clientId" => client.ClientId,
        "scopeId" => "1",
        _ => null,
    };

    [Fact]
    public async Task AdminEndpoints_AnswerBadInput_WithDocumentedErrors()
    {
        var (tenant, client) = await SeedAsync();
        var walk = new BadInputWalk(factory.Services, factory.CreateClient, name => RouteValue(name, tenant, client))
        {
            Include = pattern => pattern.StartsWith("/t/{tenantSlug}/api/v1/admin/", StringComparison.Ordinal),
            Headers = new Dictionary<string, string> { ["X-API-Key"] = tenant.ApiKey },
            Log = output.WriteLine,
        };

        await walk.AssertEveryAnswerIsCleanAsync(atLeast: 1000);
    }

    [Fact]
    public async Task ProtocolEndpointsAndPages_AnswerBadInput_WithDocumentedErrors()
    {
        var (tenant, client) = await SeedAsync();
        var walk = new BadInputWalk(factory.Services, factory.CreateClient, name => RouteValue(name, tenant, client))
        {
            Include = pattern => pattern.StartsWith("/t/", StringComparison.Ordinal) && !pattern.StartsWith("/t/{tenantSlug}/api/v1/admin/", StringComparison.Ordinal),
            Headers = new Dictionary<string, string> { ["Authorization"] = HttpAssert.Basic(client.ClientId, client.Secret!).ToString() },
            Log = output.WriteLine,
        };

        await walk.AssertEveryAnswerIsCleanAsync(atLeast: 5000);
    }

    [Fact]
    public async Task FormWithANulCharacter_Is400InvalidRequest()
    {
        var (tenant, client) = await SeedAsync();

        using var response = await factory.PostFormAsync(tenant, "oauth/token", new() { ["grant_type"] = "client_credentials", ["scope"] = "orders\0read" },
            HttpAssert.Basic(client.ClientId, client.Secret!));

        await HttpAssert.EnvelopeAsync(response, System.Net.HttpStatusCode.BadRequest, "invalid_request");
    }
}
