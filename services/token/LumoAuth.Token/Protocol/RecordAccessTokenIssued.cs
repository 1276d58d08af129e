using Microsoft.AspNetCore;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Clients;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Correlation;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Data;
using Microsoft.IdentityModel.JsonWebTokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Records each issued access token for the audit log through the batcher: no write on the request
/// path, one insert per batch.
/// </summary>
public sealed class RecordAccessTokenIssued(EventBatcher<TokenDbContext> batcher) : IOpenIddictServerHandler<ProcessSignInContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
            .AddFilter<OpenIddictServerHandlerFilters.RequireAccessTokenGenerated>()
            .UseSingletonHandler<RecordAccessTokenIssued>()
            .SetOrder(OpenIddictServerHandlers.GenerateAccessToken.Descriptor.Order + 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ProcessSignInContext context)
    {
        if (context.AccessTokenPrincipal is not { } principal || string.IsNullOrEmpty(context.AccessToken))
        {
            return ValueTask.CompletedTask;
        }

        var clientId = context.Request?.ClientId ?? principal.GetClaim(OpenIddictConstants.Claims.ClientId) ?? string.Empty;
        var subject = principal.GetClaim(OpenIddictConstants.Claims.Subject);
        var http = context.Transaction.GetHttpRequest()?.HttpContext;
        batcher.TryAdd(new AccessTokenIssued(
            clientId,
            context.Request?.GrantType ?? string.Empty,
            subject == clientId ? null : subject,
            // The jti is assigned while the JWT is written, on a copy of the principal: read it from the token.
            new JsonWebToken(context.AccessToken).Id,
            principal.GetScopes().ToArray())
        {
            TenantId = Guid.TryParse(principal.GetClaim(LumoClaims.TenantId), out var tenantId) ? tenantId : null,
            Actor = new EventActor(ActorTypes.Client, clientId),
            IpAddress = http?.Connection.RemoteIpAddress?.ToString(),
            CorrelationId = http is null ? null : CorrelationMiddleware.GetId(http),
        });
        return ValueTask.CompletedTask;
    }
}
