using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// What the FAPI 2.0 Security Profile asks at run time beyond what a FAPI client's registration already fixes (PAR,
/// PKCE, DPoP, code and token lifetimes): the client authenticates with a key, never a shared secret (§5.3.2.1), and
/// its pushed requests use PKCE with S256 (§5.3.2.2).
/// </summary>
public static class Fapi2Baseline
{
    private static readonly HashSet<OpenIddictServerEndpointType> ClientAuthenticatingEndpoints =
    [
        OpenIddictServerEndpointType.Token, OpenIddictServerEndpointType.PushedAuthorization, OpenIddictServerEndpointType.Introspection,
        OpenIddictServerEndpointType.Revocation, OpenIddictServerEndpointType.DeviceAuthorization,
    ];

    private static async ValueTask<bool> IsFapiClientAsync(ClientCache clients, TenantContext tenant, string? clientId, CancellationToken cancellationToken) =>
        tenant.Tenant is { } info
        && await clients.SettingsAsync(info, clientId, cancellationToken) is { } settings
        && settings.FapiProfile != FapiProfiles.Disabled;

    /// <summary>A FAPI client's secret, should it have one, authenticates nothing: only <c>private_key_jwt</c> does.</summary>
    public sealed class KeyBasedClientAuthentication(ClientCache clients, TenantContext tenant) : IOpenIddictServerHandler<ProcessAuthenticationContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
                .UseScopedHandler<KeyBasedClientAuthentication>()
                .SetOrder(OpenIddictServerHandlers.ValidateClientType.Descriptor.Order + 600)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ProcessAuthenticationContext context)
        {
            if (ClientAuthenticatingEndpoints.Contains(context.EndpointType)
                && context.ClientAssertionPrincipal is null
                && await IsFapiClientAsync(clients, tenant, context.ClientId, context.CancellationToken))
            {
                context.Reject(Errors.InvalidClient, "FAPI 2.0 clients authenticate with private_key_jwt.");
            }
        }
    }

    /// <summary>PKCE with S256 only: <c>plain</c> protects nothing against an attacker who reads the request.</summary>
    public sealed class PkceWithS256(ClientCache clients, TenantContext tenant) : IOpenIddictServerHandler<ValidatePushedAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidatePushedAuthorizationRequestContext>()
                .UseScopedHandler<PkceWithS256>()
                .SetOrder(OpenIddictServerHandlers.Authentication.ValidatePushedProofKeyForCodeExchangeParameters.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidatePushedAuthorizationRequestContext context)
        {
            if (context.Request.CodeChallengeMethod != CodeChallengeMethods.Sha256
                && await IsFapiClientAsync(clients, tenant, context.ClientId, context.CancellationToken))
            {
                context.Reject(Errors.InvalidRequest, "FAPI 2.0 requires PKCE with code_challenge_method S256.");
            }
        }
    }
}
