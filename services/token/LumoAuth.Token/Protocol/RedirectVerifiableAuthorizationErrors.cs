using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// OpenIddict sends an authorization error back to the client only when the whole request validated; any
/// earlier failure (PKCE missing, unsupported response type) would otherwise end on our error page. RFC 6749
/// §4.1.2.1 keeps the page for exactly one case — the client or redirect URI cannot be trusted — so when the
/// client exists in this tenant and the redirect URI is one it registered (exact match), the error goes back
/// to it, with <c>state</c> and <c>iss</c>, in the response mode OpenIddict infers. A client_id that names no active client
/// of the tenant is shown on the page as <c>invalid_client</c>, as the docs name it (OpenIddict says <c>invalid_request</c>;
/// the RFC names no code for an answer that cannot go back).
/// </summary>
public sealed class RedirectVerifiableAuthorizationErrors(TokenApplicationManager applications) : IOpenIddictServerHandler<ApplyAuthorizationResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyAuthorizationResponseContext>()
            .UseScopedHandler<RedirectVerifiableAuthorizationErrors>()
            .SetOrder(OpenIddictServerHandlers.Authentication.AttachRedirectUri.Descriptor.Order + 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ApplyAuthorizationResponseContext context)
    {
        if (string.IsNullOrEmpty(context.Response.Error) || !string.IsNullOrEmpty(context.RedirectUri)
            || context.Request is not { ClientId: { Length: > 0 } clientId })
        {
            return;
        }

        var application = await applications.FindByClientIdAsync(clientId, context.CancellationToken);
        if (application is null)
        {
            if (context.Response.Error == OpenIddict.Abstractions.OpenIddictConstants.Errors.InvalidRequest)
            {
                context.Response.Error = OpenIddict.Abstractions.OpenIddictConstants.Errors.InvalidClient;
            }

            return;
        }

        if (context.Request.RedirectUri is { Length: > 0 } redirectUri && await applications.ValidateRedirectUriAsync(application, redirectUri, context.CancellationToken))
        {
            context.RedirectUri = redirectUri;
        }
    }
}
