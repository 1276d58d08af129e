using LumoAuth.Contracts;
using LumoAuth.Contracts.Tokens;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using Microsoft.AspNetCore;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Raises the security events of the token endpoint (the docs' high-severity security log, kept in the audit log). A
/// replayed code or refresh token is detected by OpenIddict, which revokes the grant and answers <c>invalid_grant</c>
/// with an error URI naming its message: ID2010 for a code (reworded as the docs have it), ID2012 for a refresh token.
/// The events change no state, so they go through the batcher like issued tokens.
/// </summary>
public sealed class RecordSecurityEvents(EventBatcher<TokenDbContext> batcher) : IOpenIddictServerHandler<ApplyTokenResponseContext>
{
    private const string CodeAlreadyRedeemed = "ID2010";
    private const string RefreshTokenAlreadyRedeemed = "ID2012";

    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyTokenResponseContext>()
            .UseSingletonHandler<RecordSecurityEvents>()
            .SetOrder(int.MinValue + 100_000)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ApplyTokenResponseContext context)
    {
        // OpenIddict's error identifier names the case; the error code itself is still invalid_token at this point.
        if (string.IsNullOrEmpty(context.Response.Error) || context.Request?.ClientId is not { } clientId)
        {
            return ValueTask.CompletedTask;
        }

        var uri = context.Response.ErrorUri ?? string.Empty;
        IntegrationEvent? detected = uri.EndsWith(CodeAlreadyRedeemed, StringComparison.Ordinal) ? new AuthorizationCodeReplayed(clientId)
            : uri.EndsWith(RefreshTokenAlreadyRedeemed, StringComparison.Ordinal) ? new RefreshTokenReplayed(clientId)
            : null;
        if (detected is AuthorizationCodeReplayed)
        {
            context.Response.ErrorDescription = "Authorization code has already been used";
        }

        if (detected is not null)
        {
            Record(batcher, context.Transaction.GetHttpRequest()?.HttpContext, clientId, detected);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Queues an event a client caused (an attack detected) with the client as its actor and the request's tenant and origin.</summary>
    public static void Record(EventBatcher<TokenDbContext> batcher, HttpContext? http, string clientId, IntegrationEvent detected)
    {
        var tenant = http?.RequestServices.GetService<TenantContext>();
        detected = detected with
        {
            TenantId = tenant is { HasTenant: true } ? tenant.TenantId : null,
            Actor = new EventActor(ActorTypes.Client, clientId),
        };
        batcher.TryAdd(http is null ? detected : OutboxInterceptor.WithOrigin(detected, http));
    }
}
