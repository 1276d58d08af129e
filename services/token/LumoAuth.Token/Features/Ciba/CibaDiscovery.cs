using System.Text.Json;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Features.Ciba;

/// <summary>
/// CIBA Core §4 provider metadata: the back-channel endpoint, the delivery modes offered (poll and ping), the algorithms
/// signed requests may use and that a <c>user_code</c> is understood.
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
            context.Metadata["backchannel_authentication_request_signing_alg_values_supported"] = JsonSerializer.SerializeToElement(SignedAuthenticationRequests.Algorithms);
            context.Metadata["backchannel_user_code_parameter_supported"] = true;
        }

        return ValueTask.CompletedTask;
    }
}
