using System.Text;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Gdpr;

/// <summary>
/// The right to erasure (GDPR Art. 17; the docs' "Data Deletion Request"): <c>POST /gdpr/data-deletion</c> deletes the user
/// with everything held about them here (credentials, factors, passkeys, memberships, invitations to the address) and
/// pseudonymises the audit log in the same transaction: the user's id becomes <c>erased_…</c>, their address, client address
/// and browser are cleared, and the address is struck from the entries' details. The other services act on
/// <see cref="UserDeleted"/> (sessions and grants revoked, roles removed). Entries of events still in flight are
/// pseudonymised by <see cref="AuditLogs.AuditHousekeeping"/> during the next day.
/// </summary>
public static class DataErasure
{
    public const string StruckOut = "[erased]";

    public static async Task<IResult> EraseUserData(DataExportRequest request, AdminDbContext db, UserCommands users, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.UserId) || request.UserId.Length > 320)
        {
            return ApiErrors.Validation("userId", "is required (the user's id or email)");
        }

        var user = await UserCommands.FindAsync(db, request.UserId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        var erasedAs = "erased_" + Guid.NewGuid().ToString("N")[..20];
        var now = DateTimeOffset.UtcNow;
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Invitations.Where(i => i.NormalizedEmail == user.NormalizedEmail).ExecuteDeleteAsync(cancellationToken);
        await PseudonymiseAuditAsync(db, user.TenantId, user.Id, user.Email, erasedAs, cancellationToken);
        db.ErasedSubjects.Add(new ErasedSubject { Id = Guid.CreateVersion7(), TenantId = user.TenantId, UserId = user.Id, ErasedAs = erasedAs, ErasedAt = now });
        db.AddEvent(new UserDataErased(erasedAs) { TenantId = user.TenantId });
        if (await users.DeleteAsync(user, cancellationToken) is { } error)
        {
            return error;
        }

        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<ErasureResult>(new ErasureResult(erasedAs, now), "User data erased"));
    }

    /// <summary>
    /// Replaces <paramref name="userId"/> by <paramref name="erasedAs"/> in the tenant's audit entries (actor, target, actor
    /// chain, details) — those from <paramref name="since"/> on, when given; on entries the user made, clears their address,
    /// client address and browser; strikes <paramref name="email"/> (when known) out of every entry's details.
    /// </summary>
    public static Task<int> PseudonymiseAuditAsync(
        AdminDbContext db, Guid tenantId, Guid userId, string? email, string erasedAs, CancellationToken cancellationToken, DateTimeOffset? since = null)
    {
        // Every entry of the tenant is read once at the erasure; the follow-ups read only what came after it (the time index).
        var from = since ?? DateTimeOffset.UnixEpoch;
        var id = userId.ToString();
        var idPattern = "%" + id + "%";
        // Case-insensitive, every other character literal: PostgreSQL's regular expressions take "\" + symbol as the symbol.
        var emailRegex = email is null ? "$^" : Literal(email);
        var emailPattern = email is null ? idPattern : "%" + email + "%";
        email ??= string.Empty;
        return db.Database.ExecuteSqlInterpolatedAsync($"""
            UPDATE audit_logs SET
                "ActorEmail" = CASE WHEN "ActorId" = {id} OR lower("ActorEmail") = lower({email}) THEN NULL ELSE "ActorEmail" END,
                "IpAddress" = CASE WHEN "ActorId" = {id} THEN NULL ELSE "IpAddress" END,
                "UserAgent" = CASE WHEN "ActorId" = {id} THEN NULL ELSE "UserAgent" END,
                "ActorId" = CASE WHEN "ActorId" = {id} THEN {erasedAs} ELSE "ActorId" END,
                "TargetId" = CASE WHEN "TargetId" = {id} THEN {erasedAs} ELSE "TargetId" END,
                "ActorChain" = CAST(replace(CAST("ActorChain" AS text), {id}, {erasedAs}) AS jsonb),
                "Metadata" = CAST(regexp_replace(replace(CAST("Metadata" AS text), {id}, {erasedAs}), {emailRegex}, {StruckOut}, 'gi') AS jsonb)
            WHERE "TenantId" = {tenantId} AND "Timestamp" >= {from} AND ("ActorId" = {id} OR "TargetId" = {id} OR lower("ActorEmail") = lower({email})
                OR CAST("Metadata" AS text) LIKE {idPattern} OR CAST("Metadata" AS text) ILIKE {emailPattern}
                OR CAST("ActorChain" AS text) LIKE {idPattern})
            """, cancellationToken);
    }

    /// <summary>
    /// A regular expression matching <paramref name="text"/> literally: ASCII symbols are escaped; letters, digits and every
    /// non-ASCII character stand for themselves (a backslash before a letter — "\ü" too, where the locale counts it as
    /// one — would be an escape PostgreSQL rejects, and the erasure would fail for that address).
    /// </summary>
    private static string Literal(string text)
    {
        var pattern = new StringBuilder(text.Length * 2);
        foreach (var c in text)
        {
            if (char.IsAscii(c) && !char.IsAsciiLetterOrDigit(c))
            {
                pattern.Append('\\');
            }

            pattern.Append(c);
        }

        return pattern.ToString();
    }
}

public sealed record ErasureResult(string ErasedAs, DateTimeOffset ErasedAt);
