using LumoAuth.Contracts;
using LumoAuth.Contracts.Clients;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using StackExchange.Redis;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Replaces OpenIddict's revocation step (which can only revoke stored tokens) so that stateless JWT access
/// tokens are revocable too (RFC 7009): their <c>jti</c> goes on the Redis deny-list until they expire.
/// A stored token is marked revoked; a refresh token takes every token of its grant with it. The stored revocation,
/// the grant's with its <c>GrantRevoked</c>, and the <c>TokenRevoked</c> audit event commit in one transaction through
/// the outbox: a crash leaves all of it or none (a state change, so not the batcher's).
/// </summary>
public sealed partial class RevokeTokens(
    RedisAccessTokenDenyList denyList,
    TokenTokenManager tokens,
    TokenDbContext db,
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
            catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
            {
                LogDenyListUnavailable(logger, ex);
                context.Reject(Errors.TemporarilyUnavailable, "The token cannot be revoked right now; try again.");
                return;
            }
        }

        var cancellationToken = context.CancellationToken;
        string? revokedGrant = null;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            if (principal.GetTokenId() is { Length: > 0 } tokenId && await tokens.FindByIdAsync(tokenId, cancellationToken) is { } entry)
            {
                if (principal.GetTokenType() == TokenTypeIdentifiers.RefreshToken && principal.GetAuthorizationId() is { Length: > 0 } authorizationId)
                {
                    // RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of the same grant. The grant
                    // first: its row lock, then its tokens', the order every revocation of a grant takes (no deadlock).
                    var (_, live) = await tokens.RevokeGrantAsync(authorizationId, cancellationToken);
                    revokedGrant = live ? authorizationId : null;
                }

                await tokens.TryRevokeAsync(entry, cancellationToken);
            }

            QueueAuditEvent(context, principal);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }

        if (revokedGrant is not null)
        {
            await tokens.DenyGrantAccessTokensAsync(revokedGrant);
        }
    }

    /// <summary>The audit entry and <c>token.revoked</c> webhook, with the revoking client as actor (the request adds its origin at save time).</summary>
    private void QueueAuditEvent(HandleRevocationRequestContext context, System.Security.Claims.ClaimsPrincipal principal)
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
        db.AddEvent(new TokenRevoked(clientId, kind, principal.GetClaim(Claims.Subject), id)
        {
            TenantId = tenant.TenantId,
            Actor = new EventActor(ActorTypes.Client, clientId),
        });
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Access-token revocation failed: the Redis deny-list is unreachable")]
    private static partial void LogDenyListUnavailable(ILogger logger, Exception exception);
}
