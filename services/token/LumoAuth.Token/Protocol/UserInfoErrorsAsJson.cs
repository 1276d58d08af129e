using System.Text.Json;
using Microsoft.AspNetCore;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// OpenIddict answers a refused userinfo call with a bodyless 401 and a <c>WWW-Authenticate</c> header
/// (RFC 6750 §3). The documented answer also carries the RFC 6749 error object, so it is written here (the
/// header stays), instead of letting the service-wide status-code page fill in the REST envelope.
/// </summary>
public sealed class UserInfoErrorsAsJson : IOpenIddictServerHandler<ApplyUserInfoResponseContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyUserInfoResponseContext>()
            .UseSingletonHandler<UserInfoErrorsAsJson>()
            .SetOrder(OpenIddictServerAspNetCoreHandlers.ProcessChallengeErrorResponse<ApplyUserInfoResponseContext>.Descriptor.Order - 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ApplyUserInfoResponseContext context)
    {
        if (string.IsNullOrEmpty(context.Response.Error) || context.Transaction.GetHttpRequest()?.HttpContext is not { } http)
        {
            return;
        }

        http.Response.ContentType = "application/json;charset=UTF-8";
        await JsonSerializer.SerializeAsync(http.Response.Body, new Dictionary<string, string?>
        {
            ["error"] = context.Response.Error,
            ["error_description"] = context.Response.ErrorDescription,
        }, cancellationToken: http.RequestAborted);
        context.HandleRequest();
    }
}
