using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Admin.Security;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// A user changes their own password (the token service's account page): the current one first, checked like a sign-in
/// (a wrong one counts towards the lockout, a locked account cannot change it), then the new one through the same rules
/// as every other way of setting a password (policy, history, the "password changed" mail).
/// </summary>
public static class PasswordChange
{
    public static IEndpointRouteBuilder MapPasswordChangeEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost(InternalRoutes.Prefix + "/users/{userId:guid}/password", Change)
            .RequireAuthorization(Policies.Internal).WithTags("Internal").WithName("InternalChangePassword");
        return app;
    }

    public static async Task<IResult> Change(
        Guid userId, Guid? tenantId, ChangePasswordRequest request, AdminDbContext db, TenantContext tenant, PasswordHasher hasher,
        Authenticator authenticator, UserCommands users, CancellationToken cancellationToken)
    {
        var user = await InternalTenantScope.EnterAsync(db, tenant, tenantId, cancellationToken)
            ? await db.Users.FirstOrDefaultAsync(u => u.Id == userId, cancellationToken)
            : null;
        if (user is null || user.Blocked || !user.IsActive || user.SoftDeletedAt is not null)
        {
            return ApiErrors.NotFound("User");
        }

        if (user.LockedUntil > DateTimeOffset.UtcNow)
        {
            return ApiErrors.Validation("currentPassword", "cannot be checked while the account is locked");
        }

        var current = request.CurrentPassword ?? string.Empty;
        if (user.PasswordHash is null)
        {
            return ApiErrors.Validation("currentPassword", "does not exist: this account has no password; set one with a reset link");
        }

        if (current.Length is 0 or > PasswordPolicy.AbsoluteMaxLength || !hasher.Verify(current, user.PasswordHash))
        {
            await authenticator.RecordWrongPasswordAsync(user, cancellationToken);
            return ApiErrors.Validation("currentPassword", "is not your current password");
        }

        if (await users.SetPasswordAsync(user, request.NewPassword, cancellationToken) is { } refused)
        {
            return refused;
        }

        return TypedResults.Ok(new ServiceDefaults.Paging.DataResponse<object>(new { userId = user.Id }, "Password changed"));
    }
}
