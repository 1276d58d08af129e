using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Jit;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Whenever the server validates one of its access tokens (introspection, userinfo), a stateless token
/// still counts as revoked when its <c>jti</c> or its client's cut-off is on the deny-list, or its client was deleted or deactivated:
/// there is no token row to mark, so these are the only places revocation lives. A JIT token (signed for the agents
/// service) names an agent as its client, not an OAuth client: only the deny-list speaks for it.
/// </summary>
public sealed class RefuseRevokedAccessTokens(IEnumerable<IAccessTokenDenyList> denyLists, TokenApplicationManager applications, TenantContext tenant)
    : IOpenIddictServerHandler<ValidateTokenContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenContext>()
            .UseScopedHandler<RefuseRevokedAccessTokens>()
            .SetOrder(OpenIddictServerHandlers.Protection.ValidateExpirationDate.Descriptor.Order + 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ValidateTokenContext context)
    {
        if (context.Principal is not { } principal || principal.GetTokenType() != TokenTypeIdentifiers.AccessToken || !tenant.HasTenant)
        {
            return;
        }

        // The same facts the other services' bearer validation checks, so every verdict agrees (a reactivated
        // client's tokens from before its deactivation stay void here too).
        var facts = new AccessTokenFacts(
            principal.GetClaim(Claims.JwtId), principal.GetClaim(Claims.ClientId) ?? principal.GetPresenters().FirstOrDefault(), principal.GetCreationDate(),
            principal.GetClaim(Claims.Subject));
        foreach (var denyList in denyLists)
        {
            if (await denyList.IsRevokedAsync(tenant.TenantId, facts, context.CancellationToken))
            {
                context.Reject(Errors.InvalidToken, "The token has been revoked.");
                return;
            }
        }

        // A JIT token's client is an agent, which the agents service keeps (and voids through the deny-list above).
        if (principal.GetClaim(JitTokenClaims.Jit) is "true")
        {
            return;
        }

        foreach (var presenter in principal.GetPresenters())
        {
            if (await applications.FindByClientIdAsync(presenter, context.CancellationToken) is null)
            {
                context.Reject(Errors.InvalidToken, "The client the token was issued to no longer exists.");
                return;
            }
        }
    }
}
