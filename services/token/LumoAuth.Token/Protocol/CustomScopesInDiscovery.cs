using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Scopes;
using Microsoft.AspNetCore;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// A tenant's discovery document lists its custom scopes (<c>/admin/scopes</c>) in <c>scopes_supported</c> beside the
/// standard ones, read when asked: discovery is fetched rarely and a new scope shows at once.
/// </summary>
public sealed class CustomScopesInDiscovery(TenantContext tenant, TokenDbContext db) : IOpenIddictServerHandler<HandleConfigurationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
            .UseScopedHandler<CustomScopesInDiscovery>()
            .SetOrder(OpenIddictServerHandlers.Discovery.AttachScopes.Descriptor.Order + 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(HandleConfigurationRequestContext context)
    {
        if (!tenant.HasTenant)
        {
            return;
        }

        var cancellationToken = context.Transaction.GetHttpRequest()?.HttpContext.RequestAborted ?? CancellationToken.None;
        context.Scopes.UnionWith(await TenantScopes.NamesAsync(db, tenant.TenantId, cancellationToken));
    }
}
