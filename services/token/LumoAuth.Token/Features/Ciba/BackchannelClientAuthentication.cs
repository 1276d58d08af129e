using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Protocol;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Ciba;

/// <summary>
/// Client authentication at the back-channel authentication endpoint, which OpenIddict does not run (CIBA Core §7.1:
/// the same methods as at the token endpoint). A confidential, active client authenticates with exactly one of
/// <c>client_secret_basic</c>, <c>client_secret_post</c> or <c>private_key_jwt</c> — only the last for FAPI 2.0
/// clients — under the same rules as OpenIddict's: one SHA-256 secret check, assertions signed by a registered key,
/// issued and subject to the client, for this server, short-lived and used once.
/// </summary>
public sealed class BackchannelClientAuthentication(ClientCache clients, ClientKeySets keySets, ClientAssertionReplays replays, TimeProvider time)
{
    private static readonly JsonWebTokenHandler Assertions = new();
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(60);

    /// <summary>The failure of an authentication: the error, its description and whether to challenge for Basic.</summary>
    public sealed record Failure(string Error, string Description, bool BasicChallenge = false)
    {
        public IResult ToResult() => ProtocolErrors.Json(Error, Description,
            Error == Errors.InvalidClient ? StatusCodes.Status401Unauthorized
            : Error == Errors.TemporarilyUnavailable ? StatusCodes.Status503ServiceUnavailable
            : StatusCodes.Status400BadRequest, BasicChallenge);
    }

    public async Task<(CachedClient? Client, Failure? Failure)> AuthenticateAsync(HttpRequest request, IFormCollection form, TenantInfo tenant, string issuer)
    {
        var basic = BasicCredentials.IsBasic(request.Headers.Authorization);
        var posted = form.ContainsKey(Parameters.ClientSecret);
        var assertion = form.ContainsKey(Parameters.ClientAssertion) || form.ContainsKey(Parameters.ClientAssertionType);
        if ((basic ? 1 : 0) + (posted ? 1 : 0) + (assertion ? 1 : 0) > 1)
        {
            return (null, new Failure(Errors.InvalidRequest, "Use exactly one client authentication method."));
        }

        if (!basic && !posted && !assertion)
        {
            return (null, new Failure(Errors.InvalidClient, "The client must authenticate (client_secret_basic, client_secret_post or private_key_jwt).", BasicChallenge: true));
        }

        if (assertion)
        {
            return await AssertionAsync(form, tenant, issuer, request.HttpContext.RequestAborted);
        }

        string clientId, secret;
        if (basic)
        {
            if (!BasicCredentials.TryRead(request.Headers.Authorization, out var rawId, out var rawSecret))
            {
                return (null, new Failure(Errors.InvalidClient, "The Basic credentials are malformed.", BasicChallenge: true));
            }

            (clientId, secret) = (BasicCredentials.FormDecode(rawId), BasicCredentials.FormDecode(rawSecret));
            if (form.TryGetValue(Parameters.ClientId, out var named) && named.ToString() != clientId)
            {
                return (null, new Failure(Errors.InvalidRequest, "client_id does not match the authenticated client."));
            }
        }
        else
        {
            (clientId, secret) = (form[Parameters.ClientId].ToString(), form[Parameters.ClientSecret].ToString());
        }

        var client = await ConfidentialClientAsync(tenant, clientId, request.HttpContext.RequestAborted);
        if (client is null || client.Application.ClientSecret is not { } stored || !ClientSecrets.Verify(secret, stored))
        {
            return (null, new Failure(Errors.InvalidClient, "The client credentials are invalid.", BasicChallenge: basic));
        }

        if (!ClientAuthMethods.Allows(ClientAuthMethods.Required(client.Settings), ClientAuthMethods.Used(false, secret: true, basic, certificate: false)))
        {
            return (null, new Failure(Errors.InvalidClient, ClientAuthMethods.Refusal(client.Settings)));
        }

        return (client, null);
    }

    private async Task<(CachedClient?, Failure?)> AssertionAsync(IFormCollection form, TenantInfo tenant, string issuer, CancellationToken cancellationToken)
    {
        var invalid = new Failure(Errors.InvalidClient, "The client assertion is invalid.");
        if (form[Parameters.ClientAssertionType].ToString() != ClientAssertionTypes.JwtBearer || form[Parameters.ClientAssertion].ToString() is not { Length: > 0 and <= 8192 } jwt)
        {
            return (null, invalid);
        }

        string clientId;
        try
        {
            clientId = form.TryGetValue(Parameters.ClientId, out var named) ? named.ToString() : new JsonWebToken(jwt).Issuer;
        }
        catch (ArgumentException)
        {
            return (null, invalid);
        }

        if (await ConfidentialClientAsync(tenant, clientId, cancellationToken) is not { } client
            || await keySets.JwksAsync(client.Settings, ClientKeySets.KeyIdOf(jwt), cancellationToken) is not { } jwks)
        {
            return (null, invalid);
        }

        var result = await Assertions.ValidateTokenAsync(jwt, new TokenValidationParameters
        {
            ValidIssuer = clientId,
            // CIBA Core §7.1: the issuer, the token endpoint or this endpoint.
            ValidAudiences = [issuer, $"{issuer}/oauth/token", $"{issuer}/{CibaDelivery.EndpointPath}"],
            IssuerSigningKeys = new JsonWebKeySet(jwks).GetSigningKeys(),
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.EcdsaSha256],
            RequireExpirationTime = true,
            // On the service's clock (as OpenIddict's), with a minute's skew either way.
            LifetimeValidator = (notBefore, expires, _, _) =>
                (notBefore is null || notBefore <= time.GetUtcNow().UtcDateTime.Add(Skew)) && expires > time.GetUtcNow().UtcDateTime.Subtract(Skew),
        });
        if (!result.IsValid || result.SecurityToken is not JsonWebToken token || token.Subject != clientId)
        {
            return (null, invalid);
        }

        if (!ClientAuthMethods.Allows(ClientAuthMethods.Required(client.Settings), ClientAuthenticationMethods.PrivateKeyJwt))
        {
            return (null, new Failure(Errors.InvalidClient, ClientAuthMethods.Refusal(client.Settings)));
        }

        var replay = await replays.UseAsync(tenant.Id, clientId, token.Id, new DateTimeOffset(token.ValidTo, TimeSpan.Zero));
        return replay is { } refusal ? (null, new Failure(refusal.Error, refusal.Description)) : (client, null);
    }

    /// <summary>An active confidential client of the tenant; public clients cannot use the back channel.</summary>
    private async Task<CachedClient?> ConfidentialClientAsync(TenantInfo tenant, string clientId, CancellationToken cancellationToken) =>
        clientId is { Length: > 0 and <= 200 }
        && await clients.GetAsync(tenant, clientId, cancellationToken) is { Application: { IsActive: true, ClientType: ClientTypes.Confidential } } client
            ? client
            : null;
}
