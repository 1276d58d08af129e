using System.Security.Cryptography;
using System.Text;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Extensions;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using StackExchange.Redis;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>Tells the device how often it may poll (RFC 8628 §3.2 <c>interval</c>; the docs: 5 s).</summary>
public sealed class DevicePollingInterval(IOptions<TokenServiceOptions> options) : IOpenIddictServerHandler<ApplyDeviceAuthorizationResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyDeviceAuthorizationResponseContext>()
            .UseSingletonHandler<DevicePollingInterval>()
            .SetOrder(int.MinValue + 100_000)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ApplyDeviceAuthorizationResponseContext context)
    {
        if (string.IsNullOrEmpty(context.Response.Error))
        {
            context.Response[Parameters.Interval] = options.Value.DevicePollingIntervalSeconds;
        }

        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// A device that polls again within the interval is told <c>slow_down</c> (RFC 8628 §3.5). The last poll of each
/// device code is remembered in Redis, shared by every replica, for one interval; without Redis the check is skipped
/// (it spares the server, it protects nothing).
/// </summary>
public sealed partial class DevicePollingTooFast(
    IConnectionMultiplexer redis, TenantContext tenant, IOptions<TokenServiceOptions> options, ILogger<DevicePollingTooFast> logger)
    : IOpenIddictServerHandler<ValidateTokenRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
            .UseScopedHandler<DevicePollingTooFast>()
            // Before the device code is looked at: a poll that comes too early is answered without that work.
            .SetOrder(OpenIddictServerHandlers.Exchange.ValidateAuthentication.Descriptor.Order - 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ValidateTokenRequestContext context)
    {
        if (!context.Request.IsDeviceCodeGrantType() || string.IsNullOrEmpty(context.Request.DeviceCode) || !tenant.HasTenant)
        {
            return;
        }

        var interval = options.Value.DevicePollingIntervalSeconds;
        // The device code is a credential: only its hash names the key.
        var key = $"lumoauth:device-poll:{tenant.TenantId:N}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(context.Request.DeviceCode)))}";
        try
        {
            if (!await redis.GetDatabase().StringSetAsync(key, "1", TimeSpan.FromSeconds(interval), When.NotExists))
            {
                context.Reject(Errors.SlowDown, $"Polling too frequently: wait {interval} seconds between requests.");
            }
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            LogPollingUnchecked(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Device polling interval not checked: Redis is unavailable")]
    private static partial void LogPollingUnchecked(ILogger logger, Exception exception);
}
