using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// What the FAPI 2.0 Security Profile asks at run time beyond what a FAPI client's registration already fixes (PAR,
/// PKCE, DPoP, code and token lifetimes): its pushed requests use PKCE with S256 (§5.3.2.2). That it authenticates with a
/// key, never a shared secret (§5.3.2.1), is <see cref="RegisteredClientAuthentication"/>'s to enforce.
/// </summary>
public static class Fapi2Baseline
{
    private static async ValueTask<bool> IsFapiClientAsync(ClientCache clients, TenantContext tenant, string? clientId, CancellationToken cancellationToken) =>
        tenant.Tenant is { } info
        && await clients.SettingsAsync(info, clientId, cancellationToken) is { } settings
        && settings.FapiProfile != FapiProfiles.Disabled;

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
