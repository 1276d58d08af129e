using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Tokens;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Extensions;
using LumoAuth.Token.Keys;
using LumoAuth.Token.Features.Authorize;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Ciba;

/// <summary>
/// <c>POST /t/{slug}/api/v1/oauth/bc-authorize</c> (OpenID CIBA Core 1.0 §7, TOK-09): an authenticated client with the
/// CIBA grant names a user by exactly one hint and gets an <c>auth_req_id</c> at once. The user is asked on the hosted
/// approval page (<see cref="CibaApprovalEndpoints"/>), which the <see cref="CibaAuthenticationRequested"/> event links
/// to for the tenant's notification channel; the client then polls the token endpoint, or is pinged.
/// </summary>
public static class BackchannelAuthenticationEndpoints
{
    public const int DefaultExpirySeconds = 120;
    public const int MaxExpirySeconds = 600;
    private const int MaxBindingMessageLength = 100;

    /// <summary>The stored request keeps its scopes in a column of this size.</summary>
    private const int MaxScopeLength = 4000;
    private const int MaxUserCodeLength = 64;
    private const int MaxNotificationTokenLength = 1024;
    private const string ProtectionPurpose = "LumoAuth.Token.Ciba.Ping";

    public static IEndpointRouteBuilder MapBackchannelAuthenticationEndpoints(this IEndpointRouteBuilder app)
    {
        // Anonymous on purpose: the client authenticates with its own credentials (BackchannelClientAuthentication).
        app.MapPost("/t/{tenantSlug}/api/v1/" + CibaDelivery.EndpointPath, Authorize)
            .AllowAnonymous().DisableAntiforgery().ExcludeFromDescription().WithName("OAuthBackchannelAuthorize");
        return app;
    }

    public sealed record BackchannelServices(
        TenantContext Tenant,
        BackchannelClientAuthentication ClientAuthentication,
        ClientAssertionReplays Replays,
        UserDirectory Users,
        TenantKeyStore Keys,
        TokenDbContext Db,
        IDataProtectionProvider Protection,
        IOptions<LumoAuthOptions> Lumo,
        IOptions<TokenServiceOptions> Options,
        ClientKeySets KeySets,
        TimeProvider Time);

    /// <summary>What a ping-mode request keeps, protected, to call the client back (CIBA Core §10.2).</summary>
    public sealed record PingSecrets(string AuthReqId, string ClientNotificationToken);

    public static IDataProtector PingProtector(IDataProtectionProvider provider) => provider.CreateProtector(ProtectionPurpose);

    public static string HashOf(string value) => Base64UrlEncoder.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    public static async Task<IResult> Authorize(HttpContext http, [AsParameters] BackchannelServices services)
    {
        if (services.Tenant.Tenant is not { } tenant || !http.Request.HasFormContentType)
        {
            return ProtocolErrors.Json(Errors.InvalidRequest, "The request must be a form (application/x-www-form-urlencoded).");
        }

        IFormCollection form;
        try
        {
            form = await http.Request.ReadFormAsync(http.RequestAborted);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or BadHttpRequestException)
        {
            return ProtocolErrors.Json(Errors.InvalidRequest, "The form body cannot be read.");
        }

        var issuer = services.Lumo.Value.IssuerFor(http.Request, tenant);
        var (client, failure) = await services.ClientAuthentication.AuthenticateAsync(http.Request, form, tenant, issuer);
        if (client is null)
        {
            return failure!.ToResult();
        }

        var settings = client.Settings;
        if (!settings.GrantTypes.Contains(CibaDelivery.GrantType))
        {
            return ProtocolErrors.Json(Errors.UnauthorizedClient, "The client is not configured for CIBA.");
        }

        var (parameters, parametersProblem) = await SignedAuthenticationRequests.ReadAsync(form, client, tenant.Id, issuer, services.Replays, services.KeySets, services.Time, http.RequestAborted);
        if (parameters is null)
        {
            var (failed, why) = parametersProblem!.Value;
            return ProtocolErrors.Json(failed, why, failed == Errors.TemporarilyUnavailable ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status400BadRequest);
        }

        var (request, error, description) = Validate(parameters, settings.Scopes, settings.AuthorizationDetailsTypes, settings.BackchannelTokenDeliveryMode ?? CibaDelivery.Poll);
        if (request is null)
        {
            return ProtocolErrors.Json(error!, description!);
        }

        var (found, user, hintProblem) = await FindUserAsync(parameters, services, tenant, client, http.RequestAborted);
        if (hintProblem is not null)
        {
            return ProtocolErrors.Json(hintProblem.Value.Error, hintProblem.Value.Description);
        }

        if (found is null)
        {
            return ProtocolErrors.Json(Errors.TemporarilyUnavailable, "The user directory cannot be reached; try again.", StatusCodes.Status503ServiceUnavailable);
        }

        if (found == false || user is not { Blocked: false, IsActive: true })
        {
            return ProtocolErrors.Json(CibaDelivery.Errors.UnknownUserId, "The hint does not identify a user of this tenant who can sign in.");
        }

        var now = services.Time.GetUtcNow();
        // 160 random bits, as CIBA Core §7.3 recommends (a GUID holds 122).
        var authReqId = System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(20));
        var interval = services.Options.Value.CibaPollingIntervalSeconds;
        var row = new BackchannelAuthentication
        {
            Id = Guid.CreateVersion7(),
            TenantId = tenant.Id,
            AuthReqIdHash = HashOf(authReqId),
            ClientId = client.Application.ClientId!,
            UserId = user.Id,
            Scopes = string.Join(' ', request.Scopes),
            BindingMessage = request.BindingMessage,
            UserCodeHash = request.UserCode is null ? null : HashOf(request.UserCode),
            DeliveryMode = request.Mode,
            ProtectedPing = request.NotificationToken is null ? null
                : PingProtector(services.Protection).Protect(JsonSerializer.Serialize(new PingSecrets(authReqId, request.NotificationToken))),
            Status = CibaDelivery.Statuses.Pending,
            IntervalSeconds = interval,
            PreferredAcr = request.PreferredAcr,
            AuthorizationDetails = request.AuthorizationDetails,
            CreatedAt = now,
            ExpiresAt = now.AddSeconds(request.ExpirySeconds),
        };
        services.Db.BackchannelAuthentications.Add(row);
        services.Db.AddEvent(new CibaAuthenticationRequested(
            row.Id, row.ClientId, row.UserId, request.Scopes, row.BindingMessage, row.UserCodeHash is not null,
            CibaApprovalEndpoints.ApprovalUrl(services.Lumo.Value, tenant, row.Id), row.ExpiresAt)
        {
            TenantId = tenant.Id,
            Actor = new EventActor(ActorTypes.Client, row.ClientId),
        });
        await services.Db.SaveChangesAsync(http.RequestAborted);

        http.Response.Headers.CacheControl = "no-store";
        return Results.Json(new Dictionary<string, object>
        {
            ["auth_req_id"] = authReqId,
            ["expires_in"] = request.ExpirySeconds,
            ["interval"] = interval,
        });
    }

    private sealed record ValidRequest(
        IReadOnlyList<string> Scopes, string? BindingMessage, string? UserCode, int ExpirySeconds, string Mode, string? NotificationToken, string? PreferredAcr,
        string? AuthorizationDetails);

    private sealed record Validated(ValidRequest? Request, string? Error = null, string? Description = null);

    private static Validated Refuse(string error, string description) => new(null, error, description);

    /// <summary>The request's own parameters (CIBA Core §7.1), or the error to answer.</summary>
    private static Validated Validate(IReadOnlyDictionary<string, string> form, IReadOnlyList<string> allowedScopes, IReadOnlyList<string>? detailsTypes, string mode)
    {
        var requested = (form.Value(Parameters.Scope) ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (requested.Length == 0)
        {
            return Refuse(Errors.InvalidRequest, "scope is required.");
        }

        // An OpenID Connect authentication: openid is always part of it.
        var scopes = requested.Prepend(OpenIddict.Abstractions.OpenIddictConstants.Scopes.OpenId).Distinct(StringComparer.Ordinal).ToList();
        if (scopes.FirstOrDefault(s => !allowedScopes.Contains(s)) is { } denied)
        {
            return Refuse(Errors.InvalidScope, $"The client is not allowed the scope '{denied}'.");
        }

        if (scopes.Sum(s => s.Length + 1) - 1 > MaxScopeLength)
        {
            return Refuse(Errors.InvalidScope, $"The scopes asked for take more than {MaxScopeLength} characters; ask for fewer.");
        }

        // RFC 9396 (FAPI-CIBA's payments): the approval page shows them, and the approval's tokens carry them.
        var (details, detailsProblem) = form.Value(AuthorizationDetails.Parameter) is { } detailsText
            ? AuthorizationDetails.Of(detailsText, detailsTypes)
            : (null, null);
        if (detailsProblem is not null)
        {
            return Refuse(AuthorizationDetails.InvalidAuthorizationDetails, detailsProblem);
        }

        var hints = new[] { Parameters.LoginHint, "login_hint_token", Parameters.IdTokenHint }.Count(h => form.Value(h) is not null);
        if (hints != 1)
        {
            return Refuse(Errors.InvalidRequest, "Provide exactly one of login_hint, login_hint_token or id_token_hint.");
        }

        var bindingMessage = form.Value("binding_message");
        if (bindingMessage is not null && (bindingMessage.Length > MaxBindingMessageLength || bindingMessage.Any(char.IsControl)))
        {
            return Refuse(CibaDelivery.Errors.InvalidBindingMessage, $"binding_message must be at most {MaxBindingMessageLength} characters of plain text.");
        }

        var userCode = form.Value("user_code");
        if (userCode is not null && userCode.Length > MaxUserCodeLength)
        {
            return Refuse(CibaDelivery.Errors.InvalidUserCode, $"user_code must be at most {MaxUserCodeLength} characters.");
        }

        var expiry = DefaultExpirySeconds;
        if (form.Value("requested_expiry") is { } requestedExpiry
            && (!int.TryParse(requestedExpiry, NumberStyles.None, CultureInfo.InvariantCulture, out expiry) || expiry is < 1 or > MaxExpirySeconds))
        {
            return Refuse(Errors.InvalidRequest, $"requested_expiry must be a whole number of seconds from 1 to {MaxExpirySeconds}.");
        }

        var notificationToken = form.Value("client_notification_token");
        if (mode == CibaDelivery.Ping && (notificationToken is null || notificationToken.Length > MaxNotificationTokenLength))
        {
            return Refuse(Errors.InvalidRequest, $"client_notification_token is required in ping mode (at most {MaxNotificationTokenLength} characters).");
        }

        // acr_values (CIBA Core §7.1): voluntary, as at the authorization endpoint; the approval page asks for the second step.
        return new Validated(new ValidRequest(scopes, bindingMessage, userCode, expiry, mode, mode == CibaDelivery.Ping ? notificationToken : null,
            AuthenticationLevels.Voluntary(form.Value(Parameters.AcrValues)).Preferred, details?.GetRawText()));
    }

    /// <summary>
    /// The user the hint names: <c>login_hint</c> an email address or username; <c>id_token_hint</c> an ID token this
    /// tenant issued to this client (it may have expired, CIBA Core §7.1); <c>login_hint_token</c> a JWT the client signed
    /// with a key it registered, naming the user by a <c>sub_id</c> (RFC 9493: <c>email</c>, or <c>iss_sub</c> with
    /// one of the tenant's issuers).
    /// </summary>
    private static async Task<(bool? Found, UserProfile? User, (string Error, string Description)? Problem)> FindUserAsync(
        IReadOnlyDictionary<string, string> form, BackchannelServices services, TenantInfo tenant, CachedClient client, CancellationToken cancellationToken)
    {
        if (form.Value(Parameters.LoginHint) is { } login)
        {
            var (found, profile) = await services.Users.FindByLoginAsync(tenant.Id, login, cancellationToken);
            return (found, profile, null);
        }

        Guid userId;
        if (form.Value(Parameters.IdTokenHint) is { } idToken)
        {
            var material = await services.Keys.GetAsync(tenant.Id, cancellationToken);
            // An ID token the client received encrypted may come back encrypted to the tenant (EncryptedRequests).
            if (EncryptedRequests.IsEncrypted(idToken) && EncryptedRequests.Open(idToken, material.Decryption).Inner is { } opened)
            {
                idToken = opened;
            }

            var keys = material.PublicKeySet().GetSigningKeys();
            var result = await Hints.ValidateTokenAsync(idToken, new TokenValidationParameters
            {
                // An ID token of any of the tenant's hosts names this tenant's user.
                ValidIssuers = services.Lumo.Value.IssuersOf(tenant),
                ValidAudience = client.Application.ClientId,
                IssuerSigningKeys = keys,
                ValidateLifetime = false,
            });
            // A pairwise client's ID token names the user by their pairwise subject.
            var hinted = PairwiseSubjects.UserIdOf((result.SecurityToken as JsonWebToken)?.Subject, client.Settings, material);
            if (!result.IsValid || !Guid.TryParse(hinted, out userId))
            {
                return (false, null, (Errors.InvalidRequest, "id_token_hint is not an ID token this tenant issued to the client."));
            }
        }
        else
        {
            var (subject, problem) = await LoginHintTokenSubjectAsync(form.Value("login_hint_token")!, services.Lumo.Value.IssuersOf(tenant), client, services.KeySets, services.Time, cancellationToken);
            if (problem is not null)
            {
                return (false, null, problem);
            }

            if (subject.Email is { } email)
            {
                var (found, profile) = await services.Users.FindByLoginAsync(tenant.Id, email, cancellationToken);
                return (found, profile, null);
            }

            userId = subject.UserId;
        }

        var (exists, user) = await services.Users.FindAsync(tenant.Id, userId, cancellationToken);
        return (exists, user, null);
    }

    private static readonly JsonWebTokenHandler Hints = new();

    private static async Task<((string? Email, Guid UserId) Subject, (string Error, string Description)? Problem)> LoginHintTokenSubjectAsync(
        string jwt, IReadOnlyList<string> issuers, CachedClient client, ClientKeySets keySets, TimeProvider time, CancellationToken cancellationToken)
    {
        (string, string) Invalid(string why) => (Errors.InvalidRequest, "login_hint_token " + why);
        if (await keySets.JwksAsync(client.Settings, ClientKeySets.KeyIdOf(jwt), cancellationToken) is not { } jwks)
        {
            return (default, Invalid("must be signed with a key the client registered (jwks) or publishes (jwks_uri)."));
        }

        var result = await Hints.ValidateTokenAsync(jwt, new TokenValidationParameters
        {
            ValidateIssuer = false,
            ValidateAudience = false,
            IssuerSigningKeys = new JsonWebKeySet(jwks).GetSigningKeys(),
            ValidateLifetime = false,
        });
        if (!result.IsValid || result.SecurityToken is not JsonWebToken token)
        {
            return (default, Invalid("is not a JWT signed with a key the client registered."));
        }

        // Clamped: a signed exp beyond DateTimeOffset's range is the client's oddity, not our failure.
        if (token.TryGetPayloadValue<long>(Claims.ExpiresAt, out var exp)
            && DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(exp, 0, 253_402_300_799)) < time.GetUtcNow())
        {
            return (default, (CibaDelivery.Errors.ExpiredLoginHintToken, "The login_hint_token has expired."));
        }

        if (!token.TryGetPayloadValue<JsonElement>("sub_id", out var subId) || subId.ValueKind != JsonValueKind.Object
            || !subId.TryGetProperty("format", out _))
        {
            return (default, Invalid("must name the user with a sub_id (RFC 9493)."));
        }

        // Members of another JSON type read as absent, never as an error of ours.
        static string? Text(JsonElement parent, string name) =>
            parent.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        switch (Text(subId, "format"))
        {
            case "email" when Text(subId, "email") is { Length: > 0 } address:
                return ((address, Guid.Empty), null);
            case "iss_sub" when Text(subId, "iss") is { } named && issuers.Contains(named) && Guid.TryParse(Text(subId, "sub"), out var id):
                return ((null, id), null);
            default:
                return (default, Invalid("sub_id must be of format email, or iss_sub with this issuer."));
        }
    }
}
