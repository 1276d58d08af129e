using LumoAuth.Authorization.Data;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Authorization.Tests;

/// <summary>The authorization service beside a real admin service (tenants and API keys come from it).</summary>
public sealed class AuthorizationSuite : IAsyncLifetime
{
    public AdminFactory Admin { get; } = new();

    public AuthorizationFactory Authorization { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Admin.InitializeAsync();
        Authorization = new AuthorizationFactory(Admin);
        await Authorization.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Authorization.DisposeAsync();
        await Admin.DisposeAsync();
    }

    public HttpClient ClientFor(TestTenant tenant)
    {
        var client = Authorization.CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        return client;
    }
}

public sealed class AuthorizationFactory(AdminFactory admin)
    : ServiceFactory<AuthorizationDbContext, AuthorizationDbContext>(ServiceNames.AuthorizationDb, admin.MessagingPrefix)
{
    protected override void ConfigureServices(IServiceCollection services) =>
        services.AddHttpClient(InternalClients.Admin).ConfigurePrimaryHttpMessageHandler(admin.AdminHandler);
}
