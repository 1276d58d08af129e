using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LumoAuth.Messaging.Consumers;

/// <summary>A cache of this replica kept fresh by eviction events on its per-replica queues, and how to empty it.</summary>
public sealed record EvictedCache(string Name, Action<IServiceProvider> Clear);

/// <summary>
/// Per-replica eviction queues are temporary (auto-delete, not durable): a broker restart or a dropped connection
/// deletes them, and evictions published before they are declared again are lost while this process's caches stay
/// warm. So when such an endpoint is ready again after having been ready before (a reconnect), every cache those
/// queues keep fresh is emptied. The first ready at start-up clears nothing: the caches start empty.
/// </summary>
public sealed partial class EvictionQueueReconnects(IServiceProvider services, IEnumerable<EvictedCache> caches, ILogger<EvictionQueueReconnects> logger)
    : IReceiveEndpointObserver
{
    private readonly EvictedCache[] _caches = caches.ToArray();
    private readonly ConcurrentDictionary<Uri, byte> _readyBefore = new();

    public Task Ready(ReceiveEndpointReady ready)
    {
        // Each endpoint that comes back clears again: an eviction lost before the last queue was declared is covered too.
        if (!_readyBefore.TryAdd(ready.InputAddress, 0))
        {
            foreach (var cache in _caches)
            {
                cache.Clear(services);
            }

            LogCleared(logger, ready.InputAddress, _caches.Length);
        }

        return Task.CompletedTask;
    }

    public Task Stopping(ReceiveEndpointStopping stopping) => Task.CompletedTask;

    public Task Completed(ReceiveEndpointCompleted completed) => Task.CompletedTask;

    public Task Faulted(ReceiveEndpointFaulted faulted) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Eviction queue {InputAddress} is back after a reconnect; cleared {Count} caches whose evictions may have been missed")]
    private static partial void LogCleared(ILogger logger, Uri inputAddress, int count);
}

public static class ReplicaEndpoints
{
    /// <summary>
    /// Gives the consumer a queue of this replica's own (so every replica hears every eviction), temporary since a
    /// restarted replica starts with empty caches; the caches registered as <see cref="EvictedCache"/> are cleared when
    /// it comes back after a reconnect (<see cref="EvictionQueueReconnects"/>).
    /// </summary>
    public static void PerReplica(this IEndpointRegistrationConfigurator endpoint, string instanceId)
    {
        endpoint.Temporary = true;
        endpoint.InstanceId = instanceId;
        endpoint.AddConfigureEndpointCallback((context, configurator) =>
            configurator.ConnectReceiveEndpointObserver(context.GetRequiredService<EvictionQueueReconnects>()));
    }

    /// <summary>Registers a cache for clearing after a reconnect of the per-replica queues.</summary>
    public static IServiceCollection AddEvictedCache<TCache>(this IServiceCollection services, Action<TCache> clear)
        where TCache : notnull =>
        services.AddSingleton(new EvictedCache(typeof(TCache).Name, sp => clear(sp.GetRequiredService<TCache>())));
}
