using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using LumoAuth.Authorization.Data;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.Testing;
using LumoAuth.Token.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;

namespace LumoAuth.Token.Tests;

/// <summary>The token service beside real admin and authorization services.</summary>
public sealed class WithAuthorizationSuite : TokenSuite
{
    public AuthorizationServiceFactory Authorization { get; private set; } = null!;

    // Here the authorization service is there to answer: a loaded run's first answer may take seconds.
    protected override IDictionary<string, string?> TokenSettings => new Dictionary<string, string?> { ["Token:RolesLookupTimeout"] = "00:00:20" };

    protected override async Task BeforeTokenAsync()
    {
        Authorization = new AuthorizationServiceFactory(Admin);
        await Authorization.InitializeAsync();
    }

    protected override void ConfigureTokenServices(IServiceCollection services) =>
        services.AddHttpClient(InternalClients.Authorization).ConfigurePrimaryHttpMessageHandler(() => Authorization.Server.CreateHandler());

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Authorization.DisposeAsync();
    }
}

public sealed class AuthorizationServiceFactory(AdminFactory admin, Action<IServiceCollection>? configure = null)
    : ServiceFactory<AuthorizationDbContext, AuthorizationDbContext>(ServiceNames.AuthorizationDb, admin.MessagingPrefix)
{
    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddHttpClient(InternalClients.Admin).ConfigurePrimaryHttpMessageHandler(admin.AdminHandler);
        configure?.Invoke(services);
    }
}

/// <summary>RFC 9068 <c>roles</c>/<c>permissions</c> claims come from the authorization service's <c>roles-of</c>.</summary>
public sealed class RolesClaimsTests(WithAuthorizationSuite suite) : IClassFixture<WithAuthorizationSuite>
{
    [Fact]
    public async Task AccessToken_CarriesTheUsersRolesAndPermissions_FromAuthorization()
    {
        var setup = await suite.SetUpAsync();
        using var authz = suite.Authorization.CreateClient();
        authz.DefaultRequestHeaders.Add("X-API-Key", setup.Tenant.ApiKey);
        using var assigned = await authz.PutAsJsonAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/roles", new { roles = new[] { "admin" } });
        Assert.True(assigned.IsSuccessStatusCode, await assigned.Content.ReadAsStringAsync());
        using var effective = await authz.GetAsync($"{setup.Tenant.Api}/admin/users/{setup.UserId}/roles");
        var truth = (await HttpAssert.JsonAsync(effective, HttpStatusCode.OK)).GetProperty("data");

        using var browser = suite.Browser();
        var (verifier, challenge) = HostedFlow.Pkce();
        var code = HostedFlow.Parameters(await HostedFlow.SignInAsync(browser, setup, HostedFlow.AuthorizeUrl(setup, challenge)))["code"];
        using var http = suite.Token.CreateClient();
        using var response = await http.PostAsync(setup.TokenEndpoint, new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = SignInSetup.RedirectUri,
            ["client_id"] = setup.ClientId, ["code_verifier"] = verifier,
        }));
        var access = new JsonWebToken((await HttpAssert.JsonAsync(response, HttpStatusCode.OK)).GetProperty("access_token").GetString());

        var roles = access.Claims.Where(c => c.Type == "roles").Select(c => c.Value).Order().ToList();
        var permissions = access.Claims.Where(c => c.Type == "permissions").Select(c => c.Value).Order().ToList();
        Assert.NotEmpty(roles);
        Assert.Equal(truth.GetProperty("effectiveRoles").EnumerateArray().Select(e => e.GetString()).Order(), roles);
        Assert.Equal(truth.GetProperty("permissions").EnumerateArray().Select(e => e.GetString()).Order(), permissions);
    }
}
