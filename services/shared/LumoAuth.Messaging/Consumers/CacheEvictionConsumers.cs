using LumoAuth.Contracts.ApiKeys;
using LumoAuth.Contracts.Tenants;
using LumoAuth.Contracts.Tokens;
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

/// <summary>
/// A rotated signing key reaches every service's key-set cache at once, not after its five minutes: a rotation
/// without grace (a compromised key) must stop validating the old key everywhere.
/// </summary>
public sealed class SigningKeyCacheEvictionConsumer(JwksCache jwks) : IConsumer<SigningKeyRotated>
{
    public Task Consume(ConsumeContext<SigningKeyRotated> context)
    {
        if (context.Message.TenantId is { } tenantId)
        {
            jwks.Evict(tenantId);
        }

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
