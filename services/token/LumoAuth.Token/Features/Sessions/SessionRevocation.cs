using LumoAuth.Contracts.Sessions;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using Microsoft.EntityFrameworkCore;
using LumoAuth.Token.Protocol;
using OpenIddict.Abstractions;
using StackExchange.Redis;

namespace LumoAuth.Token.Features.Sessions;

/// <summary>
/// Ends SSO sessions and what hangs off them. A session's refresh tokens stop working at once (redemption
/// checks the session) and its access tokens go on the deny-list; ending all of a user's sessions also
/// revokes every stored grant of the user (authorizations, refresh tokens, codes) and denies all the user's
/// access tokens, so the user must sign in again everywhere.
/// </summary>
public sealed partial class SessionRevocation(
    TokenDbContext db,
    TenantContext tenant,
    IOpenIddictTokenManager tokens,
    IOpenIddictAuthorizationManager authorizations,
    UserAccessTokenIndex accessTokens,
    TimeProvider time,
    ILogger<SessionRevocation> logger)
{
    public static class Reasons
    {
        public const string Admin = "admin";
        public const string UserBlocked = "user_blocked";

        /// <summary>The account was switched off (<c>isActive</c> false, or a SCIM soft delete).</summary>
        public const string UserDeactivated = "user_deactivated";
        public const string UserDeleted = "user_deleted";
        public const string Logout = "logout";
        public const string SingleSession = "single_session";

        /// <summary>A new sign-in took the user past the tenant's <c>sessionPolicy.maxSessions</c>.</summary>
        public const string SessionLimit = "session_limit";

        /// <summary>The user chose a new password through an e-mailed reset link.</summary>
        public const string PasswordReset = "password_reset";

        /// <summary>A link proved the address for the first time and removed what the account got before (password, factors, passkeys).</summary>
        public const string UnprovenCredentialsRemoved = "unproven_credentials_removed";

        /// <summary>The user ended it from their account page.</summary>
        public const string User = "user";

        /// <summary>The outside SAML IdP that opened it ended its own session over the back channel (SOAP single logout).</summary>
        public const string IdpLogout = "idp_logout";

        /// <summary>A SAML app it signed in to ended it over the back channel (SOAP single logout).</summary>
        public const string AppLogout = "app_logout";
    }

    /// <summary>
    /// Ends one session of the user; false when there is no such active session. Its access tokens are denied right away
    /// when Redis answers, and in any case by <see cref="SessionTokenDenial"/> from the <c>SessionsRevoked</c> event
    /// committed with the session's end, so an outage neither fails the request nor lets the tokens live on.
    /// </summary>
    public async Task<bool> RevokeSessionAsync(Guid userId, string sessionId, string reason, CancellationToken cancellationToken)
    {
        var tenantId = tenant.TenantId;
        var session = await db.Sessions.FirstOrDefaultAsync(s => s.TenantId == tenantId && s.UserId == userId && s.Id == sessionId && s.RevokedAt == null, cancellationToken);
        if (session is null)
        {
            return false;
        }

        await EndAsync(userId, [session], reason, cancellationToken);
        return true;
    }

    /// <summary>Ends every active session of the user but <paramref name="keep"/> (the user's own browser), together; returns how many ended.</summary>
    public async Task<int> RevokeOtherSessionsAsync(Guid userId, string keep, string reason, CancellationToken cancellationToken)
    {
        var tenantId = tenant.TenantId;
        var now = time.GetUtcNow();
        var others = await db.Sessions
            .Where(s => s.TenantId == tenantId && s.UserId == userId && s.RevokedAt == null && s.ExpiresAt > now && s.Id != keep)
            .ToListAsync(cancellationToken);
        if (others.Count > 0)
        {
            await EndAsync(userId, others, reason, cancellationToken);
        }

        return others.Count;
    }

    /// <summary>
    /// Ends every active session of the user that started before <paramref name="before"/> (sessions opened since, like the
    /// one of the sign-in that asked for this, stay); returns how many ended. For events that speak of a moment in admin.
    /// </summary>
    public async Task<int> RevokeSessionsStartedBeforeAsync(Guid userId, DateTimeOffset before, string reason, CancellationToken cancellationToken)
    {
        var tenantId = tenant.TenantId;
        var earlier = await db.Sessions
            .Where(s => s.TenantId == tenantId && s.UserId == userId && s.RevokedAt == null && s.CreatedAt < before)
            .ToListAsync(cancellationToken);
        if (earlier.Count > 0)
        {
            await EndAsync(userId, earlier, reason, cancellationToken);
        }

        return earlier.Count;
    }

    /// <summary>Marks the sessions ended with their event in one save, then denies their access tokens if Redis answers.</summary>
    private async Task EndAsync(Guid userId, IReadOnlyList<BrowserSession> sessions, string reason, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var session in sessions)
        {
            session.RevokedAt = now;
        }

        var ids = sessions.Select(s => s.Id).ToList();
        db.AddEvent(new SessionsRevoked(userId, ids, reason) { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        try
        {
            foreach (var id in ids)
            {
                await accessTokens.DenySessionAsync(tenant.TenantId, id);
            }
        }
        catch (Exception ex) when (ex is RedisException or RedisTimeoutException)
        {
            LogTokensDeniedLater(logger, ex, ids.Count);
        }
    }

    /// <summary>
    /// How many of the user's sessions ended at or after <paramref name="since"/>, by this instance or any other: a page that
    /// ends sessions races the event consumer doing the same for the change it made, and whichever comes first ends them.
    /// </summary>
    public Task<int> CountEndedSinceAsync(Guid userId, DateTimeOffset since, CancellationToken cancellationToken)
    {
        var tenantId = tenant.TenantId;
        return db.Sessions.CountAsync(s => s.TenantId == tenantId && s.UserId == userId && s.RevokedAt >= since, cancellationToken);
    }

    /// <summary>Clears what the user's sessions recorded about them (client address, browser); the ended rows stay for logout bookkeeping.</summary>
    public Task<int> ForgetUserAsync(Guid userId, CancellationToken cancellationToken)
    {
        var tenantId = tenant.TenantId;
        return db.Sessions.Where(s => s.TenantId == tenantId && s.UserId == userId)
            .ExecuteUpdateAsync(u => u.SetProperty(s => s.IpAddress, (string?)null).SetProperty(s => s.UserAgent, (string?)null), cancellationToken);
    }

    /// <summary>
    /// Ends every session of the user and revokes all the user's grants; returns how many sessions ended. Throws when Redis
    /// is unreachable; running it again finishes the job (an event consumer's retry does).
    /// </summary>
    public async Task<int> RevokeUserAsync(Guid userId, string reason, CancellationToken cancellationToken)
    {
        var tenantId = tenant.TenantId;
        var now = time.GetUtcNow();
        var sessions = await db.Sessions
            .Where(s => s.TenantId == tenantId && s.UserId == userId && s.RevokedAt == null)
            .ToListAsync(cancellationToken);
        foreach (var session in sessions)
        {
            session.RevokedAt = now;
        }

        // Revocation is a set operation: running it twice (a redelivered event) changes nothing more. The user's denial below
        // covers the sessions' tokens too; should it fail, the event's consumer denies those.
        if (sessions.Count > 0)
        {
            db.AddEvent(new SessionsRevoked(userId, sessions.Select(s => s.Id).ToList(), reason) { TenantId = tenantId });
            await db.SaveChangesAsync(cancellationToken);
        }

        await authorizations.RevokeBySubjectAsync(userId.ToString(), cancellationToken);
        await tokens.RevokeBySubjectAsync(userId.ToString(), cancellationToken);
        await accessTokens.DenyUserAsync(tenantId, userId);
        return sessions.Count;
    }

    /// <summary>
    /// Ends what the user had at an event's time: the sessions started, grants and tokens created and access tokens
    /// issued before <paramref name="before"/> (<see cref="LumoAuth.Token.Messaging.EventCutOff"/>); a sign-in since
    /// keeps all of it. A grant from before goes whole, with the tokens rotated from it since. Returns how many sessions
    /// ended. Throws when Redis is unreachable; running it again finishes the job (an event consumer's retry does).
    /// </summary>
    public async Task<int> RevokeUserStateBeforeAsync(Guid userId, DateTimeOffset before, string reason, CancellationToken cancellationToken)
    {
        var ended = await RevokeSessionsStartedBeforeAsync(userId, before, reason, cancellationToken);
        await RevokeGrantsCreatedBeforeAsync(userId, before, cancellationToken);

        // Tokens outside any grant (a grant's own went with it above).
        var subject = userId.ToString();
        var createdBefore = before.UtcDateTime;
        await db.Set<TokenToken>()
            .Where(t => t.Subject == subject && t.Authorization == null && t.CreationDate < createdBefore && t.Status != OpenIddictConstants.Statuses.Revoked)
            .ExecuteUpdateAsync(u => u.SetProperty(t => t.Status, OpenIddictConstants.Statuses.Revoked), cancellationToken);

        // The sessions' and grants' access tokens were denied with them, issued since or not; this takes the rest from before.
        await accessTokens.DenyUserAsync(tenant.TenantId, userId, issuedBy: before);
        return ended;
    }

    /// <summary>
    /// Revokes the user's grants created before <paramref name="before"/>, each with all its tokens (their access tokens
    /// denied, or by its <c>GrantRevoked</c> event when Redis is out); grants created since stay.
    /// </summary>
    public async Task RevokeGrantsCreatedBeforeAsync(Guid userId, DateTimeOffset before, CancellationToken cancellationToken)
    {
        // Listed first, then revoked: the store reads them as a stream, and a write on its context would interrupt it.
        var earlierGrants = new List<object>();
        await foreach (var authorization in authorizations.FindBySubjectAsync(userId.ToString(), cancellationToken))
        {
            if (await authorizations.GetCreationDateAsync(authorization, cancellationToken) < before
                && await authorizations.HasStatusAsync(authorization, OpenIddictConstants.Statuses.Valid, cancellationToken))
            {
                earlierGrants.Add(authorization);
            }
        }

        foreach (var authorization in earlierGrants)
        {
            // The grant's stored tokens go, and its access tokens on the deny-list (TokenTokenManager).
            if (await authorizations.GetIdAsync(authorization, cancellationToken) is { } id)
            {
                await tokens.RevokeByAuthorizationIdAsync(id, cancellationToken);
            }

            await authorizations.TryRevokeAsync(authorization, cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unavailable: {Count} session(s) ended; their access tokens are denied when Redis is back (SessionsRevoked)")]
    private static partial void LogTokensDeniedLater(ILogger logger, Exception exception, int count);
}
