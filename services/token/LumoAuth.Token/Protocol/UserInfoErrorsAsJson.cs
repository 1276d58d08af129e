using System.Text.Json;
using Microsoft.AspNetCore;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
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

/// <summary>
/// Userinfo refuses a bearer token that OpenIddict could not accept (malformed, forged, expired, revoked, another
/// tenant's) with one description, the docs' — the caller learns nothing about which check failed. Refusals our
/// endpoint words itself (a client's token, a user who is gone) carry no OpenIddict error URI and are left alone. It
/// runs first, so the <c>WWW-Authenticate</c> header and the JSON body above both say it.
/// </summary>
public sealed class UserInfoTokenErrorsInDocsWords : IOpenIddictServerHandler<ApplyUserInfoResponseContext>
{
    public const string Description = "The access token is expired or invalid";

    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ApplyUserInfoResponseContext>()
            .UseSingletonHandler<UserInfoTokenErrorsInDocsWords>()
            .SetOrder(int.MinValue + 100_000)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public ValueTask HandleAsync(ApplyUserInfoResponseContext context)
    {
        if (context.Response.Error == Errors.InvalidToken && !string.IsNullOrEmpty(context.Response.ErrorUri))
        {
            context.Response.ErrorDescription = Description;
            context.Response.ErrorUri = null;
        }

        return ValueTask.CompletedTask;
    }
}
