using LumoAuth.Contracts.ApiKeys;
using LumoAuth.Contracts.Tenants;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using MassTransit;

namespace LumoAuth.Messaging.Consumers;

/// <summary>
/// Evicts in-process caches. Each replica has its own temporary queue for these, so every replica
/// hears every event (eviction is idempotent: no inbox needed).
/// </summary>
public sealed class TenantCacheEvictionConsumer(TenantDirectory directory, JwksCache jwks) : IConsumer<TenantUpdated>
{
    public Task Consume(ConsumeContext<TenantUpdated> context)
    {
        directory.Evict(context.Message.Slug);
        jwks.Evict(context.Message.Id);
        return Task.CompletedTask;
    }
}

public sealed class ApiKeyCacheEvictionConsumer(ApiKeyVerifier verifier) : IConsumer<ApiKeyRevoked>
{
    public Task Consume(ConsumeContext<ApiKeyRevoked> context)
    {
        verifier.Evict(context.Message.ApiKeyId);
        return Task.CompletedTask;
    }
}
