using System.Text.Json;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Features.Localization;

/// <summary>Discovery names the languages the hosted pages are written in (OIDC Discovery §3, <c>ui_locales_supported</c>).</summary>
public sealed class UiLocalesInDiscovery : IOpenIddictServerHandler<HandleConfigurationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
            .UseSingletonHandler<UiLocalesInDiscovery>()
            .SetOrder(OpenIddictServerHandlers.Discovery.AttachPromptValues.Descriptor.Order + 2)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    private static readonly JsonElement Languages = JsonSerializer.SerializeToElement(PageLanguage.Supported);

    public ValueTask HandleAsync(HandleConfigurationRequestContext context)
    {
        context.Metadata["ui_locales_supported"] = Languages;
        return ValueTask.CompletedTask;
    }
}
