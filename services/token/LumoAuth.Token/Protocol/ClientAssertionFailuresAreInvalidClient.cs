using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// OpenIddict answers a client assertion it cannot validate (wrong audience, bad signature…) with
/// <c>invalid_token</c>, which is not a token-endpoint error. A failed client authentication is
/// <c>invalid_client</c> (RFC 6749 §5.2, RFC 7523 §3.2), so that is what the client gets.
/// </summary>
public sealed class ClientAssertionFailuresAreInvalidClient : IOpenIddictServerHandler<ApplyTokenResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
            .UseSingletonHandler<ClientAssertionFailuresAreInvalidClient>()
            .SetOrder(int.MinValue + 50_000)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ApplyTokenResponseContext context)
    {
        if (context.Response.Error == Errors.InvalidToken && !string.IsNullOrEmpty(context.Request?.ClientAssertion))
        {
            context.Response.Error = Errors.InvalidClient;
            context.Response.ErrorDescription = "The client assertion is invalid.";
            context.Response.ErrorUri = null;
        }

        return ValueTask.CompletedTask;
    }
}
