using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Replaces OpenIddict's audience/presenter rule at introspection. Our access tokens name the tenant's API
/// (the issuer) as audience, and any confidential client of the tenant may act as a resource server, so
/// it may introspect the tenant's access tokens (the client lookup is tenant-scoped, so another tenant's
/// client never gets here). Refresh tokens and codes stay private to the client they were issued to.
/// </summary>
public sealed class IntrospectionAuthorizedParty : IOpenIddictServerHandler<ValidateIntrospectionRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateIntrospectionRequestContext>()
            .UseSingletonHandler<IntrospectionAuthorizedParty>()
            .SetOrder(OpenIddictServerHandlers.Introspection.ValidateAuthorizedParty.Descriptor.Order)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ValidateIntrospectionRequestContext context)
    {
        var principal = context.GenericTokenPrincipal;
        if (principal is null || string.IsNullOrEmpty(context.ClientId) || principal.GetTokenType() == TokenTypeIdentifiers.AccessToken)
        {
            return ValueTask.CompletedTask;
        }

        if (!principal.HasPresenter(context.ClientId))
        {
            context.Reject(Errors.InvalidToken, "The client is not allowed to introspect this token.");
        }

        return ValueTask.CompletedTask;
    }
}
