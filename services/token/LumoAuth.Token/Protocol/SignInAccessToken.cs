using System.Security.Claims;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// The access token a sign-in issues. A token exchange's new token is OpenIddict's "issued token" (RFC 8693 §2.2.1), not
/// its access token: the handlers that address, bind, index or audit access tokens read it through here, so a delegated
/// token gets what any other access token gets.
/// </summary>
public static class SignInAccessToken
{
    /// <summary>Handlers that read the written token run after this order.</summary>
    public static int WrittenOrder { get; } =
        Math.Max(OpenIddictServerHandlers.GenerateAccessToken.Descriptor.Order, OpenIddictServerHandlers.GenerateIssuedToken.Descriptor.Order);

    /// <summary>The principal the access token is (or is about to be) made from; null when none is issued.</summary>
    public static ClaimsPrincipal? Principal(ProcessSignInContext context) =>
        context.AccessTokenPrincipal ?? (IsIssuedAccessToken(context) ? context.IssuedTokenPrincipal : null);

    /// <summary>The written access token; null when none was issued.</summary>
    public static string? Token(ProcessSignInContext context) =>
        !string.IsNullOrEmpty(context.AccessToken) ? context.AccessToken
        : IsIssuedAccessToken(context) && !string.IsNullOrEmpty(context.IssuedToken) ? context.IssuedToken
        : null;

    private static bool IsIssuedAccessToken(ProcessSignInContext context) =>
        context.IssuedTokenPrincipal is not null && context.IssuedTokenType is null or TokenTypeIdentifiers.AccessToken;
}
