using LumoAuth.ServiceDefaults.Tenancy;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using StackExchange.Redis;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// A <c>private_key_jwt</c> assertion is good for one request (RFC 7523 §3, RFC 9700 §2.3): its <c>jti</c>
/// is remembered in Redis (shared by every replica) until the assertion expires, and a second use is
/// refused. Assertions must carry a <c>jti</c> and may live at most <see cref="MaxLifetime"/>, so the memory
/// always outlasts them. Used by OpenIddict's endpoints (<see cref="RejectReplayedClientAssertions"/>) and by the
/// ones it does not run (CIBA's back channel).
/// </summary>
public sealed partial class ClientAssertionReplays(IConnectionMultiplexer redis, TimeProvider time, ILogger<ClientAssertionReplays> logger)
{
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Null when the assertion may be used; otherwise the error and its description. <paramref name="kind"/> keeps the
    /// <c>jti</c>s of different kinds of client-signed JWT (assertions, CIBA's signed requests) apart.
    /// </summary>
    public async Task<(string Error, string Description)?> UseAsync(Guid tenantId, string clientId, string? jti, DateTimeOffset? expiresAt, string kind = "client-assertion")
    {
        var now = time.GetUtcNow();
        if (string.IsNullOrEmpty(jti) || jti.Length > 200 || expiresAt is null)
        {
            return (Errors.InvalidClient, "The client assertion must carry a 'jti' and an 'exp' claim.");
        }

        if (expiresAt.Value - now > MaxLifetime)
        {
            return (Errors.InvalidClient, "The client assertion must expire within 10 minutes.");
        }

        var key = $"lumoauth:{kind}:{tenantId:N}:{clientId}:{jti}";
        try
        {
            var firstUse = await redis.GetDatabase().StringSetAsync(key, "1", expiresAt.Value - now + Skew, When.NotExists);
            return firstUse ? null : (Errors.InvalidClient, "The client assertion has already been used.");
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            // Without the replay memory an assertion could be reused: refuse rather than accept blindly.
            LogUnavailable(logger, ex);
            return (Errors.TemporarilyUnavailable, "Client assertions cannot be checked right now; try again.");
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Client assertion replay check failed: Redis is unreachable")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}

/// <summary>Runs once OpenIddict has verified a client assertion and found its client.</summary>
public sealed class RejectReplayedClientAssertions(ClientAssertionReplays replays, TenantContext tenant) : IOpenIddictServerHandler<ProcessAuthenticationContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessAuthenticationContext>()
            .AddFilter<OpenIddictServerHandlerFilters.RequireClientAssertionPrincipal>()
            .UseScopedHandler<RejectReplayedClientAssertions>()
            .SetOrder(OpenIddictServerHandlers.ValidateClientType.Descriptor.Order + 500)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ProcessAuthenticationContext context)
    {
        var principal = context.ClientAssertionPrincipal!;
        var clientId = principal.GetClaim(Claims.Issuer) ?? context.ClientId ?? string.Empty;
        if (await replays.UseAsync(tenant.TenantId, clientId, principal.GetClaim(Claims.JwtId), principal.GetExpirationDate()) is { } refusal)
        {
            context.Reject(refusal.Error, refusal.Description);
        }
    }
}
