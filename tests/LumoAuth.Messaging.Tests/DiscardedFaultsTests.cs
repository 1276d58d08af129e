using LumoAuth.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using RabbitMQ.Client;
using RabbitMQ.Client.Exceptions;

namespace LumoAuth.Messaging.Tests;

/// <summary>
/// A queue marked <see cref="MessagingExtensions.DiscardFaults"/> drops a message that fails after every retry, where any
/// other queue parks it in its <c>_error</c> queue (what an address-link request must never leave behind).
/// </summary>
public sealed class DiscardedFaultsTests(DiscardedFaultsTests.FailingHost host) : IClassFixture<DiscardedFaultsTests.FailingHost>
{
    [Fact]
    public async Task AMessageThatKeepsFailing_IsParkedInTheErrorQueue_UnlessItsQueueDiscardsFaults()
    {
        await host.Host.Services.GetRequiredService<IBus>().Publish(new WidgetCreated(Guid.NewGuid(), "always fails"));

        // The quick retries take about 40 s; then the keeping queue's copy lands in its error queue.
        await ApiAssert.EventuallyAsync(async () => await MessagesInAsync(host.KeepingQueue + "_error") == 1 ? "parked" : null, TimeSpan.FromSeconds(90));
        // The discarding queue's copy has failed as often (its last try included), and had a moment to be moved, were it to be.
        await ApiAssert.EventuallyAsync(() => Task.FromResult(
            host.Failures.GetValueOrDefault(host.DiscardingQueue) >= host.Failures[host.KeepingQueue] ? "retried alike" : null), TimeSpan.FromSeconds(30));
        await Task.Delay(TimeSpan.FromSeconds(2));

        Assert.Null(await MessagesInAsync(host.DiscardingQueue + "_error"));
        Assert.Equal(0u, await MessagesInAsync(host.DiscardingQueue));
    }

    /// <summary>The messages waiting in a queue, or null when the broker has no such queue.</summary>
    private static async Task<uint?> MessagesInAsync(string queue)
    {
        var factory = new ConnectionFactory { Uri = new Uri(TestInfrastructure.RabbitMq) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        try
        {
            return (await channel.QueueDeclarePassiveAsync(queue)).MessageCount;
        }
        catch (OperationInterruptedException)
        {
            return null;
        }
    }

    public sealed class FailingHost() : MessagingHost("faults")
    {
        public string KeepingQueue => Prefix + "-keeping";

        public string DiscardingQueue => Prefix + "-discarding";

        public System.Collections.Concurrent.ConcurrentDictionary<string, int> Failures { get; } = new();

        protected override void AddServices(IServiceCollection services) => services.AddSingleton(this);

        protected override void AddConsumers(IBusRegistrationConfigurator bus)
        {
            bus.AddConsumer<KeepingConsumer>().Endpoint(e => e.Name = KeepingQueue);
            bus.AddConsumer<DiscardingConsumer>().Endpoint(e => e.Name = DiscardingQueue);
            bus.DiscardFaults(DiscardingQueue);
        }
    }

    public sealed class KeepingConsumer(FailingHost host) : IConsumer<WidgetCreated>
    {
        public Task Consume(ConsumeContext<WidgetCreated> context) => Fail(host, host.KeepingQueue);
    }

    public sealed class DiscardingConsumer(FailingHost host) : IConsumer<WidgetCreated>
    {
        public Task Consume(ConsumeContext<WidgetCreated> context) => Fail(host, host.DiscardingQueue);
    }

    private static Task Fail(FailingHost host, string queue)
    {
        host.Failures.AddOrUpdate(queue, 1, (_, n) => n + 1);
        throw new InvalidOperationException("a defect, not an outage: retried quickly, then given up");
    }
}
