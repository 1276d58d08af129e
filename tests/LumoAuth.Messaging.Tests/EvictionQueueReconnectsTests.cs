using LumoAuth.Messaging.Consumers;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace LumoAuth.Messaging.Tests;

/// <summary>A per-replica eviction queue that comes back after a reconnect empties the caches it keeps fresh.</summary>
public sealed class EvictionQueueReconnectsTests
{
    private int _clears;

    private EvictionQueueReconnects Observer() => new(
        new ServiceCollection().BuildServiceProvider(), [new EvictedCache("counted", _ => Interlocked.Increment(ref _clears))],
        NullLogger<EvictionQueueReconnects>.Instance);

    [Fact]
    public async Task FirstReady_ClearsNothing_ReadyAgain_Clears()
    {
        var observer = Observer();
        var tenants = new Ready(new Uri("rabbitmq://localhost/t-tenant-cache-eviction-abc?temporary=true"));

        await observer.Ready(tenants);
        Assert.Equal(0, _clears);

        await observer.Ready(tenants);
        Assert.Equal(1, _clears);
        await observer.Ready(tenants);
        Assert.Equal(2, _clears);
    }

    [Fact]
    public async Task EachEndpoint_StartsWithoutClearing()
    {
        var observer = Observer();

        await observer.Ready(new Ready(new Uri("rabbitmq://localhost/t-tenant-cache-eviction-abc")));
        await observer.Ready(new Ready(new Uri("rabbitmq://localhost/t-api-key-cache-eviction-abc")));

        Assert.Equal(0, _clears);
    }

    private sealed class Ready(Uri inputAddress) : ReceiveEndpointReady
    {
        public Uri InputAddress { get; } = inputAddress;

        public IReceiveEndpoint ReceiveEndpoint => null!;

        public bool IsStarted => true;
    }
}
