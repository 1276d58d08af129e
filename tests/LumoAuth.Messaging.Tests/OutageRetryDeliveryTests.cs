using LumoAuth.Messaging.Consumers;
using LumoAuth.Testing;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LumoAuth.Messaging.Tests;

/// <summary>A consumer whose dependency stays out past the quick retries keeps its message until it is back.</summary>
public sealed class OutageRetryDeliveryTests : IAsyncLifetime
{
    private readonly string _database = TestInfrastructure.NewDatabase("outage");
    private readonly Attempts _attempts = new();
    private IHost _host = null!;

    [Fact]
    public async Task DependencyUnavailable_PastTheQuickRetries_IsTriedAgainUntilItIsBack()
    {
        await _host.Services.GetRequiredService<IBus>().Publish(new WidgetCreated(Guid.NewGuid(), "late"));

        // The quick retries try nine times (about 40 s); the outage retry goes on after them.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!_attempts.Succeeded && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.True(_attempts.Succeeded, $"not handled after {_attempts.Count} attempts");
        Assert.True(_attempts.Count > Attempts.Failing);
    }

    public async Task InitializeAsync()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:widgets"] = _database,
            ["ConnectionStrings:rabbitmq"] = TestInfrastructure.RabbitMq,
            ["ConnectionStrings:redis"] = TestInfrastructure.Redis,
            ["Messaging:Prefix"] = TestInfrastructure.NewMessagingPrefix("outage"),
            ["Messaging:OutageRetry:MinInterval"] = "00:00:01",
            ["Messaging:OutageRetry:MaxInterval"] = "00:00:02",
            ["Messaging:OutageRetry:IntervalDelta"] = "00:00:01",
            ["LumoAuth:InternalKey"] = TestInfrastructure.InternalKey,
        });
        builder.Services.AddSingleton(_attempts);
        builder.AddTenantServices();
        builder.AddServiceDatabase<WidgetDbContext>("widgets");
        builder.AddMessaging<WidgetDbContext>(bus => bus.AddConsumer<DependentConsumer>());
        _host = builder.Build();
        await using (var scope = _host.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<WidgetDbContext>().Database.EnsureCreatedAsync();
        }

        await _host.StartAsync();
        await _host.Services.GetRequiredService<IBusControl>().WaitForHealthStatus(BusHealthStatus.Healthy, TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        using var shutdown = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _host.StopAsync(shutdown.Token);
        _host.Dispose();
        await TestInfrastructure.DropDatabaseAsync(_database);
    }

    public sealed class Attempts
    {
        /// <summary>More than the quick retries' nine tries.</summary>
        public const int Failing = 12;

        private int _count;
        private volatile bool _succeeded;

        public int Count => Volatile.Read(ref _count);

        public bool Succeeded
        {
            get => _succeeded;
            set => _succeeded = value;
        }

        public int Next() => Interlocked.Increment(ref _count);
    }

    public sealed class DependentConsumer(Attempts attempts) : IConsumer<WidgetCreated>
    {
        public Task Consume(ConsumeContext<WidgetCreated> context)
        {
            if (attempts.Next() <= Attempts.Failing)
            {
                throw new DependencyUnavailableException("the service it needs is down");
            }

            attempts.Succeeded = true;
            return Task.CompletedTask;
        }
    }
}
