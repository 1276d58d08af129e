using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Features.Authorize;

/// <summary>
/// Step-up authentication (OIDC Core §3.1.2.1 <c>acr_values</c>; RFC 9470): a client that needs a sign-in of more than one
/// factor asks for <c>acr_values=2</c> (the levels our tokens' <c>acr</c> names: <c>1</c> one factor, <c>2</c> more). A
/// session of one factor then signs in again, and the login page asks for the user's second step even in a trusted
/// browser or at low adaptive risk. A user who has no second step gets one-factor tokens all the same: <c>acr</c> says
/// which, and the client or API decides (<c>acr_values</c> are voluntary, as OIDC has them). A client that cannot do
/// with less names the levels as an essential <c>acr</c> in the <c>claims</c> parameter (OIDC Core §5.5.1.1): a sign-in
/// that meets none of them then ends in <see cref="UnmetAuthenticationRequirements"/>. The login page is told by a marker
/// beside the request on its way back (<see cref="SecondStepParameter"/>), which also stops the request from asking again.
/// </summary>
public static class AuthenticationLevels
{
    /// <summary>Beside a request sent to the login page for a second step: asked for there, and not asked for again on return.</summary>
    public const string SecondStepParameter = "lumo_second_step";

    /// <summary>
    /// Beside a grant's claims (in its code and refresh tokens, never in a token a client reads): the <c>acr</c> values the
    /// request required, so that each token of the grant reports one of them (OIDC Core §5.5.1.1).
    /// </summary>
    public const string EssentialClaim = "lumo_acr_essential";

    /// <summary>The error of OpenID Connect Core Unmet Authentication Requirements 1.0: the sign-in could not meet an essential <c>acr</c>.</summary>
    public const string UnmetAuthenticationRequirements = "unmet_authentication_requirements";

    public static readonly string[] Supported = [UserClaims.SingleFactor, UserClaims.MultiFactor];

    /// <summary>
    /// The levels a request asks for that we know, in order of preference: an <c>acr</c> named in the <c>claims</c>
    /// parameter's ID token member (essential or not), else <c>acr_values</c> (always voluntary).
    /// </summary>
    public static Requested Of(OpenIddictRequest request)
    {
        var claims = ClaimsRequest.Of(request).Request;
        return claims.AcrValues is { } values
            ? new Requested(Known(values), claims.AcrEssential)
            : Voluntary(request.AcrValues);
    }

    /// <summary>The levels of an <c>acr_values</c> parameter (voluntary, OIDC Core §3.1.2.1; CIBA Core §7.1 alike).</summary>
    public static Requested Voluntary(string? acrValues) =>
        new(Known(acrValues?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? []), Essential: false);

    private static string[] Known(IEnumerable<string> values) => [.. values.Where(value => Supported.Contains(value, StringComparer.Ordinal)).Distinct()];

    /// <param name="Levels">Our levels among those asked for, in order of preference.</param>
    /// <param name="Essential">Whether one of them must be met (voluntary levels are only tried for).</param>
    public readonly record struct Requested(IReadOnlyList<string> Levels, bool Essential)
    {
        /// <summary>The level the request prefers most; null when it names none of ours.</summary>
        public string? Preferred => Levels.Count > 0 ? Levels[0] : null;

        /// <summary>Whether the request prefers a sign-in of more than one factor.</summary>
        public bool WantsSecondStep => Preferred == UserClaims.MultiFactor;

        /// <summary>Essential, yet none of the values is one of ours: no sign-in can meet it.</summary>
        public bool Unmeetable => Essential && Levels.Count == 0;

        /// <summary>Whether a sign-in of <paramref name="level"/> meets the request (a sign-in of two factors also meets level one).</summary>
        public bool MetBy(string level) => !Essential || Levels.Contains(UserClaims.SingleFactor) || level == UserClaims.MultiFactor;

        /// <summary>What a grant keeps of an essential request (<see cref="EssentialClaim"/>); null for a voluntary one.</summary>
        public string? Kept => Essential && Levels.Count > 0 ? string.Join(' ', Levels) : null;
    }

    /// <summary>
    /// The <c>acr</c> a token reports: the sign-in's level, or, when the request required levels (<paramref name="essential"/>,
    /// as <see cref="Requested.Kept"/>), the first of them the sign-in meets, since the claim must then be one of them.
    /// </summary>
    public static string Reported(string level, string? essential) =>
        essential?.Split(' ').FirstOrDefault(asked => asked == UserClaims.SingleFactor || level == UserClaims.MultiFactor) ?? level;

    /// <summary>Whether the session falls short of the level the request prefers, and no sign-in has been tried for it yet.</summary>
    public static bool StepUpNeeded(OpenIddictRequest request, Requested requested, ClaimsPrincipal session) =>
        requested.WantsSecondStep && request.GetParameter(SecondStepParameter) is null && LevelOf(session) != UserClaims.MultiFactor;

    /// <summary>The level of a session's (or a grant's) sign-in.</summary>
    public static string LevelOf(ClaimsPrincipal principal) => UserClaims.AssuranceOf(principal.GetClaims(Claims.AuthenticationMethodReference).ToList());

    /// <summary>Whether a sign-in continuing to <paramref name="returnUrl"/> was sent for a second step.</summary>
    public static bool AsksForSecondStep(string? returnUrl) =>
        returnUrl?.IndexOf('?') is int query and >= 0 && QueryHelpers.ParseQuery(returnUrl[query..]).ContainsKey(SecondStepParameter);

    /// <summary>Discovery (OIDC Discovery §3): the levels a client may ask for, and that it may ask in the <c>claims</c> parameter.</summary>
    public sealed class Advertise : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseSingletonHandler<Advertise>()
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachAdditionalMetadata.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            context.Metadata[Metadata.AcrValuesSupported] = JsonSerializer.SerializeToElement(Supported);
            // The claims parameter (OIDC Core §5.5), for its acr and sub (ClaimsRequest).
            context.Metadata[Metadata.ClaimsParameterSupported] = true;
            return ValueTask.CompletedTask;
        }
    }
}
