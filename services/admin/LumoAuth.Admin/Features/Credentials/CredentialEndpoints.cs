using System.Text.Json.Serialization;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// Password login and user claims for the token service (internal key), and TOTP enrolment: by an admin
/// (<c>/admin/users/{id}/mfa/totp</c>) or by the token service's hosted pages for the signed-in user
/// (the same operations under <c>/internal/v1/users/{id}/mfa/totp?tenantId=</c>).
/// </summary>
public static class CredentialEndpoints
{
    public const string TotpIssuerFallback = "LumoAuth";

    public static IEndpointRouteBuilder MapCredentialEndpoints(this IEndpointRouteBuilder app)
    {
        var internalApi = app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal");
        internalApi.MapPost(InternalRoutes.Authenticate, Authenticate).WithName("InternalAuthenticate");
        internalApi.MapGet(InternalRoutes.UserProfile, GetUserProfile).WithName("InternalGetUserProfile");
        internalApi.MapGet(InternalRoutes.UserByLogin, FindUserByLogin).WithName("InternalFindUserByLogin");
        internalApi.MapGet(InternalRoutes.Prefix + "/users/{userId:guid}/mfa", InternalListFactors).WithName("InternalListMfaFactors");
        internalApi.MapPost(InternalRoutes.Prefix + "/users/{userId:guid}/mfa/totp", InternalBeginTotp).WithName("InternalBeginTotpEnrolment");
        internalApi.MapPost(InternalRoutes.Prefix + "/users/{userId:guid}/mfa/totp/confirm", InternalConfirmTotp).WithName("InternalConfirmTotpEnrolment");
        internalApi.MapPost(InternalRoutes.Prefix + "/users/{userId:guid}/mfa/backup-codes", InternalRegenerateBackupCodes).WithName("InternalRegenerateBackupCodes");
        internalApi.MapPost(InternalRoutes.Prefix + "/users/{userId:guid}/mfa/email", InternalTurnOnEmailCodes).WithName("InternalTurnOnEmailCodes");
        internalApi.MapDelete(InternalRoutes.Prefix + "/users/{userId:guid}/mfa/email", InternalTurnOffEmailCodes).WithName("InternalTurnOffEmailCodes");

        var admin = app.MapGroup("/t/{tenantSlug}/api/v1/admin/users/{userId}/mfa")
            .RequireAuthorization(Policies.TenantAdmin)
            .GuardingAdministratorAccounts()
            .WithTags("Users");
        admin.MapGet("/", ListFactors).WithName("ListUserMfaFactors");
        admin.MapPost("/totp", BeginTotp).WithName("BeginUserTotpEnrolment");
        admin.MapPost("/totp/confirm", ConfirmTotp).WithName("ConfirmUserTotpEnrolment");
        admin.MapGet("/backup-codes", CountBackupCodes).WithName("CountUserBackupCodes");
        admin.MapPost("/backup-codes", RegenerateBackupCodes).WithName("RegenerateUserBackupCodes");
        return app;
    }

    public static async Task<IResult> Authenticate(AuthenticateRequest request, Authenticator authenticator, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty)
        {
            return ApiErrors.Validation("tenantId", "is required");
        }

        return TypedResults.Ok(await authenticator.AuthenticateAsync(request, cancellationToken));
    }

    public static async Task<IResult> GetUserProfile(Guid userId, Guid? tenantId, AdminDbContext db, CancellationToken cancellationToken)
    {
        if (tenantId is null)
        {
            return ApiErrors.Validation("tenantId", "is required");
        }

        // Whether a second factor is confirmed comes with the user row, not in a query of its own: token issuance asks this.
        var row = await db.Users.IgnoreQueryFilters().AsNoTracking()
            .Where(u => u.Id == userId && u.TenantId == tenantId)
            .Select(u => new
            {
                User = u,
                MfaEnabled = db.MfaFactors.IgnoreQueryFilters().Any(f => f.UserId == u.Id && f.TenantId == u.TenantId && f.Confirmed),
                HasPasskey = db.Passkeys.IgnoreQueryFilters().Any(p => p.UserId == u.Id && p.TenantId == u.TenantId),
            })
            .FirstOrDefaultAsync(cancellationToken);
        if (row is null)
        {
            return ApiErrors.NotFound("User");
        }

        var user = row.User;

        var groups = await db.GroupMembers.IgnoreQueryFilters()
            .Where(m => m.UserId == user.Id && m.TenantId == user.TenantId)
            // A soft-deleted group has no members; the filter is a second line should one slip in (its slug is "deleted:…").
            .Join(db.Groups.IgnoreQueryFilters().Where(g => g.TenantId == user.TenantId && g.SoftDeletedAt == null), m => m.GroupId, g => g.Id, (_, g) => g.Slug)
            .OrderBy(slug => slug)
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new UserProfile(
            user.Id, user.TenantId, user.Email, user.EmailVerified, user.Name, user.GivenName, user.FamilyName, user.Username,
            user.PhoneNumber, user.Blocked, user.IsActive && user.SoftDeletedAt is null, user.UpdatedAt)
        {
            Groups = groups,
            Picture = user.Picture,
            Locale = user.Locale,
            Address = PostalAddress.FromAttributes(user.Attributes),
            IsAdmin = user.IsAdmin,
            MfaEnabled = row.MfaEnabled,
            HasOwnCredential = user.PasswordHash != null || row.HasPasskey,
            PhoneNumberVerified = user.PhoneNumberVerified,
            Attributes = UserViews.Json(user.Attributes),
            Enterprise = UserViews.Json(user.EnterpriseData),
            TermsAcceptedVersion = user.TermsAcceptedVersion,
        });
    }

    /// <summary>
    /// The user a login hint names (CIBA's <c>login_hint</c>): an email address, or a username that exactly one user of
    /// the tenant has (usernames are not unique, so an ambiguous one names nobody). Case does not matter.
    /// </summary>
    public static async Task<IResult> FindUserByLogin(Guid? tenantId, string? login, AdminDbContext db, CancellationToken cancellationToken)
    {
        var hint = login?.Trim().ToLowerInvariant() ?? string.Empty;
        if (tenantId is null || hint.Length is 0 or > 320)
        {
            return ApiErrors.Validation(tenantId is null ? "tenantId" : "login", tenantId is null ? "is required" : "must be 1 to 320 characters");
        }

        var users = db.Users.IgnoreQueryFilters().AsNoTracking().Where(u => u.TenantId == tenantId);
        var ids = hint.Contains('@', StringComparison.Ordinal)
            ? await users.Where(u => u.NormalizedEmail == hint).Select(u => u.Id).ToListAsync(cancellationToken)
#pragma warning disable CA1304, CA1311, CA1862 // Not run here: EF translates ToLower() to SQL lower(), which the username index is on.
            : await users.Where(u => u.Username != null && u.Username.ToLower() == hint).Select(u => u.Id).Take(2).ToListAsync(cancellationToken);
#pragma warning restore CA1304, CA1311, CA1862
        return ids.Count == 1
            ? await GetUserProfile(ids[0], tenantId, db, cancellationToken)
            : ApiErrors.NotFound("User");
    }

    public static async Task<IResult> ListFactors(string userId, AdminDbContext db, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        var factors = await db.MfaFactors.AsNoTracking().Where(f => f.UserId == user.Id).OrderBy(f => f.CreatedAt)
            .Select(f => new MfaFactorResponse(f.Id, f.Type, f.Confirmed, f.CreatedAt, f.ConfirmedAt)).ToListAsync(cancellationToken);
        return TypedResults.Ok(new ServiceDefaults.Paging.DataResponse<IReadOnlyList<MfaFactorResponse>>(factors));
    }

    public static async Task<IResult> BeginTotp(string userId, AdminDbContext db, TotpFactors totp, TenantContext tenant, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        return user is null ? ApiErrors.NotFound("User") : await BeginAsync(user, tenant.Tenant!.Name, db, totp, cancellationToken);
    }

    public static async Task<IResult> ConfirmTotp(string userId, ConfirmTotpRequest request, AdminDbContext db, TotpFactors totp, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        return user is null ? ApiErrors.NotFound("User") : await ConfirmAsync(user, request.Code, db, totp, cancellationToken);
    }

    public static async Task<IResult> CountBackupCodes(string userId, AdminDbContext db, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        return user is null
            ? ApiErrors.NotFound("User")
            : TypedResults.Ok(new ServiceDefaults.Paging.DataResponse<object>(new { remaining = await BackupCodes.RemainingAsync(db, user.Id, cancellationToken) }));
    }

    public static async Task<IResult> RegenerateBackupCodes(string userId, AdminDbContext db, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        return user is null ? ApiErrors.NotFound("User") : await RegenerateAsync(user, db, cancellationToken);
    }

    public static async Task<IResult> InternalRegenerateBackupCodes(
        Guid userId, Guid? tenantId, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        var user = await InternalTenantScope.FindUserAsync(db, tenant, tenantId, userId, cancellationToken);
        return user is null ? ApiErrors.NotFound("User") : await RegenerateAsync(user, db, cancellationToken);
    }

    /// <summary>A new set of backup codes for a user with a confirmed factor (TOTP or e-mail codes); the old set stops working.</summary>
    private static async Task<IResult> RegenerateAsync(User user, AdminDbContext db, CancellationToken cancellationToken)
    {
        if (!await db.MfaFactors.AnyAsync(f => f.UserId == user.Id && f.Confirmed, cancellationToken))
        {
            return ApiErrors.NotFound("Confirmed MFA factor");
        }

        var codes = await BackupCodes.ReplaceAsync(db, user, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created((string?)null, new ServiceDefaults.Paging.DataResponse<BackupCodesResponse>(new BackupCodesResponse(codes), "Backup codes replaced"));
    }

    /// <summary>The token service's account page shows whether the signed-in user has two-step verification.</summary>
    public static async Task<IResult> InternalListFactors(Guid userId, Guid? tenantId, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken) =>
        await InternalTenantScope.EnterAsync(db, tenant, tenantId, cancellationToken)
            ? await ListFactors(userId.ToString(), db, cancellationToken)
            : ApiErrors.NotFound("User");

    /// <summary>
    /// The signed-in user turns e-mailed sign-in codes on (account page): only where the tenant allows the method, its mail
    /// goes out and the address is verified. A first factor brings the user's first backup codes, shown this once.
    /// </summary>
    public static async Task<IResult> InternalTurnOnEmailCodes(
        Guid userId, Guid? tenantId, AdminDbContext db, TenantContext tenant, SecondStepCodes secondStepCodes, CancellationToken cancellationToken)
    {
        var user = await InternalTenantScope.FindUserAsync(db, tenant, tenantId, userId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        if (!secondStepCodes.CanReach(await Settings.TenantSettings.LoadAsync(db, user.TenantId, cancellationToken), user))
        {
            return ApiErrors.Validation("email", "sign-in codes by e-mail are not available: the organisation does not allow them, or the address is not verified");
        }

        if (await db.MfaFactors.AnyAsync(f => f.UserId == user.Id && f.Type == MfaFactorTypes.Email, cancellationToken))
        {
            return TypedResults.Ok(new ServiceDefaults.Paging.DataResponse<EmailCodesEnabledResponse>(new EmailCodesEnabledResponse(null), "Email codes already on"));
        }

        var first = !await db.MfaFactors.AnyAsync(f => f.UserId == user.Id && f.Confirmed, cancellationToken);
        var now = DateTimeOffset.UtcNow;
        db.MfaFactors.Add(new MfaFactor
        {
            Id = Guid.CreateVersion7(), TenantId = user.TenantId, UserId = user.Id, Type = MfaFactorTypes.Email, Confirmed = true, CreatedAt = now, ConfirmedAt = now,
        });
        var codes = first ? await BackupCodes.ReplaceAsync(db, user, cancellationToken) : null;
        db.AddEvent(new UserMfaEnrolled(user.Id, MfaFactorTypes.Email) { TenantId = user.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created((string?)null, new ServiceDefaults.Paging.DataResponse<EmailCodesEnabledResponse>(new EmailCodesEnabledResponse(codes), "Email codes on"));
    }

    /// <summary>The signed-in user turns e-mailed codes off (a tenant that requires a second factor and allows e-mail still sends them).</summary>
    public static async Task<IResult> InternalTurnOffEmailCodes(
        Guid userId, Guid? tenantId, AdminDbContext db, TenantContext tenant, SecondStepCodes secondStepCodes, CancellationToken cancellationToken)
    {
        var user = await InternalTenantScope.FindUserAsync(db, tenant, tenantId, userId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        if (await db.MfaFactors.AnyAsync(f => f.UserId == user.Id && f.Type == MfaFactorTypes.Email && f.Confirmed, cancellationToken)
            && await secondStepCodes.WouldLeaveNoSecondFactorAsync(user, MfaFactorTypes.Email, cancellationToken))
        {
            return SecondStepCodes.LastSecondFactor();
        }

        var removed = await db.MfaFactors.Where(f => f.UserId == userId && f.Type == MfaFactorTypes.Email).ExecuteDeleteAsync(cancellationToken);
        return removed > 0 ? TypedResults.NoContent() : ApiErrors.NotFound("Email codes");
    }

    public static async Task<IResult> InternalBeginTotp(
        Guid userId, Guid? tenantId, AdminDbContext db, TenantContext tenant, TotpFactors totp, CancellationToken cancellationToken)
    {
        var user = await InternalTenantScope.FindUserAsync(db, tenant, tenantId, userId, cancellationToken);
        return user is null ? ApiErrors.NotFound("User") : await BeginAsync(user, tenant.Tenant!.Name, db, totp, cancellationToken);
    }

    public static async Task<IResult> InternalConfirmTotp(
        Guid userId, Guid? tenantId, ConfirmTotpRequest request, AdminDbContext db, TenantContext tenant, TotpFactors totp, CancellationToken cancellationToken)
    {
        var user = await InternalTenantScope.FindUserAsync(db, tenant, tenantId, userId, cancellationToken);
        return user is null ? ApiErrors.NotFound("User") : await ConfirmAsync(user, request.Code, db, totp, cancellationToken);
    }

    /// <summary>
    /// Starts (or restarts) enrolment: the secret and its otpauth URI are answered this once, then only
    /// the encrypted secret remains. A confirmed factor must be reset first (ADM-13).
    /// </summary>
    private static async Task<IResult> BeginAsync(User user, string issuer, AdminDbContext db, TotpFactors totp, CancellationToken cancellationToken)
    {
        var factors = await db.MfaFactors.Where(f => f.UserId == user.Id && f.Type == MfaFactorTypes.Totp).ToListAsync(cancellationToken);
        if (factors.Any(f => f.Confirmed))
        {
            return ApiErrors.Duplicate("A TOTP factor is already enrolled; reset MFA first");
        }

        db.MfaFactors.RemoveRange(factors);
        var (factor, secret) = totp.NewFactor(user.TenantId, user.Id);
        db.MfaFactors.Add(factor);
        await db.SaveChangesAsync(cancellationToken);
        var response = new TotpEnrolmentResponse(
            factor.Id, secret, TotpFactors.OtpAuthUri(string.IsNullOrWhiteSpace(issuer) ? TotpIssuerFallback : issuer, user.Email, secret),
            "Show this secret to the user once; confirm the enrolment with a first code.");
        return TypedResults.Created((string?)null, new ServiceDefaults.Paging.DataResponse<TotpEnrolmentResponse>(response, "TOTP enrolment started"));
    }

    private static async Task<IResult> ConfirmAsync(User user, string? code, AdminDbContext db, TotpFactors totp, CancellationToken cancellationToken)
    {
        var factor = await db.MfaFactors
            .FirstOrDefaultAsync(f => f.UserId == user.Id && f.Type == MfaFactorTypes.Totp && !f.Confirmed, cancellationToken);
        if (factor is null)
        {
            return ApiErrors.NotFound("Pending TOTP enrolment");
        }

        if (string.IsNullOrWhiteSpace(code) || !await totp.VerifyAndConsumeAsync(factor, code.Trim(), cancellationToken))
        {
            return ApiErrors.Validation("code", "is not a valid current code");
        }

        factor.Confirmed = true;
        factor.ConfirmedAt = DateTimeOffset.UtcNow;
        var codes = await BackupCodes.ReplaceAsync(db, user, cancellationToken);
        db.AddEvent(new UserMfaEnrolled(user.Id, MfaFactorTypes.Totp) { TenantId = user.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Ok(new ServiceDefaults.Paging.DataResponse<TotpEnrolledResponse>(
            new TotpEnrolledResponse(factor.Id, factor.Type, true, factor.CreatedAt, factor.ConfirmedAt, codes), "TOTP enrolled"));
    }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ConfirmTotpRequest(string? Code);

public sealed record MfaFactorResponse(Guid Id, string Type, bool Confirmed, DateTimeOffset CreatedAt, DateTimeOffset? ConfirmedAt);

/// <summary>A confirmed TOTP factor and the user's first backup codes, shown this once.</summary>
public sealed record TotpEnrolledResponse(
    Guid Id, string Type, bool Confirmed, DateTimeOffset CreatedAt, DateTimeOffset? ConfirmedAt, IReadOnlyList<string> BackupCodes)
{
    [JsonPropertyName("_note")]
    public string Note => BackupCodesResponse.ShownOnce;
}

/// <summary>E-mailed codes are on; the user's first backup codes when this was their first factor (shown this once).</summary>
public sealed record EmailCodesEnabledResponse(IReadOnlyList<string>? BackupCodes);

/// <summary>A new set of backup codes, shown this once.</summary>
public sealed record BackupCodesResponse(IReadOnlyList<string> BackupCodes)
{
    public const string ShownOnce = "Show the backup codes to the user once: each works once in place of a TOTP code.";

    [JsonPropertyName("_note")]
    public string Note => ShownOnce;
}

public sealed record TotpEnrolmentResponse(
    Guid FactorId, string Secret, string OtpauthUri,
    [property: JsonPropertyName("_note")] string Note);
