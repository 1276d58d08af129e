using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using OpenIddict.Server;
using Microsoft.AspNetCore;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// A client held to one authentication method (<see cref="ClientAuthMethods"/>: the one it registered, or
/// <c>private_key_jwt</c> for FAPI 2.0) is refused with <c>invalid_client</c> when it authenticated any other way, at
/// every endpoint where clients authenticate. Runs after OpenIddict has authenticated the client, so the method it names is
/// the one that was proven.
/// </summary>
public sealed class RegisteredClientAuthentication(ClientCache clients, TenantContext tenant) : IOpenIddictServerHandler<ProcessAuthenticationContext>
{
    private static readonly HashSet<OpenIddictServerEndpointType> ClientAuthenticatingEndpoints =
    [
        OpenIddictServerEndpointType.Token, OpenIddictServerEndpointType.PushedAuthorization, OpenIddictServerEndpointType.Introspection,
        OpenIddictServerEndpointType.Revocation, OpenIddictServerEndpointType.DeviceAuthorization,
    ];

    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
            .UseScopedHandler<RegisteredClientAuthentication>()
            .SetOrder(OpenIddictServerHandlers.ValidateClientType.Descriptor.Order + 600)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ProcessAuthenticationContext context)
    {
        if (!ClientAuthenticatingEndpoints.Contains(context.EndpointType)
            || tenant.Tenant is not { } info
            || await clients.SettingsAsync(info, context.ClientId, context.CancellationToken) is not { } settings
            || ClientAuthMethods.Required(settings) is not { } required)
        {
            return;
        }

        var http = context.Transaction.GetHttpRequest()?.HttpContext;
        var used = ClientAuthMethods.Used(
            assertion: context.ClientAssertionPrincipal is not null,
            secret: !string.IsNullOrEmpty(context.ClientSecret),
            basicHeader: http is not null && BasicCredentials.IsBasic(http.Request.Headers.Authorization),
            certificate: http?.Connection.ClientCertificate is not null);
        if (!ClientAuthMethods.Allows(required, used))
        {
            context.Reject(Errors.InvalidClient, ClientAuthMethods.Refusal(settings));
        }
    }
}
