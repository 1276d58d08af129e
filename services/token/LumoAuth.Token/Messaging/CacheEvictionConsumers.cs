using LumoAuth.Contracts.Clients;
using LumoAuth.Contracts.Tenants;
using LumoAuth.Contracts.Tokens;
using LumoAuth.Messaging.Consumers;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Ciba;
using LumoAuth.Token.Features.Logout;
using LumoAuth.Token.Protocol;
using MassTransit;

namespace LumoAuth.Token.Messaging;

/// <summary>
/// Drops a changed or deleted client from this replica's cache. Every replica has its own temporary
/// queue for it, so each hears every change; eviction is idempotent, so redelivery needs no inbox.
/// </summary>
public sealed class ClientCacheEvictionConsumer(ClientCache cache) : IConsumer<ClientUpdated>, IConsumer<ClientDeleted>
{
    public Task Consume(ConsumeContext<ClientUpdated> context)
    {
        Evict(context.Message.TenantId, context.Message.ClientId);
        return Task.CompletedTask;
    }

    public Task Consume(ConsumeContext<ClientDeleted> context)
    {
        Evict(context.Message.TenantId, context.Message.ClientId);
        return Task.CompletedTask;
    }

    private void Evict(Guid? tenantId, string clientId)
    {
        if (tenantId is { } id)
        {
            cache.Evict(id, clientId);
        }
    }
}

/// <summary>Rebuilds a tenant's server configuration on this replica after another replica rotated its signing key.</summary>
public sealed class SigningKeyRotatedConsumer(TenantServerOptionsMonitor serverOptions) : IConsumer<SigningKeyRotated>
{
    public Task Consume(ConsumeContext<SigningKeyRotated> context)
    {
        if (context.Message.TenantId is { } tenantId)
        {
            serverOptions.Evict(tenantId);
        }

        return Task.CompletedTask;
    }
}

/// <summary>Drops a tenant's cached hosted-page settings (branding, registration switch) on this replica when admin changes them.</summary>
public sealed class HostedPageSettingsEvictionConsumer(HostedPageSettingsCache cache) : IConsumer<TenantSettingsChanged>
{
    public Task Consume(ConsumeContext<TenantSettingsChanged> context)
    {
        cache.Evict(context.Message.Id);
        return Task.CompletedTask;
    }
}

public static class TokenConsumers
{
    private const int ClientCallbackSlots = 64;

    /// <summary>The token service's consumers; cache evictions listen on a queue of this replica's own.</summary>
    public static void Register(IBusRegistrationConfigurator bus)
    {
        var instance = $"token-{Environment.ProcessId}-{Guid.NewGuid():N}";
        var instanceId = instance[..Math.Min(instance.Length, 48)];
        bus.AddConsumer<ClientCacheEvictionConsumer>().Endpoint(e => e.PerReplica(instanceId));
        bus.AddConsumer<SigningKeyRotatedConsumer>().Endpoint(e => e.PerReplica(instanceId));
        bus.AddConsumer<HostedPageSettingsEvictionConsumer>().Endpoint(e => e.PerReplica(instanceId));
        bus.AddConsumer<McpResourcesEvictionConsumer>().Endpoint(e => e.PerReplica(instanceId));
        bus.AddConsumer<Features.Scopes.ScopeClaimsEvictionConsumer>().Endpoint(e => e.PerReplica(instanceId));
        // Emptied when those queues come back after a broker reconnect, as evictions may have been lost meanwhile. The
        // server options re-read the keys every minute anyway.
        bus.AddEvictedCache<ClientCache>(clients => clients.Clear());
        bus.AddEvictedCache<HostedPageSettingsCache>(settings => settings.Clear());
        bus.AddEvictedCache<McpResources>(resources => resources.Clear());
        bus.AddEvictedCache<Features.Scopes.ScopeClaimsCache>(claims => claims.Clear());
        // Durable and shared by the replicas: one of them revokes.
        bus.AddConsumer<UserRevocationConsumer>();
        bus.AddConsumer<BackchannelLogoutConsumer>();
        bus.AddConsumer<Features.Sessions.SessionTokenDenial>();
        bus.AddConsumer<Protocol.GrantTokenDenial>();
        // Calls to clients' servers wait on the network, not the CPU: many at once, so a few slow or silent servers (each
        // holding a slot for its timeouts and retries) do not hold up every other tenant's logouts and pings.
        bus.AddConsumer<BackchannelLogoutDelivery>().Endpoint(e => (e.ConcurrentMessageLimit, e.PrefetchCount) = (ClientCallbackSlots, ClientCallbackSlots));
        bus.AddConsumer<CibaPingConsumer>().Endpoint(e => (e.ConcurrentMessageLimit, e.PrefetchCount) = (ClientCallbackSlots, ClientCallbackSlots));
        bus.AddConsumer<Features.Login.TrustedDeviceCleanupConsumer>();
    }
}
