using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// OpenIddict returns a token's scopes only to callers named in its audience; ours name the tenant's API,
/// never a client, so the documented <c>scope</c> member would always be missing. Every caller allowed to
/// introspect an access token (see <see cref="IntrospectionAuthorizedParty"/>) sees its scopes.
/// </summary>
public sealed class IntrospectionScopes : IOpenIddictServerHandler<HandleIntrospectionRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleIntrospectionRequestContext>()
            .UseSingletonHandler<IntrospectionScopes>()
            .SetOrder(OpenIddictServerHandlers.Introspection.AttachApplicationClaims.Descriptor.Order + 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(HandleIntrospectionRequestContext context)
    {
        if (context.GenericTokenPrincipal is { } principal && principal.GetTokenType() == TokenTypeIdentifiers.AccessToken)
        {
            context.Scopes.UnionWith(principal.GetScopes());
        }

        return ValueTask.CompletedTask;
    }
}
