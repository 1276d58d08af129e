using Microsoft.AspNetCore.Authentication;
using OpenIddict.Server.AspNetCore;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// How a passthrough endpoint (authorize, token, userinfo) refuses: it hands OpenIddict the error and description, and
/// OpenIddict answers in the protocol's own shape (redirect, JSON error, or <c>WWW-Authenticate</c>).
/// </summary>
public static class ProtocolErrors
{
    public static IResult Forbid(string error, string description) =>
        Results.Forbid(Properties(error, description), [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);

    public static IResult Challenge(string error, string description) =>
        Results.Challenge(Properties(error, description), [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);

    private static AuthenticationProperties Properties(string error, string description) =>
        new(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        });
}
