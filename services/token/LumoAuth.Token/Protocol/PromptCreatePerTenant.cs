using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Registration;
using Microsoft.AspNetCore;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// A tenant's discovery document lists <c>create</c> in <c>prompt_values_supported</c> only while the tenant allows
/// self-registration, so a relying party can tell in advance whether <c>prompt=create</c> will be honoured
/// (OpenID Connect Prompt Create §4.2). The authorization endpoint answers it as unsupported otherwise.
/// </summary>
public sealed class PromptCreatePerTenant(TenantContext tenant, HostedPageSettingsCache settings) : IOpenIddictServerHandler<HandleConfigurationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
            .UseScopedHandler<PromptCreatePerTenant>()
            .SetOrder(OpenIddictServerHandlers.Discovery.AttachPromptValues.Descriptor.Order + 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(HandleConfigurationRequestContext context)
    {
        if (!tenant.HasTenant || !context.PromptValues.Contains(RegistrationEndpoints.PromptCreate))
        {
            return;
        }

        var cancellationToken = context.Transaction.GetHttpRequest()?.HttpContext.RequestAborted ?? CancellationToken.None;
        // Unknown (admin unreachable) reads as "not offered": a promise we may not keep is worse than none.
        if ((await settings.GetAsync(tenant.TenantId, cancellationToken))?.RegistrationEnabled != true)
        {
            context.PromptValues.Remove(RegistrationEndpoints.PromptCreate);
        }
    }
}
