using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// A client that publishes its keys (<c>jwks_uri</c>) may have rotated since our copy was fetched: when its assertion
/// names a key the copy lacks, the set is fetched again (at most once per refetch floor) before OpenIddict verifies the
/// assertion with <see cref="TokenApplicationManager.GetJsonWebKeySetAsync"/>. The assertion is only peeked at here, to
/// learn its client and key id; OpenIddict checks it whole afterwards.
/// </summary>
public sealed class FreshClientAssertionKeys(ClientCache clients, ClientKeySets keySets, TenantContext tenant) : IOpenIddictServerHandler<ProcessAuthenticationContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
            .UseScopedHandler<FreshClientAssertionKeys>()
            .SetOrder(OpenIddictServerHandlers.ValidateClientAssertion.Descriptor.Order - 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ProcessAuthenticationContext context)
    {
        if (context.ClientAssertion is not { Length: > 0 and <= 8192 } assertion || tenant.Tenant is not { } info)
        {
            return;
        }

        JsonWebToken token;
        try
        {
            token = new JsonWebToken(assertion);
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException)
        {
            return; // OpenIddict refuses it as it is.
        }

        var clientId = context.ClientId is { Length: > 0 } named ? named : token.Issuer;
        if (token.Kid is { Length: > 0 } kid && await clients.SettingsAsync(info, clientId, context.CancellationToken) is { JwksUri: not null } client)
        {
            await keySets.JwksAsync(client, kid, context.CancellationToken);
        }
    }
}
