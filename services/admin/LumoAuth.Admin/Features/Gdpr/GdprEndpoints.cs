using System.Text.Json.Serialization;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.AuditLogs;
using LumoAuth.Admin.Features.Invitations;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Gdpr;

/// <summary>
/// ADM-67: everything held about a user, as one JSON bundle (erasure: <see cref="DataErasure"/>): this service's records, and the
/// sessions, consents and roles the token and authorization services keep (<see cref="DataHeldElsewhere"/>).
/// </summary>
public static class GdprEndpoints
{
    public const int MaxAuditEntries = 10_000;

    public static IEndpointRouteBuilder MapGdprEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/t/{tenantSlug}/api/v1/gdpr/data-export", ExportUserData)
            .RequireAuthorization(Policies.TenantAdmin).WithTags("GDPR").WithName("ExportUserData");
        app.MapPost("/t/{tenantSlug}/api/v1/admin/gdpr/data-export", ExportUserData)
            .RequireAuthorization(Policies.TenantAdmin).WithTags("GDPR").WithName("AdminExportUserData");
        app.MapPost("/t/{tenantSlug}/api/v1/gdpr/data-deletion", DataErasure.EraseUserData)
            .RequireAuthorization(Policies.TenantAdmin).WithTags("GDPR").WithName("EraseUserData");
        app.MapPost("/t/{tenantSlug}/api/v1/admin/gdpr/data-deletion", DataErasure.EraseUserData)
            .RequireAuthorization(Policies.TenantAdmin).WithTags("GDPR").WithName("AdminEraseUserData");
        return app;
    }

    public static async Task<IResult> ExportUserData(
        DataExportRequest request, AdminDbContext db, TenantContext tenant, DataHeldElsewhere elsewhere, RoleHolderLookup roleHolders, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.UserId) || request.UserId.Length > 320)
        {
            return ApiErrors.Validation("userId", "is required (the user's id or email)");
        }

        var user = await UserCommands.FindAsync(db, request.UserId, cancellationToken, tracking: false);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        var id = user.Id.ToString();
        var profile = await UserViews.ToResponseAsync(db, roleHolders, user, cancellationToken);
        var factors = await db.MfaFactors.AsNoTracking().Where(f => f.UserId == user.Id)
            .Select(f => new ExportedFactor(f.Type, f.Confirmed, f.CreatedAt, f.ConfirmedAt)).ToListAsync(cancellationToken);
        // Passkeys are credentials of the user's too (named, never their keys).
        factors.AddRange(await db.Passkeys.AsNoTracking().Where(p => p.UserId == user.Id)
            .Select(p => new ExportedFactor("webauthn", true, p.CreatedAt, p.CreatedAt)).ToListAsync(cancellationToken));
        var resets = await db.PasswordResetTokens.AsNoTracking().Where(t => t.UserId == user.Id)
            .Select(t => new ExportedReset(t.CreatedAt, t.ExpiresAt, t.UsedAt)).ToListAsync(cancellationToken);
        var invitations = await db.Invitations.AsNoTracking().Where(i => i.NormalizedEmail == user.NormalizedEmail).ToListAsync(cancellationToken);
        var audit = await db.AuditLogs.AsNoTracking().Where(a => a.TargetId == id || a.ActorId == id)
            .OrderByDescending(a => a.Timestamp).Take(MaxAuditEntries).ToListAsync(cancellationToken);

        var (sessions, roles, links) = await elsewhere.FetchAsync(user.TenantId, user.Id, cancellationToken);
        List<string> unavailable = [.. new[]
            {
                (sessions is null, DataHeldElsewhere.SessionsPart), (roles is null, DataHeldElsewhere.RolesPart), (links is null, DataHeldElsewhere.SocialLinksPart),
            }
            .Where(p => p.Item1).Select(p => p.Item2)];

        db.AddEvent(new UserDataExported(user.Id) { TenantId = user.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        var bundle = new DataExportBundle(
            DateTimeOffset.UtcNow, tenant.Slug, profile,
            new ExportedAccount(user.ExternalId, user.Title, UserViews.Json(user.EnterpriseData), user.PasswordHash is not null, user.PasswordChangedAt,
                user.MustChangePassword, user.FailedLoginCount, user.SoftDeletedAt),
            factors, resets, invitations.Select(InvitationResponse.From).ToList(), audit.Select(AuditLogResponse.From).ToList(),
            sessions?.Sessions, sessions?.Consents, roles is null ? null : new ExportedRoles(roles.Roles, roles.Permissions), links, unavailable);
        return TypedResults.Ok(new DataResponse<DataExportBundle>(bundle, "User data exported"));
    }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record DataExportRequest(string? UserId);

public sealed record ExportedFactor(string Type, bool Confirmed, DateTimeOffset CreatedAt, DateTimeOffset? ConfirmedAt);

public sealed record ExportedReset(DateTimeOffset RequestedAt, DateTimeOffset ExpiresAt, DateTimeOffset? UsedAt);

public sealed record ExportedAccount(
    string? ExternalId, string? Title, System.Text.Json.JsonElement Enterprise, bool HasPassword, DateTimeOffset? PasswordChangedAt,
    bool MustChangePassword, int FailedLoginCount, DateTimeOffset? SoftDeletedAt);

/// <param name="Unavailable">Parts another service keeps that could not be fetched this time (empty when the bundle is complete).</param>
public sealed record DataExportBundle(
    DateTimeOffset ExportedAt, string Tenant, UserResponse Profile, ExportedAccount Account, IReadOnlyList<ExportedFactor> MfaFactors,
    IReadOnlyList<ExportedReset> PasswordResets, IReadOnlyList<InvitationResponse> Invitations, IReadOnlyList<AuditLogResponse> AuditEntries,
    IReadOnlyList<UserSessionRecord>? Sessions, IReadOnlyList<UserConsentRecord>? Consents, ExportedRoles? Roles,
    IReadOnlyList<ExternalIdentityRecord>? SocialLinks, IReadOnlyList<string> Unavailable);

/// <summary>The user's roles and permissions in an export: what they hold, not the service-to-service facts beside them.</summary>
public sealed record ExportedRoles(IReadOnlyList<string> Roles, IReadOnlyList<string> Permissions);
