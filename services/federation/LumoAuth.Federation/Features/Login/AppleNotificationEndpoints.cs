using System.Text.Json;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Sessions;
using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Providers;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Federation.Features.Login;

/// <summary>
/// Sign in with Apple's server-to-server notifications: Apple posts <c>{"payload": JWT}</c>, signed with its keys, for
/// our Services ID, when a person stops using Sign in with Apple for the app (<c>consent-revoked</c>) or deletes their
/// Apple account (<c>account-delete</c>); their link is then removed (the user stays, and signs in some other way), as a
/// user's own unlinking would, audited. Address relay changes (<c>email-disabled</c>, <c>email-enabled</c>) change
/// nothing here. Each notification is taken once (its <c>jti</c>): an old one replayed never removes a link made since.
/// The endpoint to register at Apple is the provider's callback URL with <c>/notifications</c> in place of <c>/callback</c>.
/// </summary>
public static partial class AppleNotificationEndpoints
{
    private static readonly JsonWebTokenHandler Handler = new() { MapInboundClaims = false };

    /// <summary>How old a notification may be (Apple retries for a while).</summary>
    private static readonly TimeSpan MaxAge = TimeSpan.FromDays(3);

    public static IEndpointRouteBuilder MapAppleNotificationEndpoints(this IEndpointRouteBuilder app)
    {
        // Anonymous on purpose: Apple's signature is the credential.
        app.MapPost("/t/{tenantSlug}/auth/social/{providerId:guid}/notifications", ReceiveAsync).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(SocialLoginEndpoints.RateLimitPolicy).WithName("AppleNotifications");
        return app;
    }

    public sealed record Notification(string? Payload);

    public static async Task<IResult> ReceiveAsync(
        Guid providerId, HttpContext http, FederationDbContext db, OpenIdProviders issuers, LoginStates states, TimeProvider time, ILogger<Notification> logger)
    {
        var provider = await db.IdentityProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == providerId && p.Type == ProviderTypes.Apple, http.RequestAborted);
        if (provider is null)
        {
            return ApiErrors.NotFound("Apple provider");
        }

        string? payload = null;
        try
        {
            payload = (await http.Request.ReadFromJsonAsync<Notification>(http.RequestAborted))?.Payload;
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException)
        {
            // Not JSON, or not a JSON body: refused below.
        }

        if (payload is not { Length: > 0 and <= 16_384 })
        {
            return ApiErrors.Validation("payload", "must be Apple's signed notification (a JWT)");
        }

        var keys = await issuers.KeysForAsync(provider.IssuerUrl!, null, TryKid(payload), http.RequestAborted);

        if (keys is null)
        {
            return ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "Apple's keys cannot be fetched now");
        }

        var result = await Handler.ValidateTokenAsync(payload, new TokenValidationParameters
        {
            ValidIssuer = provider.IssuerUrl, ValidAudience = provider.ClientId, IssuerSigningKeys = keys, ValidAlgorithms = OpenIdProviders.AsymmetricAlgorithms,
            RequireSignedTokens = true, RequireExpirationTime = false, ValidateLifetime = false,
        });
        var now = time.GetUtcNow();
        if (!result.IsValid || result.SecurityToken is not JsonWebToken token
            || token.IssuedAt < now.UtcDateTime - MaxAge || token.IssuedAt > now.UtcDateTime.AddMinutes(5)
            || token.Id is not { Length: > 0 and <= 200 } jti || Event(token) is not { } notice)
        {
            return ApiErrors.Validation("payload", "is not a current notification Apple signed for this provider");
        }

        if (!await states.FirstNotificationAsync(provider.Id, jti, MaxAge * 2))
        {
            return TypedResults.Ok();
        }

        if (notice.Type is "consent-revoked" or "account-delete")
        {
            var link = await db.ExternalIdentities.FirstOrDefaultAsync(i => i.ProviderId == provider.Id && i.Subject == notice.Subject, http.RequestAborted);
            if (link is not null)
            {
                db.ExternalIdentities.Remove(link);
                db.AddEvent(new ExternalAccountUnlinked(link.UserId, provider.Id, provider.Type, provider.Name)
                {
                    TenantId = provider.TenantId, Actor = new EventActor(ActorTypes.System, "apple", "Sign in with Apple: " + notice.Type),
                });
                try
                {
                    await db.SaveChangesAsync(http.RequestAborted);
                }
                catch (DbUpdateConcurrencyException)
                {
                    // Unlinked meanwhile.
                }

                LogUnlinked(logger, provider.TenantId, link.UserId, notice.Type);
            }
        }

        return TypedResults.Ok();
    }

    private sealed record AppleEvent(string Type, string Subject);

    /// <summary>The <c>events</c> claim: a JSON object, sent as a string, naming the event's type and the person (<c>sub</c>).</summary>
    private static AppleEvent? Event(JsonWebToken token)
    {
        if (!token.TryGetClaim("events", out var claim))
        {
            return null;
        }

        try
        {
            using var events = JsonDocument.Parse(claim.Value);
            var root = events.RootElement;
            return root.ValueKind == JsonValueKind.Object
                   && root.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() is { Length: > 0 and <= 64 } kind
                   && root.TryGetProperty("sub", out var sub) && sub.ValueKind == JsonValueKind.String && sub.GetString() is { Length: > 0 and <= 500 } subject
                ? new AppleEvent(kind, subject)
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? TryKid(string jwt)
    {
        try
        {
            return new JsonWebToken(jwt).Kid;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Tenant {TenantId}: user {UserId}'s Apple link removed ({Event})")]
    private static partial void LogUnlinked(ILogger logger, Guid tenantId, Guid userId, string @event);
}
