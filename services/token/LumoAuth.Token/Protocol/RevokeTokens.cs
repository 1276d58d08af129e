using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using StackExchange.Redis;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Replaces OpenIddict's revocation step (which can only revoke stored tokens) so that stateless JWT access
/// tokens are revocable too (RFC 7009): their <c>jti</c> goes on the Redis deny-list until they expire.
/// A stored token is marked revoked; a refresh token takes every token of its grant with it.
/// </summary>
public sealed partial class RevokeTokens(
    RedisAccessTokenDenyList denyList,
    IOpenIddictTokenManager tokens,
    TenantContext tenant,
    ILogger<RevokeTokens> logger) : IOpenIddictServerHandler<HandleRevocationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleRevocationRequestContext>()
            .UseScopedHandler<RevokeTokens>()
            .SetOrder(OpenIddictServerHandlers.Revocation.RevokeToken.Descriptor.Order)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(HandleRevocationRequestContext context)
    {
        if (context.GenericTokenPrincipal is not { } principal)
        {
            context.Reject(Errors.InvalidToken, "The token is invalid.");
            return;
        }

        if (principal.GetTokenType() == TokenTypeIdentifiers.AccessToken
            && principal.GetClaim(Claims.JwtId) is { Length: > 0 } jti
            && principal.GetExpirationDate() is { } expiresAt)
        {
            try
            {
                await denyList.RevokeAsync(tenant.TenantId, jti, expiresAt);
            }
            catch (RedisException ex)
            {
                LogDenyListUnavailable(logger, ex);
                context.Reject(Errors.TemporarilyUnavailable, "The token cannot be revoked right now; try again.");
                return;
            }
        }

        if (principal.GetTokenId() is not { Length: > 0 } tokenId || await tokens.FindByIdAsync(tokenId, context.CancellationToken) is not { } entry)
        {
            return;
        }

        await tokens.TryRevokeAsync(entry, context.CancellationToken);
        if (principal.GetTokenType() == TokenTypeIdentifiers.RefreshToken && principal.GetAuthorizationId() is { Length: > 0 } authorizationId)
        {
            // RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of the same grant.
            await tokens.RevokeByAuthorizationIdAsync(authorizationId, context.CancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Access-token revocation failed: the Redis deny-list is unreachable")]
    private static partial void LogDenyListUnavailable(ILogger logger, Exception exception);
}
