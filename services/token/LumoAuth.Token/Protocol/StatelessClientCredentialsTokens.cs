using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Client-credentials access tokens are self-contained JWTs: no token row is written for them, so the
/// hottest path does no database write. (OpenIddict's <c>DisableTokenStorage</c> is global; refresh
/// tokens and codes of the other flows stay stored.) Runs just before OpenIddict creates the token entry.
/// </summary>
public sealed class StatelessClientCredentialsTokens : IOpenIddictServerHandler<GenerateTokenContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<GenerateTokenContext>()
            .UseSingletonHandler<StatelessClientCredentialsTokens>()
            .SetOrder(OpenIddictServerHandlers.Protection.CreateTokenEntry.Descriptor.Order - 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(GenerateTokenContext context)
    {
        if (context.TokenType == OpenIddictConstants.TokenTypeIdentifiers.AccessToken
            && context.Request?.IsClientCredentialsGrantType() == true)
        {
            context.CreateTokenEntry = false;
            context.PersistTokenPayload = false;
            context.IsReferenceToken = false;
        }

        return ValueTask.CompletedTask;
    }
}
