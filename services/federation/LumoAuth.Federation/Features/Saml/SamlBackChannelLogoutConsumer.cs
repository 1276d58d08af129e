using LumoAuth.Contracts.Sessions;
using LumoAuth.Federation.Data;
using LumoAuth.ServiceDefaults.Tenancy;
using MassTransit;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>
/// Sessions the token service ended without a browser reach the SAML apps they signed in to, over the back channel
/// (<see cref="SamlAppLogout.BackChannelAsync"/>). A logout is the browser's: its page frames the apps' logouts already.
/// </summary>
public sealed class SamlBackChannelLogoutConsumer(FederationDbContext db, TenantDirectory tenants, SamlAppLogout logout) : IConsumer<SessionsRevoked>
{
    private const string BrowserLogout = "logout";

    public async Task Consume(ConsumeContext<SessionsRevoked> context)
    {
        if (context.Message.TenantId is not { } tenantId || context.Message.Reason == BrowserLogout || context.Message.SessionIds.Count == 0
            || await tenants.FindByIdAsync(tenantId, context.CancellationToken) is not { } tenant)
        {
            return;
        }

        foreach (var sessionId in context.Message.SessionIds)
        {
            await logout.BackChannelAsync(db, tenantId, tenant.Slug, sessionId, context.CancellationToken);
        }
    }
}
