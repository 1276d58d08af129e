using LumoAuth.Authorization.Data;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Authorization.Tests;

/// <summary>
/// One authorization service beside a real admin service (tenants and API keys come from it), each one's internal
/// client pointing at the other; suites for particular cases give either side settings of their own.
/// </summary>
public abstract class AdminWithAuthorizationSuite : IAsyncLifetime
{
    private readonly IDictionary<string, string?>? _authorizationSettings;

    /// <param name="authorizationLink">Wraps admin's link to the authorization service (to make some of its calls fail).</param>
    protected AdminWithAuthorizationSuite(
        IDictionary<string, string?>? adminSettings = null, IDictionary<string, string?>? authorizationSettings = null, Func<HttpMessageHandler, HttpMessageHandler>? authorizationLink = null)
    {
        _authorizationSettings = authorizationSettings;
        Admin = new AdminFactory
        {
            AuthorizationHandler = () => authorizationLink is null ? Authorization.Server.CreateHandler() : authorizationLink(Authorization.Server.CreateHandler()),
            ExtraSettings = adminSettings ?? new Dictionary<string, string?>(),
        };
    }

    public AdminFactory Admin { get; }

    public AuthorizationFactory Authorization { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Admin.InitializeAsync();
        Authorization = new AuthorizationFactory(Admin, settings: _authorizationSettings);
        await Authorization.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Authorization.DisposeAsync();
        await Admin.DisposeAsync();
    }
}

/// <summary>The suite most tests share.</summary>
public sealed class AuthorizationSuite() : AdminWithAuthorizationSuite(
    // Roles on admin's user objects come from this service: on two busy cores a cold first answer may take seconds.
    adminSettings: new Dictionary<string, string?> { ["RoleLookup:Timeout"] = "00:00:20", ["RoleLookup:Pause"] = "00:00:00" })
{
    public HttpClient ClientFor(TestTenant tenant) => ClientFor(Authorization, tenant);

    public static HttpClient ClientFor(AuthorizationFactory factory, TestTenant tenant)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-API-Key", tenant.ApiKey);
        return client;
    }
}

/// <summary>
/// The authorization service in-process. Given <paramref name="sharedDatabase"/> it runs against another
/// factory's database (a second replica); <paramref name="settings"/> override configuration;
/// <paramref name="adminHandler"/> replaces the handler into the in-process admin (to cut the link to it).
/// </summary>
public sealed class AuthorizationFactory(AdminFactory admin, string? sharedDatabase = null, IDictionary<string, string?>? settings = null, Func<HttpMessageHandler>? adminHandler = null)
    : ServiceFactory<AuthorizationDbContext, AuthorizationDbContext>(ServiceNames.AuthorizationDb, admin.MessagingPrefix)
{
    protected override IDictionary<string, string?> Settings
    {
        get
        {
            // The hourly retention job keeps its hands off: tests that backdate changes call it themselves.
            var all = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>())
            {
                ["Authorization:Changelog:Retention"] = "3650.00:00:00",
            };
            if (sharedDatabase is not null)
            {
                all[$"ConnectionStrings:{ServiceNames.AuthorizationDb}"] = sharedDatabase;
            }

            return all;
        }
    }

    protected override void ConfigureServices(IServiceCollection services) =>
        services.AddHttpClient(InternalClients.Admin).ConfigurePrimaryHttpMessageHandler(adminHandler ?? admin.AdminHandler);
}

/// <summary>Two replicas of the authorization service on one database, beside a real admin, both with <paramref name="settings"/>.</summary>
public abstract class ReplicaPairSuite(IDictionary<string, string?>? settings = null) : IAsyncLifetime
{
    public AdminFactory Admin { get; } = new();

    public AuthorizationFactory ReplicaA { get; private set; } = null!;

    public AuthorizationFactory ReplicaB { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Admin.InitializeAsync();
        ReplicaA = new AuthorizationFactory(Admin, settings: settings);
        await ReplicaA.InitializeAsync();
        ReplicaB = new AuthorizationFactory(Admin, ReplicaA.DatabaseConnectionString, settings);
        await ReplicaB.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await ReplicaB.DisposeAsync();
        await ReplicaA.DisposeAsync();
        await Admin.DisposeAsync();
    }
}

/// <summary>
/// Two replicas whose indexes only catch up when a request demands it (a long staleness budget), so a test
/// can see one replica lag.
/// </summary>
public sealed class TwoReplicasSuite() : ReplicaPairSuite(new Dictionary<string, string?> { ["Authorization:Index:StalenessBudgetMilliseconds"] = "60000" });

/// <summary>Two replicas catching up within the default staleness budget.</summary>
public sealed class TwoTailingReplicasSuite() : ReplicaPairSuite();

/// <summary>Two replicas whose indexes read the changelog three rows at a time.</summary>
public sealed class SmallBatchReplicasSuite() : ReplicaPairSuite(new Dictionary<string, string?> { ["Authorization:Index:ChangelogBatchSize"] = "3" });

/// <summary>One replica whose index holds a single tenant of at most three tuples, so LRU eviction and the PostgreSQL fallback are exercised.</summary>
public sealed class BoundedIndexSuite() : AdminWithAuthorizationSuite(authorizationSettings: new Dictionary<string, string?>
{
    ["Authorization:Index:MaxTenants"] = "1",
    ["Authorization:Index:MaxTuplesPerTenant"] = "3",
});
