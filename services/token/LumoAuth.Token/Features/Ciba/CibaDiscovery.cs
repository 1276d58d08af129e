using System.Text.Json;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Features.Ciba;

/// <summary>
/// CIBA Core §4 provider metadata: the back-channel endpoint, the delivery modes offered (poll and ping) and that a
/// <c>user_code</c> is understood. No signing algorithms are listed: signed authentication requests are not accepted.
/// </summary>
public sealed class CibaDiscovery : IOpenIddictServerHandler<HandleConfigurationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
            .UseSingletonHandler<CibaDiscovery>()
            .SetOrder(OpenIddictServerHandlers.Discovery.AttachPromptValues.Descriptor.Order + 4)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(HandleConfigurationRequestContext context)
    {
        if (context.Issuer is { } issuer)
        {
            context.Metadata["backchannel_authentication_endpoint"] = $"{issuer.AbsoluteUri.TrimEnd('/')}/{CibaDelivery.EndpointPath}";
            context.Metadata["backchannel_token_delivery_modes_supported"] = JsonSerializer.SerializeToElement(CibaDelivery.Supported);
            context.Metadata["backchannel_user_code_parameter_supported"] = true;
        }

        return ValueTask.CompletedTask;
    }
}
