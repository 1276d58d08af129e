using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Admin.Security;
using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// What a signed-in user changes of their own account from the token service's account pages: their names, and their
/// password — the current one first, checked like a sign-in (a wrong one counts towards the lockout, a locked account
/// cannot change it), then the new one through the same rules as every other way of setting a password (policy, history,
/// the "password changed" mail).
/// </summary>
public static class SelfService
{
    public static IEndpointRouteBuilder MapSelfServiceEndpoints(this IEndpointRouteBuilder app)
    {
        var internalApi = app.MapGroup(InternalRoutes.Prefix + "/users/{userId:guid}").RequireAuthorization(Policies.Internal).WithTags("Internal");
        internalApi.MapPost("/password", Change).WithName("InternalChangePassword");
        internalApi.MapPatch("/profile", UpdateProfile).WithName("InternalUpdateOwnProfile");
        internalApi.MapPost("/terms", AcceptTerms).WithName("InternalAcceptTerms");
        return app;
    }

    /// <summary>Names and language only: the address, its verification and everything else stay the administrator's (or a link's) to change.</summary>
    public static async Task<IResult> UpdateProfile(
        Guid userId, Guid? tenantId, SelfProfileUpdate request, AdminDbContext db, TenantContext tenant, UserCommands users, CancellationToken cancellationToken)
    {
        var user = await ActiveUserAsync(db, tenant, userId, tenantId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        // The tenant's declared attributes the user may change, checked before anything is saved.
        string? attributes = null;
        if (request.Attributes is not null)
        {
            var validation = new RequestValidator();
            var declared = (await TenantSettings.LoadAsync(db, user.TenantId, cancellationToken)).UserProfile.Attributes;
            attributes = ProfileAttributeValues.Apply(declared, request.Attributes, atRegistration: false, user.Attributes, validation);
            if (!validation.IsValid)
            {
                return validation.ToResult();
            }
        }

        var (_, error) = await users.UpdateAsync(user, new UserChanges(null, new UserProfileFields(request.Name, request.GivenName, request.FamilyName, null, null, null) { Locale = request.Locale }, null, null), cancellationToken);
        if (error is null && attributes is not null && !System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(attributes), System.Text.Json.Nodes.JsonNode.Parse(user.Attributes)))
        {
            user.Attributes = attributes;
            user.UpdatedAt = DateTimeOffset.UtcNow;
            db.AddEvent(new LumoAuth.Contracts.Users.UserUpdated(user.Id, ["attributes"]) { TenantId = user.TenantId });
            await db.SaveChangesAsync(cancellationToken);
        }

        return error ?? TypedResults.Ok(new ServiceDefaults.Paging.DataResponse<object>(new { userId = user.Id }, "Profile updated"));
    }

    /// <summary>Records that the user accepted the tenant's current terms of service; another version is 409 (the page was old).</summary>
    public static async Task<IResult> AcceptTerms(
        Guid userId, Guid? tenantId, TermsAcceptance request, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        var user = await ActiveUserAsync(db, tenant, userId, tenantId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        var terms = (await TenantSettings.LoadAsync(db, user.TenantId, cancellationToken)).TermsOfService;
        if (!terms.IsSet || request.Version != terms.Version)
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, ErrorCodes.InvalidRequest, "These are not the tenant's current terms of service");
        }

        if (user.TermsAcceptedVersion != terms.Version)
        {
            user.TermsAcceptedVersion = terms.Version;
            user.TermsAcceptedAt = DateTimeOffset.UtcNow;
            user.UpdatedAt = user.TermsAcceptedAt.Value;
            db.AddEvent(new LumoAuth.Contracts.Users.UserUpdated(user.Id, ["termsAcceptedVersion"]) { TenantId = user.TenantId });
            await db.SaveChangesAsync(cancellationToken);
        }

        return TypedResults.Ok(new ServiceDefaults.Paging.DataResponse<object>(new { userId = user.Id, version = terms.Version }, "Terms accepted"));
    }

    private static async Task<User?> ActiveUserAsync(AdminDbContext db, TenantContext tenant, Guid userId, Guid? tenantId, CancellationToken cancellationToken)
    {
        var user = await InternalTenantScope.FindUserAsync(db, tenant, tenantId, userId, cancellationToken, tracking: true);
        return user is null || user.Blocked || !user.IsActive || user.SoftDeletedAt is not null ? null : user;
    }

    public static async Task<IResult> Change(
        Guid userId, Guid? tenantId, ChangePasswordRequest request, AdminDbContext db, TenantContext tenant, PasswordHasher hasher,
        Authenticator authenticator, UserCommands users, CancellationToken cancellationToken)
    {
        var user = await ActiveUserAsync(db, tenant, userId, tenantId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        if (user.LockedUntil > DateTimeOffset.UtcNow)
        {
            return ApiErrors.Validation("currentPassword", "cannot be checked while the account is locked");
        }

        var current = request.CurrentPassword ?? string.Empty;
        if (user.DirectoryId is not null)
        {
            // The directory checks the current password (as the person), where it takes new ones from here at all.
            return await users.SetPasswordAsync(user, request.NewPassword, cancellationToken, currentPassword: current) is { } notWritten
                ? notWritten is IStatusCodeHttpResult { StatusCode: StatusCodes.Status409Conflict }
                    ? ApiErrors.Validation("password", "is kept by your organisation's directory: change it there")
                    : notWritten
                : TypedResults.Ok(new ServiceDefaults.Paging.DataResponse<object>(new { userId = user.Id }, "Password changed"));
        }

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
