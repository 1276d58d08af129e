using LumoAuth.Token.Features.Login;
using Microsoft.AspNetCore;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// An authorization error that cannot go back to the client (unknown client, unregistered redirect URI)
/// is shown to the user as the hosted error page instead of OpenIddict's plain-text answer. Errors that
/// can go back are still redirected by OpenIddict, with <c>state</c> and <c>iss</c>.
/// </summary>
public sealed class AuthorizationErrorPage : IOpenIddictServerHandler<ApplyAuthorizationResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyAuthorizationResponseContext>()
            .UseSingletonHandler<AuthorizationErrorPage>()
            .SetOrder(OpenIddictServerAspNetCoreHandlers.ProcessLocalErrorResponse<ApplyAuthorizationResponseContext>.Descriptor.Order - 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ApplyAuthorizationResponseContext context)
    {
        if (string.IsNullOrEmpty(context.Response.Error) || !string.IsNullOrEmpty(context.RedirectUri)
            || context.Transaction.GetHttpRequest()?.HttpContext is not { } http)
        {
            return;
        }

        var page = HostedPage.Error(http, context.Response.Error, context.Response.ErrorDescription ?? "The authorization request is not valid.");
        await page.ExecuteAsync(http);
        context.HandleRequest();
    }
}
