using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// Email verification links hold a sealed, time-limited statement "tenant T's user U owns address A",
/// protected with the service's key ring: nothing is stored per link, a link dies when it expires or
/// when the user's address changes, and using it twice changes nothing.
/// </summary>
public sealed class EmailVerificationTokens(IDataProtectionProvider dataProtection, TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(24);

    private readonly ITimeLimitedDataProtector _protector =
        dataProtection.CreateProtector("LumoAuth.Admin.EmailVerification.v1").ToTimeLimitedDataProtector();

    public (string Token, DateTimeOffset ExpiresAt) Issue(Guid tenantId, Guid userId, string normalizedEmail)
    {
        var expiresAt = time.GetUtcNow() + Lifetime;
        var statement = string.Create(CultureInfo.InvariantCulture, $"{tenantId:N}|{userId:N}|{normalizedEmail}");
        return (Base64Url.EncodeToString(_protector.Protect(Encoding.UTF8.GetBytes(statement), expiresAt)), expiresAt);
    }

    public bool TryRead(string token, out Guid tenantId, out Guid userId, out string normalizedEmail)
    {
        (tenantId, userId, normalizedEmail) = (Guid.Empty, Guid.Empty, string.Empty);
        try
        {
            var parts = Encoding.UTF8.GetString(_protector.Unprotect(Base64Url.DecodeFromChars(token), out _)).Split('|', 3);
            return parts.Length == 3 && Guid.TryParseExact(parts[0], "N", out tenantId) && Guid.TryParseExact(parts[1], "N", out userId)
                && (normalizedEmail = parts[2]).Length > 0;
        }
        catch (Exception e) when (e is CryptographicException or FormatException)
        {
            return false;
        }
    }
}

/// <summary>The hosted pages' side of email verification: ask for a link, and redeem one.</summary>
public static class EmailVerifications
{
    public const int MaxTokenLength = 1000;

    public const string AcceptedMessage = "If this address needs verifying, a verification link has been sent to it";

    /// <summary>
    /// Unknown, already verified and unverified addresses get the same 202 after the same work (<see cref="AddressLinkRequests"/>);
    /// <see cref="StageForAddressAsync"/> acts on it later, and only the unverified are mailed.
    /// </summary>
    public static Task<IResult> Request(RequestEmailVerification request, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken) =>
        AddressLinkRequests.AcceptAsync(db, tenant, request.TenantId, request.Email, AddressLinkKinds.EmailVerification, null, AcceptedMessage, cancellationToken,
            language: request.Language);

    /// <summary>
    /// Acts on a verification link request, in the tenant entered and inside the caller's transaction (which commits the
    /// claim and the event together): an unverified, unblocked user's is staged; the caller saves.
    /// </summary>
    public static async Task StageForAddressAsync(AdminDbContext db, string normalizedEmail, string? pageLanguage, CancellationToken cancellationToken)
    {
        var user = await db.Users.AsNoTracking()
            .FirstOrDefaultAsync(u => u.NormalizedEmail == normalizedEmail && !u.EmailVerified && !u.Blocked, cancellationToken);
        if (user is null)
        {
            return;
        }

        // At most one mail per address every MinimumSpacing, claimed by a conditional update so requests handled together
        // send one: a flood of requests for someone's address does not fill their inbox.
        var now = DateTimeOffset.UtcNow;
        var recently = now - PasswordResetRequests.MinimumSpacing;
        var claimed = await db.Users
            .Where(u => u.Id == user.Id && (u.EmailVerificationRequestedAt == null || u.EmailVerificationRequestedAt <= recently))
            .ExecuteUpdateAsync(s => s.SetProperty(u => u.EmailVerificationRequestedAt, now), cancellationToken);
        if (claimed == 1)
        {
            db.AddEvent(new UserEmailVerificationRequested(user.Id) { TenantId = user.TenantId, Language = pageLanguage });
        }
    }

    public static async Task<IResult> Complete(
        CompleteEmailVerification request, AdminDbContext db, TenantContext tenant, EmailVerificationTokens tokens, CancellationToken cancellationToken)
    {
        if (!await InternalTenantScope.EnterAsync(db, tenant, request.TenantId, cancellationToken)
            || request.Token is not { Length: > 0 and <= MaxTokenLength } token
            || !tokens.TryRead(token, out var tenantId, out var userId, out var email)
            || tenantId != request.TenantId)
        {
            return InvalidToken();
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var user = await db.Users.AsNoTracking().Where(u => u.Id == userId && u.NormalizedEmail == email)
            .Select(u => new { u.Id, u.Email, u.EmailVerified }).FirstOrDefaultAsync(cancellationToken);
        if (user is null)
        {
            return InvalidToken();
        }

        // A conditional update, so two clicks (or a concurrent profile edit) never conflict or publish twice. A self-registration
        // proven this way is vouched for from now on: its credentials stay (the documented sign-up is register, then verify).
        var changed = await db.Users.Where(u => u.Id == userId && u.NormalizedEmail == email && (!u.EmailVerified || u.SelfRegisteredUnproven))
            .ExecuteUpdateAsync(s => s
                .SetProperty(u => u.EmailVerified, true)
                .SetProperty(u => u.SelfRegisteredUnproven, false)
                .SetProperty(u => u.UpdatedAt, DateTimeOffset.UtcNow), cancellationToken);
        if (changed > 0)
        {
            db.AddEvent(new UserUpdated(userId, ["emailVerified"]) { TenantId = tenantId });
            await db.SaveChangesAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<object>(new { userId = user.Id, email = user.Email }, "Email verified"));
    }

    private static IResult InvalidToken() => ApiErrors.BadRequest(ErrorCodes.InvalidToken, "The link is invalid, expired or no longer matches the account");
}
