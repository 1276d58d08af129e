using LumoAuth.Token.Features.Login;
using Microsoft.AspNetCore;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// A logout error that cannot go back to the client (unknown client, unregistered post-logout redirect URI)
/// is shown to the user as the hosted error page instead of OpenIddict's plain-text answer. Errors that
/// can go back are still redirected by OpenIddict.
/// </summary>
public sealed class EndSessionErrorPage : IOpenIddictServerHandler<ApplyEndSessionResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyEndSessionResponseContext>()
            .UseSingletonHandler<EndSessionErrorPage>()
            .SetOrder(OpenIddictServerAspNetCoreHandlers.ProcessLocalErrorResponse<ApplyEndSessionResponseContext>.Descriptor.Order - 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ApplyEndSessionResponseContext context)
    {
        if (string.IsNullOrEmpty(context.Response.Error) || !string.IsNullOrEmpty(context.PostLogoutRedirectUri)
            || context.Transaction.GetHttpRequest()?.HttpContext is not { } http)
        {
            return;
        }

        var page = HostedPage.Error(http, context.Response.Error, context.Response.ErrorDescription ?? "The logout request is not valid.");
        await page.ExecuteAsync(http);
        context.HandleRequest();
    }
}
