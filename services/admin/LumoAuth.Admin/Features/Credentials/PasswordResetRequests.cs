using System.Security.Cryptography;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// Password reset requests, from an admin (ADM-11) or from the hosted "forgot password" page. A request
/// stores a placeholder hash nobody knows the token of; the e-mail consumer issues the real token when it
/// sends the link, so no raw token is ever stored, published or answered.
/// </summary>
public static class PasswordResetRequests
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    public const string AcceptedMessage = "If an account exists for this address, a reset link has been sent to it";

    /// <summary>Withdraws the user's unused links (only the newest works) and stages a new request and its event; the caller saves.</summary>
    /// <param name="pageLanguage">The language of the page the person asked from, if they did (the mail's, when they have no <c>locale</c>).</param>
    public static async Task<PasswordResetToken> StageAsync(AdminDbContext db, User user, CancellationToken cancellationToken, string? pageLanguage = null)
    {
        await db.PasswordResetTokens.Where(t => t.UserId == user.Id && t.UsedAt == null).ExecuteDeleteAsync(cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var reset = new PasswordResetToken
        {
            Id = Guid.CreateVersion7(), TenantId = user.TenantId, UserId = user.Id,
            TokenHash = SHA256.HashData(RandomNumberGenerator.GetBytes(32)), CreatedAt = now, ExpiresAt = now + Lifetime,
        };
        db.PasswordResetTokens.Add(reset);
        db.AddEvent(new UserPasswordResetRequested(user.Id, reset.ExpiresAt) { TenantId = user.TenantId, ResetId = reset.Id, Language = pageLanguage });
        return reset;
    }

    /// <summary>
    /// Requests by address closer together than this are answered but not acted on: at most three mails a minute per
    /// address (FEATURES), and a mailed link is not replaced by a repeated click seconds later.
    /// </summary>
    public static readonly TimeSpan MinimumSpacing = TimeSpan.FromSeconds(20);

    /// <summary>
    /// The forgot-password page's request. Unknown, blocked and known addresses get the same 202 and body after the same
    /// work (<see cref="AddressLinkRequests"/>); <see cref="StageForAddressAsync"/> acts on it later. The gateway limits
    /// requests per client address (login category).
    /// </summary>
    public static Task<IResult> RequestByEmail(
        RequestPasswordResetByEmail request, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken) =>
        AddressLinkRequests.AcceptAsync(db, tenant, request.TenantId, request.Email, AddressLinkKinds.PasswordReset, null, AcceptedMessage, cancellationToken,
            language: request.Language);

    /// <summary>
    /// Acts on a forgot-password request, in the tenant entered: only the request of a user who may sign in (not blocked,
    /// deactivated or deleted) is staged (and mailed), at most once per <see cref="MinimumSpacing"/>; the caller saves, and
    /// has left out users whose LDAP directory takes no password from here.
    /// </summary>
    public static async Task StageForAddressAsync(AdminDbContext db, string normalizedEmail, string? pageLanguage, CancellationToken cancellationToken)
    {
        var user = await db.Users.AsNoTracking().FirstOrDefaultAsync(
            u => u.NormalizedEmail == normalizedEmail && !u.Blocked && u.IsActive && u.SoftDeletedAt == null, cancellationToken);
        var recently = DateTimeOffset.UtcNow - MinimumSpacing;
        if (user is not null && !await db.PasswordResetTokens.AnyAsync(t => t.UserId == user.Id && t.CreatedAt > recently, cancellationToken))
        {
            await StageAsync(db, user, cancellationToken, pageLanguage);
        }
    }
}
