using System.Text;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.AuditLogs;
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
/// records the erasure, in one transaction. The audit log is pseudonymised by <see cref="AuditHousekeeping"/>,
/// woken at once, in bounded slices (a tenant's log can hold millions of entries, too many for one request): the user's
/// id becomes <c>erased_…</c>, their address, client address and browser are cleared, and the address is struck from the
/// entries' details — also in entries of events still in flight, for a day. The other services act on
/// <see cref="UserDeleted"/> (sessions and grants revoked, roles removed).
/// </summary>
public static class DataErasure
{
    public const string StruckOut = "[erased]";

    private const string StruckOutJson = "\"" + StruckOut + "\"";

    /// <summary>How long after the erasure its own events (the deletion, the erasure) may be timed.</summary>
    private static readonly TimeSpan OwnEventsWindow = TimeSpan.FromMinutes(5);

    public static async Task<IResult> EraseUserData(
        DataExportRequest request, AdminDbContext db, UserCommands users, AuditHousekeeping housekeeping, CancellationToken cancellationToken)
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
        // Waits for webhook consumers writing deliveries of this tenant, which read the tenant's erasures first: a delivery
        // they write after that read is then there to be deleted below, and those that follow see this erasure.
        await LockTenantErasuresAsync(db, user.TenantId, shared: false, cancellationToken);
        await db.Invitations.Where(i => i.NormalizedEmail == user.NormalizedEmail).ExecuteDeleteAsync(cancellationToken);
        // Stored webhook payloads name the user (user.created carries the address) and can be replayed: those go too. The
        // events of the erasure itself (user.deleted) are queued after it and still tell receivers to forget the user.
        // The address as a whole JSON string (with its quotes), so that erasing jo@acme.io leaves bigjo@acme.io's deliveries;
        // both spellings, as the payload may escape characters such as "+". Read through the tenant's webhooks (indexed).
        var id = LikePatterns.Containing(user.Id.ToString());
        var address = LikePatterns.Containing("\"" + user.Email + "\"");
        var addressInJson = LikePatterns.Containing(System.Text.Json.JsonSerializer.Serialize(user.Email));
        var hooks = db.Webhooks.Select(w => w.Id);
        await db.WebhookDeliveries
            .Where(d => hooks.Contains(d.WebhookId))
            .Where(d => EF.Functions.ILike(d.Payload, id, LikePatterns.Escape) || EF.Functions.ILike(d.Payload, address, LikePatterns.Escape)
                || EF.Functions.ILike(d.Payload, addressInJson, LikePatterns.Escape))
            .ExecuteDeleteAsync(cancellationToken);
        db.ErasedSubjects.Add(new ErasedSubject
        {
            Id = Guid.CreateVersion7(), TenantId = user.TenantId, UserId = user.Id, Email = user.Email, ErasedAs = erasedAs, ErasedAt = now,
            PseudonymisedFrom = DateTimeOffset.UnixEpoch,
        });
        db.AddEvent(new UserDataErased(erasedAs) { TenantId = user.TenantId });
        if (await users.DeleteAsync(user, cancellationToken) is { } error)
        {
            return error;
        }

        await transaction.CommitAsync(cancellationToken);
        housekeeping.RunSoon();
        return TypedResults.Ok(new DataResponse<ErasureResult>(new ErasureResult(erasedAs, now), "User data erased"));
    }

    /// <summary>
    /// In the tenant's audit entries timed in [<paramref name="from"/>, <paramref name="until"/>): replaces the erased user's id by
    /// the pseudonym (actor, target, actor chain, details); on entries the user made, clears their address, client address
    /// and browser; strikes their address (when still known) out of the details of entries up to the erasure's own — a new
    /// account may take the address again, and its entries are not the erased user's. Entries about the user (target or
    /// details naming them) also lose every address in their details' e-mail members, whatever it is: the user may have
    /// changed address, and the one erased is only the last.
    /// </summary>
    public static async Task<int> PseudonymiseAuditAsync(
        AdminDbContext db, ErasedSubject erased, DateTimeOffset from, DateTimeOffset? until, CancellationToken cancellationToken)
    {
        var id = erased.UserId!.Value.ToString();
        var idPattern = "%" + id + "%";
        var to = until ?? DateTimeOffset.MaxValue;
        var addressUntil = erased.ErasedAt + OwnEventsWindow;
        // Case-insensitive, every other character literal: PostgreSQL's regular expressions take "\" + symbol as the symbol.
        var emailRegex = erased.Email is null ? "$^" : Literal(erased.Email);
        var emailPattern = erased.Email is null ? idPattern : "%" + erased.Email + "%";
        var email = erased.Email ?? string.Empty;
        var changed = await db.Database.ExecuteSqlInterpolatedAsync($"""
            UPDATE audit_logs SET
                "ActorEmail" = CASE WHEN "ActorId" = {id} OR ("Timestamp" < {addressUntil} AND lower("ActorEmail") = lower({email})) THEN NULL ELSE "ActorEmail" END,
                "IpAddress" = CASE WHEN "ActorId" = {id} THEN NULL ELSE "IpAddress" END,
                "UserAgent" = CASE WHEN "ActorId" = {id} THEN NULL ELSE "UserAgent" END,
                "ActorId" = CASE WHEN "ActorId" = {id} THEN {erased.ErasedAs} ELSE "ActorId" END,
                "TargetId" = CASE WHEN "TargetId" = {id} THEN {erased.ErasedAs} ELSE "TargetId" END,
                "ActorChain" = CAST(replace(CAST("ActorChain" AS text), {id}, {erased.ErasedAs}) AS jsonb),
                "Metadata" = CAST(CASE WHEN "Timestamp" < {addressUntil}
                    THEN regexp_replace(replace(CAST("Metadata" AS text), {id}, {erased.ErasedAs}), {emailRegex}, {StruckOut}, 'gi')
                    ELSE replace(CAST("Metadata" AS text), {id}, {erased.ErasedAs}) END AS jsonb)
            WHERE "TenantId" = {erased.TenantId} AND "Timestamp" >= {from} AND "Timestamp" < {to}
                AND ("ActorId" = {id} OR "TargetId" = {id} OR CAST("Metadata" AS text) LIKE {idPattern} OR CAST("ActorChain" AS text) LIKE {idPattern}
                OR ("Timestamp" < {addressUntil} AND (lower("ActorEmail") = lower({email}) OR CAST("Metadata" AS text) ILIKE {emailPattern})))
            """, cancellationToken);

        // Found by the pseudonym the statement above just wrote (random, so it names only this user). Not the entries the
        // user merely made: the address of someone they invited is that person's, not the erased user's.
        var erasedAsPattern = "%" + erased.ErasedAs + "%";
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            UPDATE audit_logs SET "Metadata" = (
                SELECT jsonb_object_agg(key, CASE WHEN key ILIKE '%email%' AND jsonb_typeof(value) = 'string' THEN to_jsonb(CAST({StruckOut} AS text)) ELSE value END)
                FROM jsonb_each("Metadata"))
            WHERE "TenantId" = {erased.TenantId} AND "Timestamp" >= {from} AND "Timestamp" < {to}
                AND ("TargetId" = {erased.ErasedAs} OR CAST("Metadata" AS text) LIKE {erasedAsPattern})
                AND jsonb_typeof("Metadata") = 'object'
                AND EXISTS (SELECT 1 FROM jsonb_each("Metadata") m
                    WHERE m.key ILIKE '%email%' AND jsonb_typeof(m.value) = 'string' AND m.value <> to_jsonb(CAST({StruckOut} AS text)))
            """, cancellationToken);
        return changed;
    }

    /// <summary>
    /// The tenant's erasure lock, until the caller's transaction ends: an erasure holds it alone; a writer of webhook
    /// deliveries holds it shared from reading the tenant's erasures until its deliveries are committed.
    /// </summary>
    public static async Task LockTenantErasuresAsync(AdminDbContext db, Guid tenantId, bool shared, CancellationToken cancellationToken)
    {
        var key = $"erasure:{tenantId:N}";
        await (shared
            ? db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock_shared(hashtextextended({key}, 0))", cancellationToken)
            : db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({key}, 0))", cancellationToken));
    }

    /// <summary>
    /// A webhook payload of an event that names a user erased in the last day (in flight at the erasure, or raised after it
    /// by a service acting on the deletion), as the audit log keeps it: the user's id becomes the pseudonym and, in events
    /// up to the erasure's own, the address is struck out. The deletion's own <c>user.deleted</c> is left whole by the caller:
    /// it tells receivers whom to forget.
    /// </summary>
    public static string PseudonymisePayload(string payload, IEnumerable<ErasedSubject> erasures, DateTimeOffset occurredAt)
    {
        foreach (var erased in erasures)
        {
            if (erased.UserId is { } userId)
            {
                payload = payload.Replace(userId.ToString(), erased.ErasedAs, StringComparison.OrdinalIgnoreCase);
            }

            if (erased.Email is { Length: > 0 } email && occurredAt < erased.ErasedAt + OwnEventsWindow)
            {
                // As a whole JSON string, so bigjo@acme.io keeps its address when jo@acme.io is erased; both spellings, as the
                // payload's writer escapes characters such as "+".
                payload = payload.Replace("\"" + email + "\"", StruckOutJson, StringComparison.OrdinalIgnoreCase)
                    .Replace(System.Text.Json.JsonSerializer.Serialize(email), StruckOutJson, StringComparison.OrdinalIgnoreCase);
            }
        }

        return payload;
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
