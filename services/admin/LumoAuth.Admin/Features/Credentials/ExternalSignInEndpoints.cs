using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Internal;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

/// <summary>
/// Sign-in with outside accounts (social and OpenID Connect providers): federation, which checked the provider's answer
/// and keeps the links, asks here for the user a new outside account is (found by verified address or made), and the
/// token service asks here whether the sign-in may go on (the same rules as any sign-in, second step included).
/// </summary>
public static class ExternalSignInEndpoints
{
    public static IEndpointRouteBuilder MapExternalSignInEndpoints(this IEndpointRouteBuilder app)
    {
        var internalApi = app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal");
        internalApi.MapPost(InternalRoutes.ExternalUsers, FindOrCreate).WithName("InternalFindOrCreateExternalUser");
        internalApi.MapPost(InternalRoutes.FederatedSignIn, SignIn).WithName("InternalFederatedSignIn");
        internalApi.MapPost(InternalRoutes.ExternalProfile, UpdateProfile).WithName("InternalUpdateExternalProfile");
        internalApi.MapPut(InternalRoutes.DirectoryPresence, SetDirectoryPresence).WithName("InternalDirectoryPresence");
        return app;
    }

    /// <summary>
    /// The user for an outside account signing in for the first time: the one whose address it is, when the provider
    /// verified the address, the account is not an unproven self-registration, and the provider links automatically (an unverified address would
    /// let anyone who can type it take the account over); else a new user with the verified address, when the provider
    /// allows sign-up.
    /// </summary>
    public static async Task<IResult> FindOrCreate(
        ExternalUserRequest request, AdminDbContext db, TenantContext tenant, UserCommands users, InitialRoles initialRoles, CancellationToken cancellationToken)
    {
        if (!await InternalTenantScope.EnterAsync(db, tenant, request.TenantId, cancellationToken))
        {
            return ApiErrors.NotFound("Tenant");
        }

        var email = request.Email?.Trim().ToLowerInvariant();
        if (string.IsNullOrEmpty(email) || !new RequestValidator().Email("email", email).IsValid)
        {
            return ApiErrors.Create(StatusCodes.Status400BadRequest, ExternalUserErrors.EmailRequired, "The provider gave no usable e-mail address");
        }

        var existing = await db.Users.AsNoTracking().Where(u => u.NormalizedEmail == email)
            .Select(u => new { u.Id, u.SelfRegisteredUnproven }).FirstOrDefaultAsync(cancellationToken);
        if (existing is not null)
        {
            // Not an account someone registered themselves with an address they never proved: it may be theirs, not the
            // provider's person (its password and factors would stay with it). Accounts an administrator, SCIM or an
            // invitation made are vouched for.
            return request.AutoLink && request.EmailVerified && !existing.SelfRegisteredUnproven
                ? TypedResults.Ok(new ExternalUserResponse(existing.Id, Created: false))
                : ApiErrors.Create(StatusCodes.Status409Conflict, ExternalUserErrors.AccountExists, "An account with this address exists and cannot be linked automatically");
        }

        if (!request.AllowSignup)
        {
            return ApiErrors.Create(StatusCodes.Status403Forbidden, ExternalUserErrors.SignupDisabled, "New accounts cannot be made through this provider");
        }

        // A new account only for an address the provider verified: made with an unverified one, it would be the provider
        // account's for good, whoever proves the address later.
        if (!request.EmailVerified)
        {
            return ApiErrors.Create(StatusCodes.Status403Forbidden, ExternalUserErrors.EmailUnverified, "The provider did not verify the address, so no account is made with it");
        }

        static string? Trimmed(string? value, int max) => string.IsNullOrWhiteSpace(value) ? null : value.Trim()[..Math.Min(value.Trim().Length, max)];
        // The directory's login name becomes the username only while nobody here signs in by it (a username or an
        // address); else the user goes without one rather than not at all.
        var username = request.Username?.Trim() is { Length: > 0 and <= 100 } wanted && !wanted.Any(char.IsControl)
                       && !await users.UsernameTakenAsync(wanted, null, cancellationToken) ? wanted : null;
        // Default roles live in the authorization service: given just before the user is saved, taken back if it is not.
        Guid? given = null;
        async Task<IResult?> GiveRolesAsync(Guid userId, CancellationToken ct)
        {
            given = userId;
            var (refused, mayHaveWritten) = await initialRoles.GiveExistingAsync(tenant.TenantId, userId, request.Roles!, ct);
            given = mayHaveWritten ? userId : null;
            return refused;
        }

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        User? user = null;
        IResult? error = null;
        try
        {
            (user, error) = await users.CreateAsync(
                new NewUser(email, null, new UserProfileFields(Trimmed(request.Name, 200), Trimmed(request.GivenName, 100), Trimmed(request.FamilyName, 100), username,
                    LumoAuth.ServiceDefaults.Profiles.ProfileValues.IsPhoneNumber(request.PhoneNumber) ? request.PhoneNumber!.Trim() : null,
                    request.Picture is { Length: <= 2000 } picture && Uri.TryCreate(picture, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps ? picture : null),
                    EmailVerified: true, IsActive: true, Groups: null) { DirectoryId = request.DirectoryId },
                cancellationToken,
                request.Roles is { Count: > 0 } ? GiveRolesAsync : null);
        }
        finally
        {
            if (user is null && given is { } orphan)
            {
                await initialRoles.TakeBackAsync(tenant.TenantId, orphan, null);
            }
        }

        if (error is not null)
        {
            // Made by a concurrent first sign-in of the same person (or someone else) just now: their link decides.
            return error is IStatusCodeHttpResult { StatusCode: StatusCodes.Status409Conflict }
                ? ApiErrors.Create(StatusCodes.Status409Conflict, ExternalUserErrors.AccountExists, "An account with this address exists and cannot be linked automatically")
                : error;
        }

        await transaction.CommitAsync(cancellationToken);
        return TypedResults.Ok(new ExternalUserResponse(user!.Id, Created: true));
    }

    /// <summary>The most users one presence report names (federation imports at most a few thousand entries).</summary>
    private const int MaxPresenceReport = 50_000;

    /// <summary>
    /// A directory import's report on the users the directory made: those it no longer lists are blocked (their sessions
    /// end with <c>UserBlocked</c>), marked as the directory's block; those it lists again lose a block the directory made
    /// (never one an administrator made or took over). Users of other directories, or made otherwise, are left alone.
    /// </summary>
    public static async Task<IResult> SetDirectoryPresence(
        Guid directoryId, DirectoryPresenceRequest request, AdminDbContext db, TenantContext tenant, UserCommands users, CancellationToken cancellationToken)
    {
        if (!await InternalTenantScope.EnterAsync(db, tenant, request.TenantId, cancellationToken))
        {
            return ApiErrors.NotFound("Tenant");
        }

        if (request.Present is null || request.Present.Count + (request.Absent?.Count ?? 0) > MaxPresenceReport)
        {
            return ApiErrors.Validation("present", $"must list at most {MaxPresenceReport} users in all");
        }

        var (absent, present) = ((request.Absent ?? []).ToHashSet(), request.Present.ToHashSet());
        var toBlock = absent.Count == 0 ? [] : await db.Users
            .Where(u => u.DirectoryId == directoryId && absent.Contains(u.Id) && !u.Blocked && u.SoftDeletedAt == null).ToListAsync(cancellationToken);
        var toUnblock = await db.Users.Where(u => u.DirectoryId == directoryId && present.Contains(u.Id) && u.BlockedByDirectory).ToListAsync(cancellationToken);
        var (blocked, unblocked) = (0, 0);
        foreach (var (user, block) in toBlock.Select(u => (u, true)).Concat(toUnblock.Select(u => (u, false))))
        {
            // A row changed meanwhile (an administrator's edit) stops the round: its failed change stays in this context,
            // so nothing more is saved here, and the next import tries again with fresh rows.
            if ((await users.SetBlockedAsync(user, block, byDirectory: true)).Error is not null)
            {
                break;
            }

            if (block)
            {
                blocked++;
            }
            else
            {
                unblocked++;
            }
        }

        return TypedResults.Ok(new DirectoryPresenceResponse(blocked, unblocked));
    }

    /// <summary>
    /// A linked user's names as their IdP gives them now (a SAML IdP's "update user on login"): the IdP is the directory of
    /// record for them. Only the names: the address and everything else stay the tenant's.
    /// </summary>
    public static async Task<IResult> UpdateProfile(
        Guid userId, ExternalProfileRequest request, AdminDbContext db, TenantContext tenant, UserCommands users, CancellationToken cancellationToken)
    {
        if (!await InternalTenantScope.EnterAsync(db, tenant, request.TenantId, cancellationToken))
        {
            return ApiErrors.NotFound("Tenant");
        }

        if (await db.Users.FirstOrDefaultAsync(u => u.Id == userId && u.SoftDeletedAt == null, cancellationToken) is not { } user)
        {
            return ApiErrors.NotFound("User");
        }

        static string? Trimmed(string? value, int max) => string.IsNullOrWhiteSpace(value) ? null : value.Trim()[..Math.Min(value.Trim().Length, max)];
        var (_, error) = await users.UpdateAsync(
            user, new UserChanges(null, new UserProfileFields(Trimmed(request.Name, 200), Trimmed(request.GivenName, 100), Trimmed(request.FamilyName, 100), null, null, null), null, null),
            cancellationToken);
        return error ?? TypedResults.NoContent();
    }

    public static async Task<IResult> SignIn(Guid userId, FederatedSignInRequest request, Authenticator authenticator, CancellationToken cancellationToken) =>
        request.TenantId == Guid.Empty
            ? ApiErrors.Validation("tenantId", "is required")
            : TypedResults.Ok(await authenticator.SignInFederatedAsync(userId, request, cancellationToken));
}
