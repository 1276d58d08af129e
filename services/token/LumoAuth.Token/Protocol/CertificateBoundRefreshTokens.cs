using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// RFC 8705 §4: a public client has no credential of its own, so a refresh token it got over mutual TLS is bound to the
/// certificate it used (our private claim, kept in the stored token), and redeeming it needs that certificate again;
/// otherwise a stolen refresh token would mint tokens bound to the thief's certificate. (OpenIddict 7.8's own
/// <c>UseClientCertificateBoundRefreshTokens</c> did not bind them here: a refresh with another certificate passed.)
/// Confidential clients authenticate at every refresh, which binds their refresh tokens already.
/// </summary>
public static class CertificateBoundRefreshTokens
{
    public const string BoundCertificateClaim = "lumo_x5t";

    /// <summary>Binds a public client's new refresh token to the certificate of the request that gets it.</summary>
    public sealed class Bind(TenantContext tenant, ClientCache clients) : IOpenIddictServerHandler<ProcessSignInContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
                .UseScopedHandler<Bind>()
                .SetOrder(OpenIddictServerHandlers.GenerateRefreshToken.Descriptor.Order - 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessSignInContext context)
        {
            if (context.RefreshTokenPrincipal is not { } refresh || !tenant.HasTenant
                || context.Transaction.GetHttpRequest()?.HttpContext is not { Connection.ClientCertificate: { } certificate } http)
            {
                return;
            }

            if (await clients.SettingsAsync(tenant.Tenant!, context.ClientId, http.RequestAborted) is { IsConfidential: false })
            {
                refresh.SetClaim(BoundCertificateClaim, ForwardedClientCertificateMiddleware.Thumbprint(certificate));
            }
        }
    }

    /// <summary>A bound refresh token is redeemed only over mutual TLS with the same certificate.</summary>
    public sealed class Check : IOpenIddictServerHandler<ValidateTokenRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateTokenRequestContext>()
                .UseSingletonHandler<Check>()
                .SetOrder(OpenIddictServerHandlers.Exchange.ValidateAuthentication.Descriptor.Order + 600)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ValidateTokenRequestContext context)
        {
            if (context.RefreshTokenPrincipal?.GetClaim(BoundCertificateClaim) is { } bound
                && !ForwardedClientCertificateMiddleware.IsBoundTo(bound, context.Transaction.GetHttpRequest()?.HttpContext.Connection.ClientCertificate))
            {
                context.Reject(Errors.InvalidGrant, "The refresh token is bound to a client certificate: present it over mutual TLS.");
            }

            return ValueTask.CompletedTask;
        }
    }
}
