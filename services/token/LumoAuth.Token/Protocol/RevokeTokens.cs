using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
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
    EventBatcher<TokenDbContext> batcher,
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
            catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
            {
                LogDenyListUnavailable(logger, ex);
                context.Reject(Errors.TemporarilyUnavailable, "The token cannot be revoked right now; try again.");
                return;
            }
        }

        if (principal.GetTokenId() is { Length: > 0 } tokenId && await tokens.FindByIdAsync(tokenId, context.CancellationToken) is { } entry)
        {
            await tokens.TryRevokeAsync(entry, context.CancellationToken);
            if (principal.GetTokenType() == TokenTypeIdentifiers.RefreshToken && principal.GetAuthorizationId() is { Length: > 0 } authorizationId)
            {
                // RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of the same grant.
                await tokens.RevokeByAuthorizationIdAsync(authorizationId, context.CancellationToken);
            }
        }

        Audit(context, principal);
    }

    /// <summary>The audit entry and <c>token.revoked</c> webhook, with the revoking client as actor.</summary>
    private void Audit(HandleRevocationRequestContext context, System.Security.Claims.ClaimsPrincipal principal)
    {
        var type = principal.GetTokenType();
        var id = type == TokenTypeIdentifiers.AccessToken ? principal.GetClaim(Claims.JwtId) : principal.GetTokenId();
        if (context.Request.ClientId is not { } clientId || string.IsNullOrEmpty(id))
        {
            return;
        }

        var kind = type == TokenTypeIdentifiers.AccessToken ? TokenTypeHints.AccessToken
            : type == TokenTypeIdentifiers.RefreshToken ? TokenTypeHints.RefreshToken
            : type ?? "unknown";
        RecordSecurityEvents.Record(batcher, context.Transaction.GetHttpRequest()?.HttpContext, clientId,
            new LumoAuth.Contracts.Clients.TokenRevoked(clientId, kind, principal.GetClaim(Claims.Subject), id));
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Access-token revocation failed: the Redis deny-list is unreachable")]
    private static partial void LogDenyListUnavailable(ILogger logger, Exception exception);
}
