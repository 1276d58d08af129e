using System.Text.Json;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Registration;
using Microsoft.AspNetCore;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// What a tenant's discovery document promises follows its settings, so a relying party can tell in advance what will
/// be honoured: <c>create</c> is in <c>prompt_values_supported</c> only while the tenant allows self-registration
/// (OpenID Connect Prompt Create §4.2), and <c>registration_endpoint</c> is there only while it allows applications to
/// register themselves (RFC 7591, RFC 8414 §2), and <c>client_id_metadata_document_supported</c> says whether a
/// client_id may be a Client ID Metadata Document's URL, and <c>ui_locales_supported</c> names the languages its pages are
/// offered in. Unknown settings (admin unreachable) read as "not offered" (but every language, as the pages then offer): a promise
/// we may not keep is worse than none.
/// </summary>
public sealed class TenantSettingsInDiscovery(TenantContext tenant, HostedPageSettingsCache settings) : IOpenIddictServerHandler<HandleConfigurationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
            .UseScopedHandler<TenantSettingsInDiscovery>()
            .SetOrder(OpenIddictServerHandlers.Discovery.AttachPromptValues.Descriptor.Order + 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(HandleConfigurationRequestContext context)
    {
        if (!tenant.HasTenant)
        {
            return;
        }

        var cancellationToken = context.Transaction.GetHttpRequest()?.HttpContext.RequestAborted ?? CancellationToken.None;
        var current = await settings.GetAsync(tenant.TenantId, cancellationToken);
        if (current?.RegistrationEnabled != true)
        {
            context.PromptValues.Remove(RegistrationEndpoints.PromptCreate);
        }

        // OIDC Discovery §3: the languages this tenant's pages may be asked for in.
        context.Metadata["ui_locales_supported"] = JsonSerializer.SerializeToElement(LanguagePolicy.Of(current).Offered);

        // Always present, so a client can tell "not here" from "not known" (MCP clients then fall back to registration).
        context.Metadata["client_id_metadata_document_supported"] = current?.ClientIdMetadataDocuments == true;

        if (current?.DynamicClientRegistration == true && context.Issuer is { } issuer)
        {
            context.Metadata["registration_endpoint"] = issuer.AbsoluteUri.TrimEnd('/') + "/" + DynamicRegistrationEndpoints.Path;
        }
    }
}
