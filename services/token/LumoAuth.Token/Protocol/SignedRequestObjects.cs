using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// JWT-secured authorization requests (RFC 9101, JAR): an authorization or pushed request may carry its parameters as a
/// request object in <c>request</c>, signed with a key of the client's registered JWKS. The object's parameters replace
/// everything sent beside it (§6.3) but the client's identification and authentication. A client registered with
/// <c>requireSignedRequestObject</c> (RFC 9101 §10.5; implied by FAPI 2.0 Message Signing) sends nothing else.
/// OpenIddict 7.8 refuses <c>request</c> outright (<c>request_not_supported</c>); the object is unpacked before that check.
/// Only signed objects: unsigned (<c>alg: none</c>) ones are refused. An object may also be fetched from an address the
/// client registered (<see cref="RequestObjectReferences"/>), and is then verified here like one sent by value. A signed object may come encrypted to the tenant (<see cref="EncryptedRequests"/>).
/// </summary>
public static class SignedRequestObjects
{
    /// <summary>A client requirement: authorization requests come as signed request objects only.</summary>
    public const string RequirementFeature = "ft:signed_request_object";

    public const string InvalidRequestObject = "invalid_request_object";

    /// <summary>RS256 for the clients that already sign assertions with it; PS256 and ES256 for FAPI.</summary>
    public static readonly string[] Algorithms = [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.EcdsaSha256];

    /// <summary>FAPI 2.0 Security Profile §5.4.1: PS256 or ES256 (EdDSA is not offered), never RS256.</summary>
    public static readonly string[] FapiAlgorithms = [SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.EcdsaSha256];

    /// <summary>
    /// Beside a signed request on its way back through the hosted pages: when this server first saw it, sealed to that
    /// object, so that a <c>prompt=login</c> inside it is met by a sign-in after that moment (and not asked again forever).
    /// </summary>
    public const string SeenParameter = "lumo_request_seen";

    /// <summary>Request objects above this size are refused before they are parsed (a few hundred bytes is usual).</summary>
    public const int MaxLength = 16 * 1024;

    private const string SeenPurpose = "LumoAuth.Token.SignedRequestSeen.v1";

    /// <summary>
    /// How long after this server first saw a request object the user may take to sign in (password, second factor,
    /// registration) before the object must still be valid on its own, like Keycloak's default login timeout.
    /// </summary>
    public static readonly TimeSpan SignInWindow = TimeSpan.FromMinutes(30);

    // Parameters that are one string each; only resource may repeat, claims is an object and authorization_details an
    // array of objects (RFC 9396 §3), each checked where the parameter is read.
    private static readonly HashSet<string> ArrayParameters = new(StringComparer.Ordinal) { Parameters.Resource };
    private static readonly HashSet<string> ObjectParameters = new(StringComparer.Ordinal) { Parameters.Claims };
    private static readonly HashSet<string> JsonArrayParameters = new(StringComparer.Ordinal) { AuthorizationDetails.Parameter };

    /// <summary>An object older than this, or valid for longer, is refused (FAPI 2.0 Message Signing §5.3.1: 60 minutes).</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromMinutes(60);

    private const string SignedProperty = "lumo:signed_request_object";
    private const string MediaType = "oauth-authz-req+jwt";

    // Claims of the JWT itself, not authorization parameters.
    private static readonly HashSet<string> EnvelopeClaims = new(StringComparer.Ordinal) { "iss", "aud", "exp", "nbf", "iat", "jti", "sub" };

    // What a pushed request may carry beside the object: the client's identification and authentication (RFC 9126 §3);
    // and, back from the login page, that the step-up it asked for was tried (AuthenticationLevels).
    private static readonly HashSet<string> KeptParameters = new(StringComparer.Ordinal)
    {
        Parameters.ClientId, Parameters.ClientSecret, Parameters.ClientAssertion, Parameters.ClientAssertionType,
        Features.Authorize.AuthenticationLevels.SecondStepParameter,
    };

    private static readonly JsonWebTokenHandler Handler = new() { MapInboundClaims = false };

    /// <summary>Whether this request's parameters came from a verified request object.</summary>
    public static bool CameSigned(OpenIddictServerTransaction transaction) => transaction.Properties.ContainsKey(SignedProperty);

    /// <summary>
    /// The request object the current authorization request came in, which the hosted pages (login, consent) send back
    /// as it came instead of its unpacked, unsigned parameters; null for any other request.
    /// </summary>
    public static string? OriginalOf(HttpContext http) =>
        http.Features.Get<OpenIddictServerAspNetCoreFeature>()?.Transaction?.Properties.TryGetValue(SignedProperty, out var value) == true
            ? value as string
            : null;

    /// <summary>Verifies the request object and puts its parameters in the request's place.</summary>
    public sealed class Unpack(
        ClientCache clients, ClientKeySets keySets, TenantContext tenant, TimeProvider time, IDataProtectionProvider dataProtection, Keys.TenantKeyStore keys) :
        IOpenIddictServerHandler<ExtractAuthorizationRequestContext>,
        IOpenIddictServerHandler<ExtractPushedAuthorizationRequestContext>
    {
        // After the ASP.NET Core host has read the request (and, for pushed requests, the Basic credentials).
        private static readonly int Order = OpenIddictServerAspNetCoreHandlers.ExtractBasicAuthenticationCredentials<ExtractPushedAuthorizationRequestContext>.Descriptor.Order + 500;

        public static OpenIddictServerHandlerDescriptor AuthorizationDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ExtractAuthorizationRequestContext>()
                .UseScopedHandler<Unpack>()
                .SetOrder(Order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public static OpenIddictServerHandlerDescriptor PushedDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ExtractPushedAuthorizationRequestContext>()
                .UseScopedHandler<Unpack>()
                .SetOrder(Order)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(ExtractAuthorizationRequestContext context) => UnpackAsync(context);

        public ValueTask HandleAsync(ExtractPushedAuthorizationRequestContext context) => UnpackAsync(context);

        private async ValueTask UnpackAsync(BaseValidatingContext context)
        {
            if (context.Transaction.Request is not { } request || request.GetParameter(Parameters.Request) is not { } parameter)
            {
                return;
            }

            if ((string?)parameter is not { Length: > 0 } jwt)
            {
                context.Reject(Errors.InvalidRequest, "Send one request object in 'request'.");
                return;
            }

            if (!string.IsNullOrEmpty(request.RequestUri))
            {
                context.Reject(Errors.InvalidRequest, "Send either 'request' or 'request_uri', not both.");
                return;
            }

            // RFC 9101 §5: the client names itself outside the object too, and the object must say the same.
            if (string.IsNullOrEmpty(request.ClientId))
            {
                context.Reject(Errors.InvalidRequest, "A request object comes with the client_id parameter beside it.");
                return;
            }

            if (tenant.Tenant is not { } info || await clients.SettingsAsync(info, request.ClientId, context.CancellationToken) is not { } client)
            {
                context.Reject(Errors.InvalidClient, "The client is not known to this tenant.");
                return;
            }

            // Back from the hosted pages, the object is judged at the moment this server first saw it, so that one that
            // expires while the user signs in still completes; the signature, audience and client are checked as ever.
            var now = time.GetUtcNow();
            var seenAt = SeenAt(dataProtection, jwt, (string?)request.GetParameter(SeenParameter)) ?? now;
            var judgedAt = seenAt <= now && now - seenAt <= SignInWindow ? seenAt : now;
            var signed = jwt;
            if (EncryptedRequests.IsEncrypted(jwt))
            {
                var (inner, problem) = jwt.Length > MaxLength
                    ? (null, $"It is larger than {MaxLength} bytes.")
                    : EncryptedRequests.Open(jwt, (await keys.GetAsync(info.Id, context.CancellationToken)).Decryption);
                if (inner is null)
                {
                    context.Reject(InvalidRequestObject, "The encrypted request object is refused. " + problem);
                    return;
                }

                signed = inner;
            }

            var verified = await VerifyAsync(signed, request.ClientId, client, keySets, context.Options.Issuer?.AbsoluteUri, judgedAt, context.CancellationToken);
            if (verified.Error is not null)
            {
                context.Reject(InvalidRequestObject, verified.Error);
                return;
            }

            foreach (var name in request.GetParameters().Keys.Where(name => !KeptParameters.Contains(name)).ToList())
            {
                request.RemoveParameter(name);
            }

            foreach (var (name, value) in verified.Parameters!)
            {
                request.SetParameter(name, value);
            }

            context.Transaction.Properties[SignedProperty] = jwt;
            if (context.EndpointType == OpenIddictServerEndpointType.Authorization)
            {
                PushedRequestTime.RecordSigned(context.Transaction, seenAt);
            }
        }
    }

    /// <summary>The sealed first-seen time to send back beside <paramref name="jwt"/> through the hosted pages.</summary>
    public static string SealSeen(IDataProtectionProvider dataProtection, string jwt, DateTimeOffset seenAt) =>
        dataProtection.CreateProtector(SeenPurpose).Protect($"{Fingerprint(jwt)}|{seenAt.ToUnixTimeSeconds()}");

    private static DateTimeOffset? SeenAt(IDataProtectionProvider dataProtection, string jwt, string? sealedSeen)
    {
        if (string.IsNullOrEmpty(sealedSeen))
        {
            return null;
        }

        try
        {
            var parts = dataProtection.CreateProtector(SeenPurpose).Unprotect(sealedSeen).Split('|');
            return parts.Length == 2 && parts[0] == Fingerprint(jwt) && long.TryParse(parts[1], out var seconds)
                ? DateTimeOffset.FromUnixTimeSeconds(seconds)
                : null;
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    private static string Fingerprint(string jwt) => Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(jwt)));

    /// <summary>
    /// A client that must sign its requests sends no plain one (RFC 9101 §10.5). A request through a pushed request's
    /// <c>request_uri</c> was checked when it was pushed.
    /// </summary>
    public sealed class Required(ClientCache clients, TenantContext tenant) :
        IOpenIddictServerHandler<ValidateAuthorizationRequestContext>,
        IOpenIddictServerHandler<ValidatePushedAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor AuthorizationDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidateAuthorizationRequestContext>()
                .UseScopedHandler<Required>()
                .SetOrder(OpenIddictServerHandlers.Authentication.ValidatePushedAuthorizationRequestsRequirement.Descriptor.Order - 2)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        // Once the client has authenticated, so that only the client learns what it must do.
        public static OpenIddictServerHandlerDescriptor PushedDescriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ValidatePushedAuthorizationRequestContext>()
                .UseScopedHandler<Required>()
                .SetOrder(OpenIddictServerHandlers.Authentication.ValidatePushedAuthentication.Descriptor.Order + 500)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ValidateAuthorizationRequestContext context)
        {
            if (string.IsNullOrEmpty(context.Request.RequestUri) && await MustSignAsync(context.Transaction, context.ClientId, context.CancellationToken))
            {
                context.Reject(Errors.InvalidRequest, Refusal);
            }
        }

        public async ValueTask HandleAsync(ValidatePushedAuthorizationRequestContext context)
        {
            if (await MustSignAsync(context.Transaction, context.ClientId, context.CancellationToken))
            {
                context.Reject(Errors.InvalidRequest, Refusal);
            }
        }

        private const string Refusal = "This client sends its authorization requests as signed request objects ('request').";

        private async ValueTask<bool> MustSignAsync(OpenIddictServerTransaction transaction, string? clientId, CancellationToken cancellationToken) =>
            !CameSigned(transaction) && !string.IsNullOrEmpty(clientId) && tenant.Tenant is { } info
            && await clients.SettingsAsync(info, clientId, cancellationToken) is { RequireSignedRequestObject: true };
    }

    /// <summary>Discovery (RFC 9101 §10.1, OIDC Discovery): request objects by value, signed with one of <see cref="Algorithms"/>.</summary>
    public sealed class Advertise : IOpenIddictServerHandler<HandleConfigurationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<HandleConfigurationRequestContext>()
                .UseSingletonHandler<Advertise>()
                // After OpenIddict's own answer (request objects: unsupported).
                .SetOrder(OpenIddictServerHandlers.Discovery.AttachAdditionalMetadata.Descriptor.Order + 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public ValueTask HandleAsync(HandleConfigurationRequestContext context)
        {
            context.Metadata[Metadata.RequestParameterSupported] = true;
            context.Metadata["request_object_signing_alg_values_supported"] = JsonSerializer.SerializeToElement(Algorithms);
            // Pushed requests' URNs, and objects at addresses the client registered (RequestObjectReferences).
            context.Metadata[Metadata.RequestUriParameterSupported] = true;
            context.Metadata["require_request_uri_registration"] = true;
            context.Metadata["require_signed_request_object"] = false;
            return ValueTask.CompletedTask;
        }
    }

    private readonly record struct Verified(string? Error, IReadOnlyList<(string Name, OpenIddictParameter Value)>? Parameters);

    private static async Task<Verified> VerifyAsync(
        string jwt, string clientId, ClientSettings client, ClientKeySets keySets, string? issuer, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (jwt.Length > MaxLength)
        {
            return new($"The request object is larger than {MaxLength} bytes.", null);
        }

        if (issuer is null)
        {
            return new("The tenant's issuer is not known; request objects cannot be checked.", null);
        }

        if (jwt.Count(c => c == '.') != 2)
        {
            return new("The request object must be a signed JWT (JWS compact form), or a JWE holding one.", null);
        }

        JsonWebToken token;
        try
        {
            token = new JsonWebToken(jwt);
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException)
        {
            return new("The request object is not a well-formed JWT.", null);
        }

        var algorithms = client.FapiProfile == FapiProfiles.Disabled ? Algorithms : FapiAlgorithms;
        if (!algorithms.Contains(token.Alg, StringComparer.Ordinal))
        {
            return new($"The request object must be signed with one of {string.Join(", ", algorithms)}.", null);
        }

        if (!string.IsNullOrEmpty(token.Typ) && token.Typ is not (MediaType or "JWT"))
        {
            return new($"The request object's 'typ' must be '{MediaType}'.", null);
        }

        if (await keySets.JwksAsync(client, token.Kid, cancellationToken) is not { } jwks)
        {
            return new(client.JwksUri is null
                ? "The client has registered no keys (jwks) to verify its request objects with."
                : "The client's published keys (jwks_uri) cannot be had to verify its request objects with.", null);
        }

        var result = await Handler.ValidateTokenAsync(token, new TokenValidationParameters
        {
            IssuerSigningKeys = new JsonWebKeySet(jwks).GetSigningKeys(),
            ValidAlgorithms = Algorithms,
            ValidateIssuer = false,
            ValidAudience = issuer,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = TimeSpan.FromSeconds(30),
            LifetimeValidator = (notBefore, expires, _, _) => expires is { } end && end - (notBefore ?? now.UtcDateTime) <= MaxLifetime + TimeSpan.FromSeconds(30)
                && (notBefore is null || now.UtcDateTime - notBefore.Value <= MaxLifetime)
                && end > now.UtcDateTime.AddSeconds(-30) && (notBefore is null || notBefore.Value <= now.UtcDateTime.AddSeconds(30)),
            TypeValidator = (type, _, _) => type,
        });
        if (!result.IsValid)
        {
            return new(result.Exception switch
            {
                SecurityTokenInvalidAudienceException => "The request object's 'aud' must be this tenant's issuer.",
                SecurityTokenNoExpirationException => "The request object must carry 'exp'.",
                SecurityTokenInvalidLifetimeException => $"The request object has expired, is not yet valid, or is valid for more than {MaxLifetime.TotalMinutes:0} minutes.",
                _ => "The request object's signature does not verify with the client's registered keys.",
            }, null);
        }

        // FAPI 2.0 Message Signing §5.3.1: its clients' objects say from when they are valid.
        if (client.FapiProfile == FapiProfiles.Advanced && !token.TryGetPayloadValue<long>("nbf", out _))
        {
            return new("FAPI 2.0 Message Signing request objects must carry 'nbf'.", null);
        }

        using var payload = JsonDocument.Parse(Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(token.EncodedPayload)));
        if (payload.RootElement.TryGetProperty("iss", out var objectIssuer) && (objectIssuer.ValueKind != JsonValueKind.String || objectIssuer.GetString() != clientId))
        {
            return new("The request object's 'iss' must be the client_id.", null);
        }

        if (!payload.RootElement.TryGetProperty(Parameters.ClientId, out var innerClientId)
            || innerClientId.ValueKind != JsonValueKind.String || innerClientId.GetString() != clientId)
        {
            return new("The request object must name the same client_id as the request.", null);
        }

        if (payload.RootElement.TryGetProperty(Parameters.Request, out _) || payload.RootElement.TryGetProperty(Parameters.RequestUri, out _))
        {
            return new("A request object cannot carry 'request' or 'request_uri'.", null);
        }

        // The client authenticates outside the object (RFC 9126 §3); credentials inside it are not taken.
        var parameters = new List<(string Name, OpenIddictParameter Value)>();
        foreach (var property in payload.RootElement.EnumerateObject())
        {
            if (EnvelopeClaims.Contains(property.Name) || (property.Name != Parameters.ClientId && KeptParameters.Contains(property.Name))
                || property.Value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            var value = property.Value;
            OpenIddictParameter? parameter = value.ValueKind switch
            {
                JsonValueKind.String => new OpenIddictParameter(value.GetString()),
                JsonValueKind.Number when value.TryGetInt64(out var number) => new OpenIddictParameter(number),
                JsonValueKind.True or JsonValueKind.False => new OpenIddictParameter(value.GetBoolean()),
                JsonValueKind.Array when ArrayParameters.Contains(property.Name) && value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String)
                    => new OpenIddictParameter(value.Clone()),
                JsonValueKind.Object when ObjectParameters.Contains(property.Name) => new OpenIddictParameter(value.Clone()),
                JsonValueKind.Array when JsonArrayParameters.Contains(property.Name) => new OpenIddictParameter(value.Clone()),
                _ => (OpenIddictParameter?)null,
            };
            if (parameter is null)
            {
                return new($"The request object's '{property.Name}' has a value of the wrong type.", null);
            }

            parameters.Add((property.Name, parameter.Value));
        }

        return new(null, parameters);
    }
}
