using LumoAuth.Messaging;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace LumoAuth.Testing;

/// <summary>
/// One service in-process against the real servers: its own fresh database, its own messaging prefix,
/// migrations applied before the first request. Subclass per service; override <see cref="ConfigureServices"/>
/// to point its internal clients at other in-process services. <typeparamref name="TProgram"/> is any type of
/// the service's assembly (every service's top-level <c>Program</c> is global, so a test project that hosts
/// two services names them by their DbContext instead).
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

    public string DatabaseConnectionName { get; }

    public string DatabaseConnectionString { get; }

    public string MessagingPrefix { get; }

    public string PublicBaseUrl { get; init; } = "http://localhost";

    protected virtual IDictionary<string, string?> Settings => new Dictionary<string, string?>();

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
            ["LumoAuth:PlatformKey"] = TestInfrastructure.PlatformKey,
            ["LumoAuth:KeyEncryptionKey"] = TestInfrastructure.KeyEncryptionKey,
            ["LumoAuth:PublicBaseUrl"] = PublicBaseUrl,
            ["LumoAuth:Region"] = "us",
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

        builder.ConfigureServices(ConfigureServices);
    }

    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    public virtual async Task InitializeAsync()
    {
        await MessagingExtensions.MigrateAsync<TDbContext>(Services);
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        GC.SuppressFinalize(this);
    }
}
