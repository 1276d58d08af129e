using LumoAuth.Messaging;
using Microsoft.AspNetCore.Hosting;
using LumoAuth.ServiceDefaults;
using MassTransit;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;

namespace LumoAuth.Testing;

/// <summary>
/// One service in-process against the real servers: its own fresh database, its own messaging prefix,
/// migrations applied before the first request. Subclass per service; override <see cref="ConfigureServices"/>
/// to point its internal clients at other in-process services. <typeparamref name="TProgram"/> is any type of
/// the service's assembly (every service's top-level <c>Program</c> is global, so a test project that hosts
/// two services names them by their DbContext instead).
/// Clients from <see cref="CreateClient()"/> reach the service through the real gateway
/// (<see cref="InProcessGateway"/>), as every public caller does; <see cref="CreateDirectClient"/> skips it,
/// for the internal API the gateway refuses.
/// </summary>
public abstract class ServiceFactory<TProgram, TDbContext> : WebApplicationFactory<TProgram>, IAsyncLifetime
    where TProgram : class
    where TDbContext : DbContext
{
    protected ServiceFactory(string databaseConnectionName, string? messagingPrefix = null)
    {
        DatabaseConnectionName = databaseConnectionName;
        DatabaseConnectionString = TestInfrastructure.NewDatabase(databaseConnectionName);
        MessagingPrefix = messagingPrefix ?? TestInfrastructure.NewMessagingPrefix(databaseConnectionName);
    }

    private readonly Lock _gatewayLock = new();
    private InProcessGateway? _gateway;

    public string DatabaseConnectionName { get; }

    public string DatabaseConnectionString { get; }

    public string MessagingPrefix { get; }

    public string PublicBaseUrl { get; init; } = "http://localhost";

    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

    /// <summary>
    /// Whether the service sees the gateway's requests come from loopback, as in a deployment, and so believes the caller's
    /// address the gateway forwards (<see cref="CreateClientFrom"/>). Off by default: most suites share one test process,
    /// which would be one address for every per-address count.
    /// </summary>
    protected virtual bool SeesGatewayOnLoopback => false;

    /// <summary>
    /// Calls to peer services are retried at once instead of after the standard backoff, which costs seconds per call
    /// when the peer is absent: for suites that call absent peers on purpose, thousands of times (the bad-input walks).
    /// </summary>
    protected virtual bool RetriesAtOnce => false;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        var settings = new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{DatabaseConnectionName}"] = DatabaseConnectionString,
            ["ConnectionStrings:rabbitmq"] = TestInfrastructure.RabbitMq,
            ["ConnectionStrings:redis"] = TestInfrastructure.Redis,
            ["Messaging:Prefix"] = MessagingPrefix,
            ["LumoAuth:InternalKey"] = TestInfrastructure.InternalKey,
            ["LumoAuth:GatewayKey"] = TestInfrastructure.GatewayKey,
            ["LumoAuth:PlatformKey"] = TestInfrastructure.PlatformKey,
            ["LumoAuth:KeyEncryptionKey"] = TestInfrastructure.KeyEncryptionKey,
            ["LumoAuth:PublicBaseUrl"] = PublicBaseUrl,
            ["LumoAuth:Region"] = "us",
            // Pages go on without admin's settings after this long; four test classes starting services on two cores can
            // take seconds for a first answer. (Roles keep their short deadline: most suites have no authorization service.)
            ["Token:SettingsLookupTimeout"] = "00:00:20",
            // Throwaway passwords need no stretching to OWASP's figure; at 600,000 iterations it was most of the suites' CPU.
            ["Admin:PasswordHashing:Iterations"] = TestInfrastructure.PasswordHashIterations,
        };
        foreach (var (key, value) in Settings)
        {
            settings[key] = value;
        }

        // Settings go in as host configuration so they win before Program reads connection strings.
        foreach (var (key, value) in settings)
        {
            builder.UseSetting(key, value);
        }

        builder.QuietConsole();

        if (ServerErrorLog.PathFromEnvironment is { } errorLog)
        {
            builder.ConfigureLogging(logging => logging.AddProvider(new ServerErrorLog(errorLog, DatabaseConnectionName)));
        }

        if (RetriesAtOnce)
        {
            builder.ConfigureServices(services => services.ConfigureAll<Microsoft.Extensions.Http.Resilience.HttpStandardResilienceOptions>(o => o.Retry.Delay = TimeSpan.Zero));
        }

        builder.ConfigureServices(ConfigureServices);
    }

    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    /// <summary>The service this factory hosts, as the gateway's cluster names it.</summary>
    public string ServiceName => DatabaseConnectionName switch
    {
        ServiceNames.AdminDb => ServiceNames.Admin,
        ServiceNames.TokenDb => ServiceNames.Token,
        ServiceNames.AuthorizationDb => ServiceNames.Authorization,
        ServiceNames.AgentsDb => ServiceNames.Agents,
        ServiceNames.FederationDb => ServiceNames.Federation,
        _ => throw new InvalidOperationException($"No service owns {DatabaseConnectionName}."),
    };

    /// <summary>A client whose requests go through the gateway to this service.</summary>
    public new HttpClient CreateClient() => CreateClient(ClientOptions);

    /// <inheritdoc cref="CreateClient()"/>
    public new HttpClient CreateClient(WebApplicationFactoryClientOptions options)
    {
        HttpMessageHandler handler = Gateway().CreateHandler();
        if (options.HandleCookies)
        {
            handler = new CookieContainerHandler { InnerHandler = handler };
        }

        if (options.AllowAutoRedirect)
        {
            handler = new RedirectHandler(options.MaxAutomaticRedirections) { InnerHandler = handler };
        }

        return new HttpClient(handler) { BaseAddress = options.BaseAddress };
    }

    /// <summary>A client through the gateway whose requests come from <paramref name="address"/> (with <see cref="SeesGatewayOnLoopback"/>).</summary>
    public HttpClient CreateClientFrom(System.Net.IPAddress address) =>
        new(Gateway().CreateHandler(address)) { BaseAddress = ClientOptions.BaseAddress };

    /// <summary>A client straight into the service, bypassing the gateway (internal API only).</summary>
    public HttpClient CreateDirectClient() => base.CreateClient();

    private InProcessGateway Gateway()
    {
        lock (_gatewayLock)
        {
            return _gateway ??= new InProcessGateway(new Dictionary<string, GatewayBackend>
            {
                [ServiceName] = GatewayBackend.InMemory(() => SeesGatewayOnLoopback
                    ? Server.CreateHandler(context => context.Connection.RemoteIpAddress = System.Net.IPAddress.Loopback)
                    : Server.CreateHandler()),
            });
        }
    }

    public virtual async Task InitializeAsync()
    {
        // A copy of the migrated template, before the host starts: migrating each fixture's database from nothing took a
        // good share of the suites' time. The migration below then only confirms it.
        await DatabaseTemplates.CreateAsync<TDbContext>(DatabaseConnectionString);
        await MessagingExtensions.MigrateAsync<TDbContext>(Services);

        // The services start the bus without waiting for its endpoints, and every suite has queues of its own: an event a
        // first test raises before its consumers' queues are bound would be dropped by the broker.
        if (Services.GetService<IBusControl>() is { } bus)
        {
            await bus.WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(60));
        }
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        await base.DisposeAsync();
        await TestInfrastructure.DropDatabaseAsync(DatabaseConnectionString);
        GC.SuppressFinalize(this);
    }
}
