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
/// always outlasts them. Runs once OpenIddict has verified the assertion and found its client.
/// </summary>
public sealed partial class RejectReplayedClientAssertions(
    IConnectionMultiplexer redis,
    TenantContext tenant,
    TimeProvider time,
    ILogger<RejectReplayedClientAssertions> logger) : IOpenIddictServerHandler<ProcessAuthenticationContext>
{
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(60);

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
        var jti = principal.GetClaim(Claims.JwtId);
        var expiresAt = principal.GetExpirationDate();
        var now = time.GetUtcNow();
        if (string.IsNullOrEmpty(jti) || jti.Length > 200 || expiresAt is null)
        {
            context.Reject(Errors.InvalidClient, "The client assertion must carry a 'jti' and an 'exp' claim.");
            return;
        }

        if (expiresAt.Value - now > MaxLifetime)
        {
            context.Reject(Errors.InvalidClient, "The client assertion must expire within 10 minutes.");
            return;
        }

        var clientId = principal.GetClaim(Claims.Issuer) ?? context.ClientId ?? string.Empty;
        var key = $"lumoauth:client-assertion:{tenant.TenantId:N}:{clientId}:{jti}";
        bool firstUse;
        try
        {
            firstUse = await redis.GetDatabase().StringSetAsync(key, "1", expiresAt.Value - now + Skew, When.NotExists);
        }
        catch (RedisException ex)
        {
            // Without the replay memory an assertion could be reused: refuse rather than accept blindly.
            LogUnavailable(logger, ex);
            context.Reject(Errors.TemporarilyUnavailable, "Client assertions cannot be checked right now; try again.");
            return;
        }

        if (!firstUse)
        {
            context.Reject(Errors.InvalidClient, "The client assertion has already been used.");
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Client assertion replay check failed: Redis is unreachable")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}
