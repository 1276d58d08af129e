using LumoAuth.Token.Features.Clients;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Scopes at the device authorization endpoint follow the client's allowed scopes, as at the authorization endpoint:
/// one it may not have is <c>invalid_scope</c>; none asked for means all it may have (the docs' default).
/// </summary>
public sealed class DeviceRequestScopes(IOpenIddictApplicationManager applications) : IOpenIddictServerHandler<ValidateDeviceAuthorizationRequestContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateDeviceAuthorizationRequestContext>()
            .UseScopedHandler<DeviceRequestScopes>()
            .SetOrder(OpenIddictServerHandlers.Device.ValidateDeviceAuthentication.Descriptor.Order + 1)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ValidateDeviceAuthorizationRequestContext context)
    {
        if (string.IsNullOrEmpty(context.ClientId) || await applications.FindByClientIdAsync(context.ClientId) is not { } application)
        {
            return;
        }

        var allowed = ClientPermissions.ScopesOf(await applications.GetPermissionsAsync(application));
        var requested = context.Request.GetScopes();
        if (requested.FirstOrDefault(s => !allowed.Contains(s)) is { } denied)
        {
            context.Reject(Errors.InvalidScope, $"The client is not allowed the scope '{denied}'.");
            return;
        }

        if (requested.IsEmpty)
        {
            context.Request.Scope = string.Join(' ', allowed.Order(StringComparer.Ordinal));
        }
    }
}
