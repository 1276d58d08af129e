using System.Globalization;
using System.Text.Json;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Protocol;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Ciba;

/// <summary>
/// The parameters of a back-channel authentication request: from the form, or — a signed request (CIBA Core §7.1.1) —
/// from the claims of the <c>request</c> JWT the client signed with a key it registered. A signed request is issued by
/// the client for this server, carries <c>exp</c>, <c>iat</c>, <c>nbf</c> and a <c>jti</c> used once, lives at most
/// ten minutes, and is the only place its parameters may appear.
/// </summary>
public static class SignedAuthenticationRequests
{
    public const string ReplayKind = "ciba-request";

    /// <summary>The request parameters CIBA defines; with a signed request none may be sent beside it.</summary>
    public static readonly string[] RequestParameters =
    [
        Parameters.Scope, Parameters.LoginHint, "login_hint_token", Parameters.IdTokenHint, "binding_message", "user_code",
        "requested_expiry", "client_notification_token", Parameters.AcrValues,
        // Not taken (the approval page cannot show them), but read so that they are refused rather than dropped.
        Protocol.AuthorizationDetails.Parameter,
    ];

    public static readonly string[] Algorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.RsaSsaPssSha256];

    private static readonly JsonWebTokenHandler Handler = new();
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(60);

    /// <summary>The parameters, or the error and description to answer.</summary>
    public static async Task<(IReadOnlyDictionary<string, string>? Parameters, (string Error, string Description)? Problem)> ReadAsync(
        IFormCollection form, CachedClient client, Guid tenantId, string issuer, ClientAssertionReplays replays, ClientKeySets keySets, TimeProvider time,
        CancellationToken cancellationToken)
    {
        if (form.FirstOrDefault(p => p.Value.Count > 1) is { Key: { } repeated })
        {
            return (null, (Errors.InvalidRequest, $"The parameter '{repeated}' is repeated."));
        }

        if (form.ContainsKey(Parameters.RequestUri))
        {
            return (null, (Errors.InvalidRequest, "request_uri is not supported; send the signed request as 'request'."));
        }

        if (form[Parameters.Request].ToString() is not { Length: > 0 } jwt)
        {
            return (RequestParameters.Where(form.ContainsKey).ToDictionary(name => name, name => form[name].ToString()), null);
        }

        if (RequestParameters.FirstOrDefault(form.ContainsKey) is { } beside)
        {
            return (null, (Errors.InvalidRequest, $"With a signed request, send '{beside}' only inside it."));
        }

        if (jwt.Length > 16_384 || await keySets.JwksAsync(client.Settings, ClientKeySets.KeyIdOf(jwt), cancellationToken) is not { } jwks)
        {
            return (null, (Errors.InvalidRequest, "A signed request must be signed with a key the client registered (jwks) or publishes (jwks_uri)."));
        }

        var clientId = client.Application.ClientId!;
        var now = time.GetUtcNow();
        var result = await Handler.ValidateTokenAsync(jwt, new TokenValidationParameters
        {
            ValidIssuer = clientId,
            ValidAudiences = [issuer, $"{issuer}/{CibaDelivery.EndpointPath}"],
            IssuerSigningKeys = new JsonWebKeySet(jwks).GetSigningKeys(),
            ValidAlgorithms = Algorithms,
            RequireExpirationTime = true,
            LifetimeValidator = (notBefore, expires, _, _) =>
                notBefore is { } nbf && nbf <= now.UtcDateTime.Add(Skew) && expires > now.UtcDateTime.Subtract(Skew),
        });
        if (!result.IsValid || result.SecurityToken is not JsonWebToken token || !token.TryGetPayloadValue<long>(Claims.IssuedAt, out _))
        {
            return (null, (Errors.InvalidRequest, "The signed request is invalid: it must be signed by the client for this server, with exp, iat, nbf and jti, and current."));
        }

        var expiresAt = new DateTimeOffset(token.ValidTo, TimeSpan.Zero);
        if (await replays.UseAsync(tenantId, clientId, token.Id, expiresAt, ReplayKind) is { } refusal)
        {
            return (null, refusal.Error == Errors.TemporarilyUnavailable
                ? refusal
                : (Errors.InvalidRequest, string.IsNullOrEmpty(token.Id) ? "The signed request must carry a jti." : "The signed request has already been used, or lives longer than ten minutes."));
        }

        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in RequestParameters)
        {
            // Strings, and requested_expiry also as a number (CIBA Core §7.1.1 allows both).
            if (token.TryGetPayloadValue<string>(name, out var text))
            {
                parameters[name] = text;
            }
            else if (token.TryGetPayloadValue<long>(name, out var number))
            {
                parameters[name] = number.ToString(CultureInfo.InvariantCulture);
            }
            else if (token.TryGetPayloadValue<JsonElement>(name, out var json))
            {
                // A JSON member (authorization_details) is present as its text, for the endpoint to judge.
                parameters[name] = json.GetRawText();
            }
        }

        return (parameters, null);
    }

    /// <summary>A parameter's value, or null when absent or empty.</summary>
    public static string? Value(this IReadOnlyDictionary<string, string> parameters, string name) =>
        parameters.TryGetValue(name, out var value) && value.Length > 0 ? value : null;
}
