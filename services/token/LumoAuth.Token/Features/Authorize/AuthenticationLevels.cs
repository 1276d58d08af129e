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
/// which, and the client or API decides (the values are voluntary, as OIDC has them). The login page is told by a marker
/// beside the request on its way back (<see cref="SecondStepParameter"/>), which also stops the request from asking again.
/// </summary>
public static class AuthenticationLevels
{
    /// <summary>Beside a request sent to the login page for a second step: asked for there, and not asked for again on return.</summary>
    public const string SecondStepParameter = "lumo_second_step";

    public static readonly string[] Supported = [UserClaims.SingleFactor, UserClaims.MultiFactor];

    /// <summary>The level the request prefers: the first of its <c>acr_values</c> we know (they come in order of preference).</summary>
    public static string? Preferred(string? acrValues) =>
        acrValues?.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(value => Supported.Contains(value, StringComparer.Ordinal));

    /// <summary>Whether the request prefers a sign-in of more than one factor.</summary>
    public static bool WantsSecondStep(OpenIddictRequest request) => Preferred(request.AcrValues) == UserClaims.MultiFactor;

    /// <summary>Whether the session falls short of the level the request prefers, and no sign-in has been tried for it yet.</summary>
    public static bool StepUpNeeded(OpenIddictRequest request, ClaimsPrincipal session) =>
        WantsSecondStep(request) && request.GetParameter(SecondStepParameter) is null
        && UserClaims.AssuranceOf(session.GetClaims(Claims.AuthenticationMethodReference).ToList()) != UserClaims.MultiFactor;

    /// <summary>Whether a sign-in continuing to <paramref name="returnUrl"/> was sent for a second step.</summary>
    public static bool AsksForSecondStep(string? returnUrl) =>
        returnUrl?.IndexOf('?') is int query and >= 0 && QueryHelpers.ParseQuery(returnUrl[query..]).ContainsKey(SecondStepParameter);

    /// <summary>Discovery (OIDC Discovery §3): the levels a client may ask for.</summary>
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
            return ValueTask.CompletedTask;
        }
    }
}
