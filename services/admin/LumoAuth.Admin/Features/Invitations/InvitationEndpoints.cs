using System.Security.Cryptography;
using System.Text.Json.Serialization;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Groups;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Invitations;

/// <summary>
/// Invitations (ADM-65/66) at the documented <c>/invitations</c> and under <c>/admin/invitations</c>, plus
/// list and revoke. The invitation token is single-use and only its hash is stored: the e-mail consumer of
/// <see cref="UserInvited"/> issues it when it mails the link, and nothing secret is answered.
/// </summary>
public static class InvitationEndpoints
{
    public const int MaxBulk = 100;

    /// <summary>How a pending invitation past its expiry is shown and filtered (it is stored as pending).</summary>
    public const string Expired = "expired";

    public static IEndpointRouteBuilder MapInvitationEndpoints(this IEndpointRouteBuilder app)
    {
        foreach (var prefix in new[] { "/t/{tenantSlug}/api/v1/invitations", "/t/{tenantSlug}/api/v1/admin/invitations" })
        {
            var group = app.MapGroup(prefix).RequireAuthorization(Policies.TenantAdmin).WithTags("Invitations");
            var alias = prefix.Contains("/admin/", StringComparison.Ordinal) ? "Admin" : string.Empty;
            group.MapPost("/", CreateInvitation).WithName(alias + "CreateInvitation");
            group.MapPost("/bulk", CreateInvitations).WithName(alias + "CreateInvitationsInBulk");
            group.MapGet("/", ListInvitations).WithName(alias + "ListInvitations");
            group.MapDelete("/{invitationId}", RevokeInvitation).WithName(alias + "RevokeInvitation");
            group.MapPost("/{invitationId}/resend", ResendInvitation).WithName(alias + "ResendInvitation");
        }

        return app;
    }

    public static async Task<IResult> CreateInvitation(InvitationRequest request, AdminDbContext db, TenantContext tenant, AdministratorGuard guard, System.Security.Claims.ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        if (RefuseRoles([request], caller) is { } refused)
        {
            return refused;
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await LockAddressesAsync(db, tenant.TenantId, [request.Email], cancellationToken);
        var (invitation, error) = await InviteAsync(request, db, tenant, caller, cancellationToken);
        if (error is not null)
        {
            return error;
        }

        // Nothing is saved when refused: the staged invitation dies with the request's context.
        if (await guard.RefuseGroupsAsync(caller, tenant.TenantId, invitation!.GroupIds, cancellationToken) is { } administering)
        {
            return administering;
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Created((string?)null, new DataResponse<InvitationResponse>(InvitationResponse.From(invitation!), "Invitation created"));
    }

    /// <summary>Each invitation stands alone: the valid ones are created, the others reported by index.</summary>
    public static async Task<IResult> CreateInvitations(BulkInvitationRequest request, AdminDbContext db, TenantContext tenant, AdministratorGuard guard, System.Security.Claims.ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        if (request.Invitations is not { Count: > 0 and <= MaxBulk })
        {
            return ApiErrors.Validation("invitations", $"must hold 1 to {MaxBulk} invitations");
        }

        if (RefuseRoles([.. request.Invitations.OfType<InvitationRequest>()], caller) is { } refused)
        {
            return refused;
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await LockAddressesAsync(db, tenant.TenantId, [.. request.Invitations.Select(i => i?.Email)], cancellationToken);
        var results = new List<BulkInvitationResult>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < request.Invitations.Count; i++)
        {
            var item = request.Invitations[i];
            if (item?.Email is { } email && !seen.Add(email))
            {
                results.Add(new BulkInvitationResult(i, email, "error", null, ErrorCodes.DuplicateResource, "Repeated in this request"));
                continue;
            }

            var (invitation, error) = item is null
                ? (null, ApiErrors.Validation("email", "is required"))
                : await InviteAsync(item, db, tenant, caller, cancellationToken);
            var failure = (error as ApiErrorResult)?.Error;
            results.Add(invitation is null
                ? new BulkInvitationResult(i, item?.Email, "error", null, failure?.Code, failure?.Message)
                : new BulkInvitationResult(i, invitation.Email, "created", InvitationResponse.From(invitation), null, null));
        }

        // The groups the staged invitations will actually give; when refused, none of them is saved.
        var joining = db.Invitations.Local.SelectMany(i => i.GroupIds).Distinct().ToList();
        if (await guard.RefuseGroupsAsync(caller, tenant.TenantId, joining, cancellationToken) is { } administering)
        {
            return administering;
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new DataResponse<IReadOnlyList<BulkInvitationResult>>(
            results, $"{results.Count(r => r.Status == "created")} of {results.Count} invitations created"));
    }

    public static async Task<IResult> ListInvitations(int? page, int? limit, string? search, string? status, string? sortBy, string? sortDir, AdminDbContext db, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Optional("search", search);
        var order = ListOrder.Check(validation, sortBy, sortDir, ["createdAt", "expiresAt", "email"], newestFirst: true);
        validation.Check(status is null or InvitationStatuses.Pending or InvitationStatuses.Accepted or InvitationStatuses.Revoked or Expired,
            "status", "must be pending, expired, accepted or revoked");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var paging = PageRequest.From(page, limit);
        var query = db.Invitations.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = LikePatterns.Containing(search);
            query = query.Where(i => EF.Functions.ILike(i.Email, pattern, LikePatterns.Escape));
        }

        // As the list shows them: a pending invitation past its expiry is "expired".
        var now = DateTimeOffset.UtcNow;
        query = status switch
        {
            null => query,
            InvitationStatuses.Pending => query.Where(i => i.Status == InvitationStatuses.Pending && i.ExpiresAt > now),
            Expired => query.Where(i => i.Status == InvitationStatuses.Pending && i.ExpiresAt <= now),
            _ => query.Where(i => i.Status == status),
        };

        var total = await query.LongCountAsync(cancellationToken);
        var ordered = order.Key switch
        {
            "expiresAt" => order.Apply(query, i => i.ExpiresAt),
            "email" => order.Apply(query, i => i.NormalizedEmail),
            _ => order.Apply(query, i => i.CreatedAt),
        };
        var rows = await ordered.ThenBy(i => i.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<InvitationResponse>(rows.Select(InvitationResponse.From).ToList(), PageMeta.For(paging, total)));
    }

    public static async Task<IResult> RevokeInvitation(string invitationId, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(invitationId, out var id))
        {
            return ApiErrors.NotFound("Invitation");
        }

        // Out of pending only if still pending: an acceptance that got there first keeps its account and its status.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var revoked = await db.Invitations.Where(i => i.TenantId == tenant.TenantId && i.Id == id && i.Status == InvitationStatuses.Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(i => i.Status, InvitationStatuses.Revoked).SetProperty(i => i.RevokedAt, now), cancellationToken);
        if (revoked == 0)
        {
            return ApiErrors.NotFound("Invitation");
        }

        db.AddEvent(new UserInvitationRevoked(id) { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Mails a pending, unexpired invitation again (portal "Resend"); the new link replaces the old one. A full administrator
    /// who re-sends it vouches for it, so its roles and groups are given at acceptance as if they had sent it.
    /// </summary>
    public static async Task<IResult> ResendInvitation(string invitationId, AdminDbContext db, System.Security.Claims.ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var invitation = Guid.TryParse(invitationId, out var id)
            ? await db.Invitations.FirstOrDefaultAsync(i => i.Id == id && i.Status == InvitationStatuses.Pending && i.ExpiresAt > now, cancellationToken)
            : null;
        if (invitation is null)
        {
            return ApiErrors.NotFound("Invitation");
        }

        invitation.ByFullAdministrator |= AdminScopeHandler.HasFullWrite(caller);
        db.AddEvent(new UserInvitationResent(invitation.Id) { TenantId = invitation.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Accepted((string?)null, new DataResponse<InvitationResponse>(InvitationResponse.From(invitation), "Invitation resent"));
    }

    /// <summary>
    /// An invitation's roles and groups are given when it is accepted, when nobody asks who invited: naming roles (which may
    /// be <c>admin</c>, by slug or id) is for full administrators, and so is naming a group that holds an administering role
    /// (checked on the groups each staged invitation resolved, <see cref="AdministratorGuard.RefuseGroupsAsync"/>).
    /// </summary>
    private static IResult? RefuseRoles(IReadOnlyList<InvitationRequest> invitations, System.Security.Claims.ClaimsPrincipal caller) =>
        invitations.Any(i => i.Roles is { Count: > 0 }) && !AdminScopeHandler.HasFullWrite(caller)
            ? ApiErrors.NeedsFullWrite("Inviting with roles")
            : null;

    /// <summary>
    /// Serialises invitations to the same addresses until the caller's transaction ends, so two requests at once cannot
    /// both find no pending invitation and make two. Taken in one order, so two bulk requests never wait on each other.
    /// </summary>
    private static async Task LockAddressesAsync(AdminDbContext db, Guid tenantId, IEnumerable<string?> emails, CancellationToken cancellationToken)
    {
        foreach (var normalized in emails.OfType<string>().Where(e => e.Length is > 0 and <= 320).Select(e => e.ToLowerInvariant()).Distinct().Order(StringComparer.Ordinal))
        {
            var key = $"invitation:{tenantId:N}:{normalized}";
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({key}, 0))", cancellationToken);
        }
    }

    /// <summary>Validates one invitation and stages it (and its event) on the context; the caller saves.</summary>
    private static async Task<(Invitation? Invitation, IResult? Error)> InviteAsync(
        InvitationRequest request, AdminDbContext db, TenantContext tenant, System.Security.Claims.ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Email("email", request.Email);
        var roles = request.Roles ?? [];
        validation.Check(roles.Count <= 50 && roles.All(r => r is { Length: > 0 and <= 100 } && r.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':')),
            "roles", "must be at most 50 role slugs");
        validation.Check(request.Groups is not { } named || (named.Count <= 50 && named.All(g => g is { Length: > 0 and <= 100 })),
            "groups", "must be at most 50 group ids or slugs");
        validation.Check(request.Locale is null || LumoAuth.ServiceDefaults.Localization.LanguageTags.IsWellFormed(request.Locale),
            "locale", "must be a language tag such as en, de or fr-CA");
        var groups = new List<Group>();
        if (request.Groups is { Count: > 0 and <= 50 })
        {
            (groups, var missing) = await GroupMembership.ResolveAsync(db, request.Groups.Distinct().ToList(), cancellationToken);
            foreach (var reference in missing)
            {
                validation.Add("groups", $"no group '{reference}'");
            }
        }

        if (!validation.IsValid)
        {
            return (null, validation.ToResult());
        }

        var normalized = request.Email!.ToLowerInvariant();
        var now = DateTimeOffset.UtcNow;
        if (await db.Users.AnyAsync(u => u.NormalizedEmail == normalized, cancellationToken))
        {
            return (null, ApiErrors.Duplicate("A user with this email already exists"));
        }

        if (await db.Invitations.AnyAsync(i => i.NormalizedEmail == normalized && i.Status == InvitationStatuses.Pending && i.ExpiresAt > now, cancellationToken))
        {
            return (null, ApiErrors.Duplicate("A pending invitation for this email already exists"));
        }

        var settings = await TenantSettings.LoadAsync(db, tenant.TenantId, cancellationToken);
        var invitation = new Invitation
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.TenantId, Email = request.Email, NormalizedEmail = normalized,
            Roles = roles.Distinct().ToList(), GroupIds = groups.Select(g => g.Id).ToList(), ByFullAdministrator = AdminScopeHandler.HasFullWrite(caller),
            TokenHash = SHA256.HashData(RandomNumberGenerator.GetBytes(32)), CreatedAt = now, Locale = request.Locale,
            ExpiresAt = now.AddDays(settings.LoginPolicy.InvitationExpiryDays),
        };
        db.Invitations.Add(invitation);
        db.AddEvent(new UserInvited(invitation.Id, invitation.Email, invitation.Roles, groups.Select(g => g.Slug).ToList(), invitation.ExpiresAt)
        {
            TenantId = tenant.TenantId,
        });
        return (invitation, null);
    }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
/// <param name="Locale">The language to write the invitation in (a BCP 47 tag); the tenant's default when absent or not offered.</param>
public sealed record InvitationRequest(string? Email, IReadOnlyList<string>? Roles, IReadOnlyList<string>? Groups, string? Locale = null);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record BulkInvitationRequest(IReadOnlyList<InvitationRequest?>? Invitations);

public sealed record InvitationResponse(
    Guid Id, string Email, IReadOnlyList<string> Roles, IReadOnlyList<Guid> GroupIds, string Status, DateTimeOffset ExpiresAt, DateTimeOffset CreatedAt)
{
    /// <inheritdoc cref="Invitation.Locale"/>
    public string? Locale { get; init; }

    public static InvitationResponse From(Invitation i) => new(
        i.Id, i.Email, i.Roles, i.GroupIds, i.Status == InvitationStatuses.Pending && i.ExpiresAt <= DateTimeOffset.UtcNow ? InvitationEndpoints.Expired : i.Status,
        i.ExpiresAt, i.CreatedAt) { Locale = i.Locale };
}

public sealed record BulkInvitationResult(int Index, string? Email, string Status, InvitationResponse? Invitation, string? Code, string? Message);
