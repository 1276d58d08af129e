using BadInputWalk = LumoAuth.Testing.BadInputWalk;
using LumoAuth.Token.Tests.Support;
using Xunit.Abstractions;

namespace LumoAuth.Token.Tests;

/// <summary>
/// Bad input on every public endpoint of the token service, through the gateway (<see cref="BadInputWalk"/>): the
/// client and scope administration with the tenant's API key, the OAuth endpoints and hosted pages with a real
/// confidential client's credentials, so each grant's own parsing is reached. Never a 500; always the path's error format.
/// </summary>
[LumoAuth.Testing.RunsLong(230)]
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

        await HttpAssert.OAuthErrorAsync(response, System.Net.HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task ErrorsRaisedBeforeTheProtocolHandler_AreOAuthErrorsOnOAuthPaths_AndTheEnvelopeElsewhere()
    {
        var (tenant, client) = await SeedAsync();
        using var http = factory.CreateClient();
        var grant = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };

        using var unknownTenant = await http.PostAsync("/t/no-such-tenant/api/v1/oauth/token", new FormUrlEncodedContent(grant));
        await HttpAssert.OAuthErrorAsync(unknownTenant, System.Net.HttpStatusCode.NotFound, "tenant_not_found");

        using var oversized = await factory.PostFormAsync(tenant, "oauth/token", new() { ["grant_type"] = "client_credentials", ["scope"] = new string('a', 2 * 1024 * 1024) },
            HttpAssert.Basic(client.ClientId, client.Secret!));
        await HttpAssert.OAuthErrorAsync(oversized, System.Net.HttpStatusCode.RequestEntityTooLarge, "invalid_request");

        using var unknownRoute = await http.GetAsync($"/t/{tenant.Slug}/api/v1/oauth/nowhere");
        await HttpAssert.OAuthErrorAsync(unknownRoute, System.Net.HttpStatusCode.NotFound, "route_not_found");

        using var unknownTenantAdmin = await http.GetAsync("/t/no-such-tenant/api/v1/admin/clients");
        await HttpAssert.EnvelopeAsync(unknownTenantAdmin, System.Net.HttpStatusCode.NotFound, "tenant_not_found");
    }
}
