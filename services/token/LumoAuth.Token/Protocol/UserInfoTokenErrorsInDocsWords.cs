using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Userinfo refuses a bearer token that OpenIddict could not accept (malformed, forged, expired, revoked, another
/// tenant's) with one description, the docs' — the caller learns nothing about which check failed. Refusals our
/// endpoint words itself (a client's token, a user who is gone) carry no OpenIddict error URI and are left alone.
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
