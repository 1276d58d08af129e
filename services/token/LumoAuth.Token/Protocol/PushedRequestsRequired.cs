using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// A client registered with <c>requiresPushedAuthorization</c> (RFC 9126 §6, as FAPI 2.0 asks) that sends a plain
/// authorization request is refused as <c>invalid_request</c> with the docs' "PAR required", at its own redirect URI.
/// OpenIddict makes the same check right after this one; this one only words the refusal.
/// </summary>
public sealed class PushedRequestsRequired(IOpenIddictApplicationManager applications) : IOpenIddictServerHandler<ValidateAuthorizationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
            .UseScopedHandler<PushedRequestsRequired>()
            .SetOrder(OpenIddictServerHandlers.Authentication.ValidatePushedAuthorizationRequestsRequirement.Descriptor.Order - 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ValidateAuthorizationRequestContext context)
    {
        if (!string.IsNullOrEmpty(context.Request.RequestUri) || string.IsNullOrEmpty(context.ClientId))
        {
            return;
        }

        if (await applications.FindByClientIdAsync(context.ClientId) is { } application
            && await applications.HasRequirementAsync(application, Requirements.Features.PushedAuthorizationRequests))
        {
            context.Reject(Errors.InvalidRequest, "PAR required: push the authorization request to the pushed authorization endpoint first.");
        }
    }
}
