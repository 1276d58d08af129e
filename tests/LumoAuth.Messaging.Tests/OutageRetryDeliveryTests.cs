using LumoAuth.Messaging.Consumers;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace LumoAuth.Messaging.Tests;

/// <summary>A consumer whose dependency stays out past the quick retries keeps its message until it is back.</summary>
public sealed class OutageRetryDeliveryTests(OutageRetryDeliveryTests.FlakyDependencyHost host) : IClassFixture<OutageRetryDeliveryTests.FlakyDependencyHost>
{
    [Fact]
    public async Task DependencyUnavailable_PastTheQuickRetries_IsTriedAgainUntilItIsBack()
    {
        await host.Host.Services.GetRequiredService<IBus>().Publish(new WidgetCreated(Guid.NewGuid(), "late"));

        // The quick retries try nine times (about 40 s); the outage retry goes on after them.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!host.Attempts.Succeeded && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.True(host.Attempts.Succeeded, $"not handled after {host.Attempts.Count} attempts");
        Assert.True(host.Attempts.Count > Attempts.Failing);
    }

    /// <summary>The outage retry shortened to seconds, and a consumer whose dependency is down for its first attempts.</summary>
    public sealed class FlakyDependencyHost() : MessagingHost("outage")
    {
        public Attempts Attempts { get; } = new();

        protected override IEnumerable<KeyValuePair<string, string?>> Settings =>
        [
            new("Messaging:OutageRetry:MinInterval", "00:00:01"),
            new("Messaging:OutageRetry:MaxInterval", "00:00:02"),
            new("Messaging:OutageRetry:IntervalDelta", "00:00:01"),
        ];

        protected override void AddServices(IServiceCollection services) => services.AddSingleton(Attempts);

        protected override void AddConsumers(IBusRegistrationConfigurator bus) => bus.AddConsumer<DependentConsumer>();
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
