using System.Collections.Concurrent;
using LumoAuth.Contracts;
using LumoAuth.Messaging;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Inbox;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LumoAuth.Messaging.Tests;

/// <summary>A test-only contract: MassTransit routes by full type name, so it lives in its own namespace.</summary>
public sealed record WidgetCreated(Guid WidgetId, string Name) : IntegrationEvent;

public sealed class Widget
{
    public Guid Id { get; set; }

    public string Name { get; set; } = string.Empty;
}

public sealed class WidgetDbContext(DbContextOptions<WidgetDbContext> options) : DbContext(options)
{
    public DbSet<Widget> Widgets => Set<Widget>();

    public DbSet<WidgetEffect> Effects => Set<WidgetEffect>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.AddMessagingTables();
        modelBuilder.Entity<Widget>(e =>
        {
            e.ToTable("widgets");
            e.HasIndex(w => w.Name).IsUnique();
        });
        modelBuilder.Entity<WidgetEffect>().ToTable("widget_effects");
    }
}

/// <summary>What the consumer does: one row per handled message.</summary>
public sealed class WidgetEffect
{
    public Guid Id { get; set; }

    public Guid WidgetId { get; set; }
}

/// <summary>Records every delivery and applies its effect through the inbox.</summary>
public sealed class WidgetConsumer(WidgetDbContext db, DeliveryLog log) : IConsumer<WidgetCreated>
{
    public async Task Consume(ConsumeContext<WidgetCreated> context)
    {
        log.Deliveries.Add(context.Message.WidgetId);
        await db.HandleOnceAsync(nameof(WidgetConsumer), context.MessageId!.Value, _ =>
        {
            db.Effects.Add(new WidgetEffect { Id = Guid.NewGuid(), WidgetId = context.Message.WidgetId });
            return Task.CompletedTask;
        }, context.CancellationToken);
    }
}

public sealed class DeliveryLog
{
    public ConcurrentBag<Guid> Deliveries { get; } = [];
}

/// <summary>
/// A generic host with the real outbox relay, MassTransit over RabbitMQ and PostgreSQL. A test that needs other settings,
/// services or consumers derives a fixture of its own and overrides the hooks.
/// </summary>
public class MessagingHost : IAsyncLifetime
{
    private readonly string _database;

    public MessagingHost()
        : this("widgets")
    {
    }

    protected MessagingHost(string name)
    {
        _database = TestInfrastructure.NewDatabase(name);
        Prefix = TestInfrastructure.NewMessagingPrefix(name);
    }

    /// <summary>The prefix of this host's queues and exchanges on the shared broker.</summary>
    public string Prefix { get; }

    public IHost Host { get; private set; } = null!;

    public RecordingLoggerProvider Logs { get; } = new();

    /// <summary>Configuration on top of the connection strings.</summary>
    protected virtual IEnumerable<KeyValuePair<string, string?>> Settings => [];

    /// <summary>Services registered before the tenant and messaging services (which add theirs only when missing).</summary>
    protected virtual void AddServices(IServiceCollection services)
    {
    }

    protected virtual void AddConsumers(IBusRegistrationConfigurator bus) => bus.AddConsumer<WidgetConsumer>();

    public async Task InitializeAsync()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:widgets"] = _database,
            ["ConnectionStrings:rabbitmq"] = TestInfrastructure.RabbitMq,
            ["ConnectionStrings:redis"] = TestInfrastructure.Redis,
            ["Messaging:Prefix"] = Prefix,
            ["LumoAuth:InternalKey"] = TestInfrastructure.InternalKey,
        });
        builder.Configuration.AddInMemoryCollection(Settings);
        builder.Logging.AddProvider(Logs);
        builder.Services.AddMemoryCache();
        builder.Services.AddSingleton<DeliveryLog>();
        AddServices(builder.Services);
        builder.AddTenantServices();
        builder.AddServiceDatabase<WidgetDbContext>("widgets");
        builder.AddMessaging<WidgetDbContext>(AddConsumers);
        builder.Services.AddEventBatcher<WidgetDbContext>();
        Host = builder.Build();
        await using (var scope = Host.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<WidgetDbContext>().Database.EnsureCreatedAsync();
        }

        await Host.StartAsync();
        await Host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
    }

    /// <summary>How many outbox rows mention the id (rows waiting to be published).</summary>
    public async Task<int> OutboxRowsMentioningAsync(Guid id)
    {
        await using var scope = Host.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<WidgetDbContext>().Database
            .SqlQuery<int>($"SELECT count(*)::int AS \"Value\" FROM outbox_messages WHERE body::text LIKE {"%" + id + "%"}").SingleAsync();
    }

    /// <summary>Waits until the consumer has applied the effect of the widget's event.</summary>
    public Task WaitForEffectAsync(Guid widgetId, TimeSpan? timeout = null) =>
        ApiAssert.EventuallyAsync(async () =>
        {
            await using var scope = Host.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
            return await db.Effects.AnyAsync(e => e.WidgetId == widgetId) ? "delivered" : null;
        }, timeout ?? TimeSpan.FromSeconds(20));

    public async Task DisposeAsync()
    {
        await StopWithinBoundsAsync(Host);
        await TestInfrastructure.DropDatabaseAsync(_database);
    }

    /// <summary>
    /// Stops and disposes a test host, giving up after bounded waits. After the fault tests restart the broker, MassTransit's
    /// receive transport can wait for a connection forever and hold up the bus's stop (seen once in CI: a dump showed
    /// Host.StopAsync waiting on WaitForConnectionPipe); a host whose broker never answered can do the same. The tests are
    /// over by then: give the stop half a minute, then let the process go on.
    /// </summary>
    public static async Task StopWithinBoundsAsync(IHost host)
    {
        using var shutdown = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await host.StopAsync(shutdown.Token).WaitAsync(TimeSpan.FromSeconds(35));
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
        }

        try
        {
            await Task.Run(host.Dispose).WaitAsync(TimeSpan.FromSeconds(15));
        }
        catch (TimeoutException)
        {
        }
    }
}
