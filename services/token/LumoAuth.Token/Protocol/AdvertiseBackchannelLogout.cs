using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// OpenID Connect Back-Channel Logout §2.1: discovery says we send logout tokens to clients that registered a
/// <c>backchannelLogoutUri</c>, and that every logout token carries the session's <c>sid</c> (BackchannelLogout).
/// OpenIddict does not know about back-channel logout, so it would not say either.
/// </summary>
public sealed class AdvertiseBackchannelLogout : IOpenIddictServerHandler<HandleConfigurationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
            .UseSingletonHandler<AdvertiseBackchannelLogout>()
            .SetOrder(OpenIddictServerHandlers.Discovery.AttachPromptValues.Descriptor.Order + 2)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(HandleConfigurationRequestContext context)
    {
        context.Metadata["backchannel_logout_supported"] = true;
        context.Metadata["backchannel_logout_session_required"] = true;
        return default;
    }
}
