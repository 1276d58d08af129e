using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Sms;

/// <summary>
/// The signed-in user's phone for codes by text message (the docs' SMS enrolment, for the token service's account page):
/// a number in international format gets a first code; that code confirms it. Only where the tenant allows SMS and a
/// provider is set up; one phone per user.
/// </summary>
public static class SmsFactorEndpoints
{
    public static IEndpointRouteBuilder MapSmsFactorEndpoints(this IEndpointRouteBuilder app)
    {
        var internalApi = app.MapGroup(InternalRoutes.Prefix + "/users/{userId:guid}/mfa/sms").RequireAuthorization(Policies.Internal).WithTags("Internal");
        internalApi.MapPost("/", Begin).WithName("InternalBeginSmsEnrolment");
        internalApi.MapPost("/confirm", Confirm).WithName("InternalConfirmSmsEnrolment");
        internalApi.MapDelete("/", Remove).WithName("InternalRemoveSmsFactor");
        return app;
    }

    public static async Task<IResult> Begin(
        Guid userId, Guid? tenantId, BeginSmsRequest request, AdminDbContext db, TenantContext tenant, SecondStepCodes codes, SmsPhones phones,
        CancellationToken cancellationToken)
    {
        var user = await InternalTenantScope.FindUserAsync(db, tenant, tenantId, userId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        if (!codes.CanText(await TenantSettings.LoadAsync(db, user.TenantId, cancellationToken)))
        {
            return ApiErrors.Validation("phoneNumber", "codes by text message are not available: the organisation does not allow them, or no SMS provider is set up");
        }

        if (!SmsPhones.IsPhoneNumber(request.PhoneNumber))
        {
            return ApiErrors.Validation("phoneNumber", "must be in international format, e.g. +14155550123");
        }

        if (await db.MfaFactors.AnyAsync(f => f.UserId == user.Id && f.Type == MfaFactorTypes.Sms && f.Confirmed, cancellationToken))
        {
            return ApiErrors.Duplicate("A phone is already set up for sign-in codes; remove it first");
        }

        // The new pending phone replaces the old one only if its code goes out: while a code was sent moments ago nothing
        // changes, and the caller is told to wait rather than to look for a text that never comes.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.MfaFactors.Where(f => f.UserId == user.Id && f.Type == MfaFactorTypes.Sms).ExecuteDeleteAsync(cancellationToken);
        var factor = new MfaFactor
        {
            Id = Guid.CreateVersion7(), TenantId = user.TenantId, UserId = user.Id, Type = MfaFactorTypes.Sms,
            ProtectedSecret = phones.Protect(request.PhoneNumber!), CreatedAt = DateTimeOffset.UtcNow,
        };
        db.MfaFactors.Add(factor);
        await db.SaveChangesAsync(cancellationToken);
        if (!await codes.SendAsync(user, cancellationToken, factor))
        {
            return ApiErrors.Create(StatusCodes.Status429TooManyRequests, ErrorCodes.RateLimitExceeded,
                "A code was sent moments ago, or too many lately; wait before asking for another");
        }

        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Created((string?)null, new DataResponse<SmsEnrolmentStarted>(new SmsEnrolmentStarted(SmsPhones.Hint(request.PhoneNumber!)), "Code texted"));
    }

    /// <summary>The texted code confirms the pending phone; as a first factor it brings the user's first backup codes.</summary>
    public static async Task<IResult> Confirm(
        Guid userId, Guid? tenantId, ConfirmSmsRequest request, AdminDbContext db, TenantContext tenant, SecondStepCodes codes, SmsPhones phones, CancellationToken cancellationToken)
    {
        var user = await InternalTenantScope.FindUserAsync(db, tenant, tenantId, userId, cancellationToken, tracking: true);
        var pending = user is null ? null
            : await db.MfaFactors.FirstOrDefaultAsync(f => f.UserId == user.Id && f.Type == MfaFactorTypes.Sms && !f.Confirmed, cancellationToken);
        if (user is null || pending is null)
        {
            return ApiErrors.NotFound("Pending phone");
        }

        // Only a code texted to this pending phone confirms it (not one sent to an earlier number, nor a mailed one).
        if (request.Code is not { Length: > 0 and <= 20 } code || !await codes.TryUseAsync(user, code.Trim(), pending.Id, cancellationToken))
        {
            return ApiErrors.Validation("code", "is not the code we texted, or it expired");
        }

        var first = !await db.MfaFactors.AnyAsync(f => f.UserId == user.Id && f.Confirmed, cancellationToken);
        pending.Confirmed = true;
        pending.ConfirmedAt = DateTimeOffset.UtcNow;
        var backupCodes = first ? await BackupCodes.ReplaceAsync(db, user, cancellationToken) : null;
        db.AddEvent(new UserMfaEnrolled(user.Id, MfaFactorTypes.Sms) { TenantId = user.TenantId });
        // The code reached the profile's own number: that number is proven too (OIDC phone_number_verified), in the same save;
        // a concurrent change of the number makes the save a conflict rather than prove the new one.
        if (!user.PhoneNumberVerified && user.PhoneNumber is { } profileNumber && SmsPhones.SameNumber(profileNumber, phones.NumberOf(pending)))
        {
            user.PhoneNumberVerified = true;
            user.UpdatedAt = DateTimeOffset.UtcNow;
            db.AddEvent(new UserUpdated(user.Id, ["phoneNumberVerified"]) { TenantId = user.TenantId });
        }

        try
        {
            // The user's row first, as a sign-in takes it before the factors: the other order could deadlock with one.
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await db.Database.ExecuteSqlAsync($"""SELECT 1 FROM users WHERE "Id" = {user.Id} FOR NO KEY UPDATE""", cancellationToken);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, ErrorCodes.InvalidRequest, "The account was changed meanwhile; ask for a new code");
        }

        return TypedResults.Ok(new DataResponse<BackupCodeSet>(new BackupCodeSet(backupCodes ?? []), "Phone confirmed"));
    }

    public static async Task<IResult> Remove(Guid userId, Guid? tenantId, AdminDbContext db, TenantContext tenant, SecondStepCodes codes, CancellationToken cancellationToken)
    {
        var user = await InternalTenantScope.FindUserAsync(db, tenant, tenantId, userId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        if (await db.MfaFactors.AnyAsync(f => f.UserId == user.Id && f.Type == MfaFactorTypes.Sms && f.Confirmed, cancellationToken)
            && await codes.WouldLeaveNoSecondFactorAsync(user, MfaFactorTypes.Sms, cancellationToken))
        {
            return SecondStepCodes.LastSecondFactor();
        }

        var removed = await db.MfaFactors.Where(f => f.UserId == userId && f.Type == MfaFactorTypes.Sms).ExecuteDeleteAsync(cancellationToken);
        return removed > 0 ? TypedResults.NoContent() : ApiErrors.NotFound("Phone");
    }
}
