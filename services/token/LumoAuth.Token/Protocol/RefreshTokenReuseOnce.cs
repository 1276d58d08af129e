using LumoAuth.ServiceDefaults.Tenancy;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using StackExchange.Redis;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// OpenIddict lets a rotated refresh token be redeemed again for as long as its reuse leeway lasts, however often: that
/// grace exists for two concurrent refreshes of one client, but it would also let a thief who races the client start
/// chains of their own. Here the leeway is one extra redemption: the second extra one is reuse (RFC 9700 §4.14.2) and
/// ends the grant, as a use after the leeway does. Every use is counted atomically in Redis (also uses that arrive at
/// once, which all still find the token unredeemed), for the leeway's length from the first; when Redis cannot be
/// reached the token is let through, as OpenIddict alone would.
/// </summary>
public sealed partial class RefreshTokenReuseOnce(
    IOpenIddictTokenManager tokens, IConnectionMultiplexer redis, TenantContext tenant, ILogger<RefreshTokenReuseOnce> logger)
    : IOpenIddictServerHandler<ValidateTokenRequestContext>
{
    /// <summary>OpenIddict's "already redeemed" error URI for refresh tokens: the security event recorder knows it by it.</summary>
    private const string AlreadyRedeemedUri = "https://documentation.openiddict.com/errors/ID2012";

    // After every other check of the refresh request (DPoP proof and nonce, certificate binding, resources): a request
    // that fails one of them must not use up the client's one extra redemption.
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
            .UseScopedHandler<RefreshTokenReuseOnce>()
            .SetOrder(OpenIddictServerHandlers.Exchange.ValidateAuthentication.Descriptor.Order + 800)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    /// <summary>The first use and one concurrent retry.</summary>
    private const int AllowedUses = 2;

    private const string CountUse = """
        local uses = redis.call('INCR', KEYS[1])
        if uses == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return uses
        """;

    public async ValueTask HandleAsync(ValidateTokenRequestContext context)
    {
        if (context.IsRejected || !context.Request.IsRefreshTokenGrantType() || context.RefreshTokenPrincipal is not { } principal
            || !tenant.HasTenant || context.Options.RefreshTokenReuseLeeway is not { } leeway || leeway <= TimeSpan.Zero
            || principal.GetTokenId() is not { Length: > 0 } tokenId)
        {
            return;
        }

        long uses;
        try
        {
            // One script: the count and its expiry are set together, so no key is left without one.
            uses = (long)await redis.GetDatabase().ScriptEvaluateAsync(CountUse,
                [UsesKey(tenant.TenantId, tokenId)], [(long)leeway.TotalMilliseconds]);
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            LogUnavailable(logger, ex);
            return;
        }

        if (uses <= AllowedUses)
        {
            return;
        }

        context.Reject(Errors.InvalidGrant, "The specified refresh token has already been redeemed.", AlreadyRedeemedUri);
        if (principal.GetAuthorizationId() is { Length: > 0 } authorizationId)
        {
            await tokens.RevokeByAuthorizationIdAsync(authorizationId, context.CancellationToken);
        }
    }

    /// <summary>
    /// Uncounts a use that issued nothing because a service of ours was out (the token stays unredeemed), so the client's
    /// retries after the outage are not taken for reuse. Best effort: without Redis the count expires with the leeway.
    /// </summary>
    public static async Task GiveBackUseAsync(IConnectionMultiplexer redis, ILogger logger, Guid tenantId, string? tokenId)
    {
        if (tokenId is not { Length: > 0 })
        {
            return;
        }

        try
        {
            await redis.GetDatabase().ScriptEvaluateAsync(GiveBack, [UsesKey(tenantId, tokenId)]);
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            LogGiveBackFailed(logger, ex);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unavailable: a refresh token use that issued nothing stays counted until the leeway ends")]
    private static partial void LogGiveBackFailed(ILogger logger, Exception exception);

    private const string GiveBack = """
        local uses = tonumber(redis.call('GET', KEYS[1]))
        if uses and uses > 0 then return redis.call('DECR', KEYS[1]) end
        return 0
        """;

    private static string UsesKey(Guid tenantId, string tokenId) => $"lumoauth:refresh-uses:{tenantId:N}:{tokenId}";

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unavailable: a refresh token use is let through uncounted")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}
