using System.Globalization;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Features.Login;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using StackExchange.Redis;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Which access tokens (by <c>jti</c>, until their expiry) a user, a session and a grant hold, in Redis. Ending a
/// session or all of a user's sessions, or revoking a grant, puts those on the deny-list, so every service's bearer
/// validation refuses them at once instead of when they expire. Client-credentials tokens are never indexed (no user).
/// </summary>
public sealed partial class UserAccessTokenIndex(IConnectionMultiplexer redis, RedisAccessTokenDenyList denyList, TimeProvider time, ILogger<UserAccessTokenIndex> logger)
{
    // Longer than any access token lives (ClientValidation caps lifetimes at a day).
    private static readonly TimeSpan Retention = TimeSpan.FromHours(25);

    private static RedisKey UserKey(Guid tenantId, string userId) => $"lumoauth:user-jtis:{tenantId:N}:{userId}";

    private static RedisKey SessionKey(Guid tenantId, string sessionId) => $"lumoauth:session-jtis:{tenantId:N}:{sessionId}";

    /// <summary>A grant is OpenIddict's authorization: one code and the refresh tokens rotated from it.</summary>
    private static RedisKey GrantKey(Guid tenantId, string authorizationId) => $"lumoauth:grant-jtis:{tenantId:N}:{authorizationId}";

    public async Task RecordAsync(Guid tenantId, string userId, string? sessionId, string? authorizationId, string jti, DateTimeOffset issuedAt, DateTimeOffset expiresAt)
    {
        try
        {
            var batch = redis.GetDatabase().CreateBatch();
            var entries = new List<(RedisKey Key, string Member)> { (UserKey(tenantId, userId), UserMember(issuedAt, jti)) };
            if (sessionId is not null)
            {
                entries.Add((SessionKey(tenantId, sessionId), jti));
            }

            if (authorizationId is not null)
            {
                entries.Add((GrantKey(tenantId, authorizationId), jti));
            }

            var tasks = new List<Task>();
            foreach (var (key, member) in entries)
            {
                tasks.Add(batch.SortedSetAddAsync(key, member, expiresAt.ToUnixTimeSeconds()));
                tasks.Add(batch.KeyExpireAsync(key, Retention));
            }

            batch.Execute();
            await Task.WhenAll(tasks);
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            // The token stays valid until it expires; only early revocation is lost for it.
            LogUnavailable(logger, ex);
        }
    }

    /// <summary>
    /// Denies every live access token of the user, or only those issued by <paramref name="issuedBy"/> (their <c>iat</c> at or
    /// before that second, the rule of a client's cut-off) when given: an event then spares the tokens of a later sign-in.
    /// The user's cut-off on the deny-list also voids those issued before that second that this index never heard of (its
    /// write failed while Redis was out), never later than now: an event's moment padded for clock skew must not void the
    /// tokens of a sign-in that comes after this runs (say, right after an unblock). Throws when Redis is unreachable, so
    /// the caller can try again.
    /// </summary>
    public async Task DenyUserAsync(Guid tenantId, Guid userId, DateTimeOffset? issuedBy = null)
    {
        var subject = userId.ToString();
        var now = time.GetUtcNow();
        await denyList.RevokeUserTokensAsync(tenantId, subject, issuedBy is { } at && at < now ? at : now, ClientValidation.LongestAccessTokenLifetime);
        await DenyAsync(tenantId, UserKey(tenantId, subject), issuedBy?.ToUnixTimeSeconds());
    }

    /// <summary>Denies every live access token of the session. Throws when Redis is unreachable, so the caller can try again.</summary>
    public Task DenySessionAsync(Guid tenantId, string sessionId) => DenyAsync(tenantId, SessionKey(tenantId, sessionId));

    /// <summary>Denies every live access token of the grant. Throws when Redis is unreachable, so the caller can try again.</summary>
    public Task DenyGrantAsync(Guid tenantId, string authorizationId) => DenyAsync(tenantId, GrantKey(tenantId, authorizationId));

    private async Task DenyAsync(Guid tenantId, RedisKey key, long? issuedBy = null)
    {
        var now = time.GetUtcNow();
        var live = await redis.GetDatabase().SortedSetRangeByScoreWithScoresAsync(key, now.ToUnixTimeSeconds(), double.PositiveInfinity);
        foreach (var entry in live)
        {
            var (issuedAt, jti) = ParseMember(entry.Element!);
            if (issuedBy is { } cutOff && issuedAt > cutOff)
            {
                continue;
            }

            await denyList.RevokeAsync(tenantId, jti, DateTimeOffset.FromUnixTimeSeconds((long)entry.Score));
        }
    }

    /// <summary>A user's set names each token by its issue second and <c>jti</c> (<c>1700000000:jti</c>), so a cut-off can spare later ones.</summary>
    private static string UserMember(DateTimeOffset issuedAt, string jti) =>
        string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, issuedAt.ToUnixTimeSeconds())}:{jti}");

    /// <summary>A plain <c>jti</c> (session and grant sets, or a user entry written before the issue second was kept) has no issue time: it is always denied.</summary>
    private static (long? IssuedAt, string Jti) ParseMember(string member)
    {
        var colon = member.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 && long.TryParse(member.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out var issuedAt)
            ? (issuedAt, member[(colon + 1)..])
            : (null, member);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unavailable: user access tokens are not indexed or denied early")]
    private static partial void LogUnavailable(ILogger logger, Exception exception);
}

/// <summary>Indexes each user access token right after OpenIddict wrote it (the <c>jti</c> is only known then).</summary>
public sealed class IndexUserAccessTokens(UserAccessTokenIndex index, TenantContext tenant) : IOpenIddictServerHandler<ProcessSignInContext>
{
    public static OpenIddictServerHandlerDescriptor Descriptor { get; }
        = OpenIddictServerHandlerDescriptor.CreateBuilder<ProcessSignInContext>()
            .UseScopedHandler<IndexUserAccessTokens>()
            .SetOrder(SignInAccessToken.WrittenOrder + 600)
            .SetType(OpenIddictServerHandlerType.Custom)
            .Build();

    public async ValueTask HandleAsync(ProcessSignInContext context)
    {
        if (SignInAccessToken.Principal(context) is not { } principal || SignInAccessToken.Token(context) is not { } accessToken || !tenant.HasTenant
            || context.Request?.IsClientCredentialsGrantType() == true
            || principal.GetClaim(Claims.Subject) is not { } subject || !Guid.TryParse(subject, out _))
        {
            return;
        }

        var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(accessToken);
        // No iat reads as the epoch: such a token is issued before any cut-off.
        await index.RecordAsync(tenant.TenantId, subject, principal.GetClaim(SessionCookie.SessionIdClaim), principal.GetAuthorizationId(), jwt.Id,
            new DateTimeOffset(jwt.IssuedAt, TimeSpan.Zero), new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero));
    }
}
