using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>
/// Revoked <c>jti</c>s of stateless access tokens, shared by every service through Redis. An entry lives
/// exactly as long as the token could still be accepted (its expiry plus clock skew), so the list stays
/// small. The token service writes it (revocation, session and user revocation); every service's bearer
/// validation and the token service's introspection read it.
/// </summary>
public sealed partial class RedisAccessTokenDenyList(IConnectionMultiplexer redis, TimeProvider time, ILogger<RedisAccessTokenDenyList> logger) : IAccessTokenDenyList
{
    /// <summary>Bearer validation allows this much clock skew, so an entry outlives the token's <c>exp</c> by as much.</summary>
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(60);

    public static RedisKey KeyFor(Guid tenantId, string jti) => $"lumoauth:revoked-jti:{tenantId:N}:{jti}";

    public async ValueTask<bool> IsRevokedAsync(Guid tenantId, string jti, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(jti) || jti.Length > 200)
        {
            return false;
        }

        try
        {
            return await redis.GetDatabase().KeyExistsAsync(KeyFor(tenantId, jti));
        }
        catch (RedisException ex)
        {
            // Availability over revocation: tokens stay short-lived, and an outage must not stop every API.
            LogUnavailable(logger, ex);
            return false;
        }
    }

    /// <summary>Denies the token until it would have expired anyway. Throws <see cref="RedisException"/> when Redis is unreachable.</summary>
    public async Task RevokeAsync(Guid tenantId, string jti, DateTimeOffset expiresAt)
    {
        var ttl = expiresAt - time.GetUtcNow() + Skew;
        if (ttl <= TimeSpan.Zero)
        {
            return;
        }

        await redis.GetDatabase().StringSetAsync(KeyFor(tenantId, jti), "1", ttl);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The access-token deny-list is unavailable; revoked tokens are not being refused")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}

public static class RedisDenyListExtensions
{
    /// <summary>
    /// Registers the Redis deny-list (and a shared <see cref="IConnectionMultiplexer"/> for <c>ConnectionStrings:redis</c>
    /// unless one is registered) so this service's bearer validation refuses revoked access tokens.
    /// </summary>
    public static IHostApplicationBuilder AddRedisAccessTokenDenyList(this IHostApplicationBuilder builder)
    {
        var connectionString = builder.Configuration.GetConnectionString(ServiceNames.Redis)
            ?? throw new InvalidOperationException($"Connection string '{ServiceNames.Redis}' is missing.");
        builder.Services.TryAddSingleton<IConnectionMultiplexer>(_ =>
        {
            var options = ConfigurationOptions.Parse(connectionString);
            // Start and keep retrying while Redis is down instead of failing the service's start.
            options.AbortOnConnectFail = false;
            return ConnectionMultiplexer.Connect(options);
        });
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<RedisAccessTokenDenyList>();
        // Idempotent: the token service and AddTenantServices may both ask for it.
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IAccessTokenDenyList, RedisAccessTokenDenyList>());
        return builder;
    }
}
