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

    /// <summary>
    /// The same JSON error (RFC 6749 §5.2) from an endpoint OpenIddict does not run (registration, CIBA's back channel):
    /// never cached, and an <c>invalid_client</c> of a client that used HTTP Basic also gets the Basic challenge.
    /// </summary>
    public static IResult Json(string error, string description, int status = StatusCodes.Status400BadRequest, bool basicChallenge = false) =>
        new JsonError(error, description, status, basicChallenge);

    private sealed class JsonError(string error, string description, int status, bool basicChallenge) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            http.Response.Headers.CacheControl = "no-store";
            http.Response.Headers.Pragma = "no-cache";
            if (basicChallenge)
            {
                http.Response.Headers.WWWAuthenticate = "Basic realm=\"LumoAuth\", charset=\"UTF-8\"";
            }

            return Results.Json(new Dictionary<string, string> { ["error"] = error, ["error_description"] = description }, statusCode: status).ExecuteAsync(http);
        }
    }

    private static AuthenticationProperties Properties(string error, string description) =>
        new(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        });
}
