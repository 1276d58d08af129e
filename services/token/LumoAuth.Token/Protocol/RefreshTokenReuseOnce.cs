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
/// ends the grant, as a use after the leeway does. The count lives in Redis for the leeway's length; when Redis cannot
/// be reached the token is let through, as OpenIddict alone would.
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

    public async ValueTask HandleAsync(ValidateTokenRequestContext context)
    {
        if (context.IsRejected || !context.Request.IsRefreshTokenGrantType() || context.RefreshTokenPrincipal is not { } principal
            || !tenant.HasTenant || context.Options.RefreshTokenReuseLeeway is not { } leeway || leeway <= TimeSpan.Zero
            || principal.GetTokenId() is not { Length: > 0 } tokenId
            || await tokens.FindByIdAsync(tokenId, context.CancellationToken) is not { } token
            || !await tokens.HasStatusAsync(token, Statuses.Redeemed, context.CancellationToken))
        {
            return;
        }

        // Redeemed and still accepted by OpenIddict: this is a use inside the leeway.
        bool first;
        try
        {
            first = await redis.GetDatabase().StringSetAsync(
                $"lumoauth:refresh-reuse:{tenant.TenantId:N}:{tokenId}", 1, leeway, When.NotExists);
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            LogUnavailable(logger, ex);
            return;
        }

        if (first)
        {
            return;
        }

        context.Reject(Errors.InvalidGrant, "The specified refresh token has already been redeemed.", AlreadyRedeemedUri);
        if (principal.GetAuthorizationId() is { Length: > 0 } authorizationId)
        {
            await tokens.RevokeByAuthorizationIdAsync(authorizationId, context.CancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unavailable: a refresh token inside its reuse leeway is let through uncounted")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}
