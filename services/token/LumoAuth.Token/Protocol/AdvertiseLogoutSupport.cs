using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// OpenID Connect Back-Channel Logout §2.1 and Front-Channel Logout §3: discovery says we send logout tokens to clients
/// that registered a <c>backchannelLogoutUri</c> and load the <c>frontchannelLogoutUri</c> of those that registered
/// one, both always with the session's <c>sid</c> (and <c>iss</c>). OpenIddict knows neither, so it would not say so.
/// </summary>
public sealed class AdvertiseLogoutSupport : IOpenIddictServerHandler<HandleConfigurationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
            .UseSingletonHandler<AdvertiseLogoutSupport>()
            .SetOrder(OpenIddictServerHandlers.Discovery.AttachPromptValues.Descriptor.Order + 2)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(HandleConfigurationRequestContext context)
    {
        context.Metadata["backchannel_logout_supported"] = true;
        context.Metadata["backchannel_logout_session_supported"] = true;
        context.Metadata["frontchannel_logout_supported"] = true;
        context.Metadata["frontchannel_logout_session_supported"] = true;
        return default;
    }
}
