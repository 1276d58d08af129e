using System.Security.Claims;
using System.Text.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Credentials;
using LumoAuth.Admin.Features.Groups;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Users;

public static class UserEndpoints
{
    public const int MaxAttributesBytes = 16 * 1024;
    private const int MaxAttributesDepth = 5;
    public const int MaxGroupsPerRequest = 100;

    /// <summary>Users one bulk request may create (a migration sends its users in pages of this many).</summary>
    public const int MaxBulk = 100;

    public static IEndpointRouteBuilder MapUserEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/users")
            .RequireAuthorization(Policies.TenantAdmin)
            .GuardingAdministratorAccounts()
            .WithTags("Users");
        group.MapGet("/", ListUsers).WithName("ListUsers");
        group.MapPost("/", CreateUser).WithName("CreateUser");
        group.MapPost("/bulk", CreateUsers).WithName("CreateUsers");
        group.MapGet("/{userId}", GetUser).WithName("GetUser");
        group.MapPut("/{userId}", UpdateUser).WithName("UpdateUser");
        group.MapPatch("/{userId}", UpdateUser).WithName("PatchUser");
        group.MapDelete("/{userId}", DeleteUser).WithName("DeleteUser");
        group.MapPost("/{userId}/block", BlockUser).WithName("BlockUser");
        group.MapPost("/{userId}/unblock", UnblockUser).WithName("UnblockUser");
        group.MapPut("/{userId}/password", SetPassword).WithName("SetUserPassword");
        group.MapPost("/{userId}/password-reset", RequestPasswordReset).WithName("RequestUserPasswordReset");
        group.MapPost("/{userId}/mfa/reset", ResetMfa).WithName("ResetUserMfa");
        group.MapGet("/{userId}/attributes", GetAttributes).WithName("GetUserAttributes");
        group.MapPut("/{userId}/attributes", SetAttributes).WithName("SetUserAttributes");
        group.MapGet("/{userId}/groups", GetGroups).WithName("GetUserGroups");
        group.MapPut("/{userId}/groups", SetGroups).WithName("SetUserGroups");
        return app;
    }

    /// <summary>
    /// Users whose address, name, username, given or family name holds <paramref name="search"/>, in any case. The
    /// trigram index <c>ix_users_search</c> serves it (see AdminDbContext).
    /// </summary>
    public static IQueryable<User> Searching(IQueryable<User> users, string search)
    {
        var pattern = LikePatterns.Containing(search);
        return users.Where(u => EF.Functions.ILike(u.Email, pattern, LikePatterns.Escape)
            || (u.Name != null && EF.Functions.ILike(u.Name, pattern, LikePatterns.Escape))
            || (u.Username != null && EF.Functions.ILike(u.Username, pattern, LikePatterns.Escape))
            || (u.GivenName != null && EF.Functions.ILike(u.GivenName, pattern, LikePatterns.Escape))
            || (u.FamilyName != null && EF.Functions.ILike(u.FamilyName, pattern, LikePatterns.Escape)));
    }

    public static async Task<IResult> ListUsers([AsParameters] UserListQuery query, AdminDbContext db, TenantContext tenant, RoleHolderLookup roleHolders, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator();
        validation.Optional("role", query.Role, 100);
        var order = ListOrder.Check(validation, query.SortBy, query.SortDir, ["createdAt", "updatedAt", "email", "name", "lastLoginAt", "loginCount"]);
        validation.Optional("search", query.Search);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var paging = PageRequest.From(query.Page, query.Limit);
        var users = db.Users.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(query.Search))
        {
            users = Searching(users, query.Search);
        }

        if (!string.IsNullOrWhiteSpace(query.Group))
        {
            var reference = query.Group.ToLowerInvariant();
            var groupId = Guid.TryParse(query.Group, out var parsed) ? parsed : (Guid?)null;
            users = users.Where(u => db.GroupMembers.Any(m => m.UserId == u.Id
                && db.Groups.Any(g => g.Id == m.GroupId && (g.Id == groupId || g.Slug == reference))));
        }

        if (query.Blocked is { } blocked)
        {
            users = users.Where(u => u.Blocked == blocked);
        }

        if (!string.IsNullOrEmpty(query.Role))
        {
            // The holders come from the authorization service; the filter joins the query, so paging and meta.total follow it.
            var (holders, error) = await roleHolders.FindAsync(tenant.TenantId, query.Role, cancellationToken);
            if (error is not null)
            {
                return error;
            }

            users = users.Where(u => holders!.Contains(u.Id));
        }

        if (query.Active is { } active)
        {
            users = users.Where(u => u.IsActive == active);
        }

        var total = await users.LongCountAsync(cancellationToken);
        var ordered = order.Key switch
        {
            "updatedAt" => order.Apply(users, u => u.UpdatedAt),
            "email" => order.Apply(users, u => u.NormalizedEmail),
            "name" => order.Apply(users, u => u.Name),
            "lastLoginAt" => order.Apply(users, u => u.LastLoginAt),
            "loginCount" => order.Apply(users, u => u.LoginCount),
            _ => order.Apply(users, u => u.CreatedAt),
        };
        var page = await ordered.ThenBy(u => u.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        var views = await UserViews.ToResponsesAsync(db, roleHolders, page, cancellationToken);
        return TypedResults.Ok(new PagedResponse<UserResponse>(views, PageMeta.For(paging, total)));
    }

    public static async Task<IResult> CreateUser(CreateUserRequest request, UserCommands commands, AdminDbContext db, TenantContext tenant, RoleHolderLookup roleHolders, AdministratorGuard guard, InitialRoles initialRoles, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        if (InitialRoles.Refuse(request.Roles, caller, "Creating a user with roles") is { } refusedRoles)
        {
            return refusedRoles;
        }

        if (request.Groups is { } named && (named.Count > MaxGroupsPerRequest || named.Any(g => string.IsNullOrWhiteSpace(g) || g.Length > 100)))
        {
            return ApiErrors.Validation("groups", $"must be at most {MaxGroupsPerRequest} non-empty group ids or slugs");
        }

        if (request.Groups is { Count: > 0 } joined && !AdminScopeHandler.HasFullWrite(caller))
        {
            // Every group the user will join, as CreateAsync resolves them.
            var (joining, _) = await GroupMembership.ResolveAsync(db, joined.Distinct().ToList(), cancellationToken);
            if (await guard.RefuseGroupsAsync(caller, tenant.TenantId, [.. joining.Select(g => g.Id)], cancellationToken) is { } refused)
            {
                return refused;
            }
        }

        // Roles live in the authorization service: written there just before the user is saved, taken back if it is not.
        Guid? given = null;
        async Task<IResult?> GiveRolesAsync(Guid userId, CancellationToken ct)
        {
            given = userId;
            var (refused, mayHaveWritten) = await initialRoles.GiveAsync(tenant.TenantId, userId, null, request.Roles!, ct);
            given = mayHaveWritten ? userId : null;
            return refused;
        }

        User? user = null;
        IResult? error = null;
        try
        {
            (user, error) = await commands.CreateAsync(
                new NewUser(request.Email, request.Password,
                    new UserProfileFields(request.Name, request.GivenName, request.FamilyName, request.Username, request.PhoneNumber, request.Picture) { Locale = request.Locale },
                    request.EmailVerified, request.IsActive, request.Groups) { PhoneNumberVerified = request.PhoneNumberVerified, ImportedHash = request.PasswordHash },
                cancellationToken,
                request.Roles is { Count: > 0 } ? GiveRolesAsync : null);
        }
        finally
        {
            // A save that failed (a conflict, or a database that went away) leaves no roles behind.
            if (user is null && given is { } orphan)
            {
                await initialRoles.TakeBackAsync(tenant.TenantId, orphan, null);
            }
        }

        if (error is not null)
        {
            return error;
        }

        return TypedResults.Created(
            $"/t/{tenant.Slug}/api/v1/admin/users/{user!.Id}",
            new DataResponse<UserResponse>(await UserViews.ToResponseAsync(db, roleHolders, user, cancellationToken, rolesJustGiven: request.Roles is { Count: > 0 }), "User created"));
    }

    /// <summary>
    /// Creates up to <see cref="MaxBulk"/> users, each as <see cref="CreateUser"/> would and on its own (as Auth0's user
    /// import does): the valid ones are created, the others reported by index with their error, and a repeat of an address
    /// is refused as a duplicate. Meant for moving users here, with <c>passwordHash</c> where their old provider had one.
    /// </summary>
    public static async Task<IResult> CreateUsers(
        BulkCreateUsersRequest request, UserCommands commands, AdminDbContext db, TenantContext tenant, RoleHolderLookup roleHolders, AdministratorGuard guard,
        InitialRoles initialRoles, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        if (request.Users is not { Count: > 0 and <= MaxBulk })
        {
            return ApiErrors.Validation("users", $"must hold 1 to {MaxBulk} users");
        }

        var results = new List<BulkUserResult>();
        for (var i = 0; i < request.Users.Count; i++)
        {
            var item = request.Users[i];
            var answer = item is null
                ? ApiErrors.Validation("users", "each must be a user object")
                : await CreateUser(item, commands, db, tenant, roleHolders, guard, initialRoles, caller, cancellationToken);
            // Whatever a failed item left tracked must not be saved with the next one.
            db.ChangeTracker.Clear();
            results.Add(answer switch
            {
                Created<DataResponse<UserResponse>> { Value: { } created } => new BulkUserResult(i, item!.Email, "created", created.Data, null, null, null),
                ApiErrorResult { Error: var error } => new BulkUserResult(i, item?.Email, "error", null, error.Code, error.Message, error.Details),
                _ => new BulkUserResult(i, item?.Email, "error", null, ErrorCodes.ServerError, "The user could not be created", null),
            });
        }

        return TypedResults.Ok(new DataResponse<IReadOnlyList<BulkUserResult>>(
            results, $"{results.Count(r => r.Status == "created")} of {results.Count} users created"));
    }

    /// <summary><paramref name="userId"/> is the user's UUID or email (ADM-03).</summary>
    public static async Task<IResult> GetUser(string userId, AdminDbContext db, RoleHolderLookup roleHolders, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        return user is null
            ? ApiErrors.NotFound("User")
            : TypedResults.Ok(new DataResponse<UserResponse>(await UserViews.ToResponseAsync(db, roleHolders, user, cancellationToken)));
    }

    /// <summary>Partial update (C-20): only the fields sent change; an empty string clears an optional text field.</summary>
    public static async Task<IResult> UpdateUser(string userId, UpdateUserRequest request, UserCommands commands, AdminDbContext db, RoleHolderLookup roleHolders, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        var (updated, error) = await commands.UpdateAsync(user, new UserChanges(
            request.Email,
            new UserProfileFields(request.Name, request.GivenName, request.FamilyName, request.Username, request.PhoneNumber, request.Picture) { Locale = request.Locale },
            request.EmailVerified, request.IsActive) { PhoneNumberVerified = request.PhoneNumberVerified }, cancellationToken);
        return error ?? TypedResults.Ok(new DataResponse<UserResponse>(await UserViews.ToResponseAsync(db, roleHolders, updated!, cancellationToken), "User updated"));
    }

    public static async Task<IResult> DeleteUser(string userId, UserCommands commands, AdminDbContext db, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        return await commands.DeleteAsync(user, cancellationToken) ?? TypedResults.NoContent();
    }

    public static Task<IResult> BlockUser(string userId, UserCommands commands, AdminDbContext db, RoleHolderLookup roleHolders, CancellationToken cancellationToken) =>
        SetBlocked(userId, true, commands, db, roleHolders, cancellationToken);

    public static Task<IResult> UnblockUser(string userId, UserCommands commands, AdminDbContext db, RoleHolderLookup roleHolders, CancellationToken cancellationToken) =>
        SetBlocked(userId, false, commands, db, roleHolders, cancellationToken);

    private static async Task<IResult> SetBlocked(string userId, bool blocked, UserCommands commands, AdminDbContext db, RoleHolderLookup roleHolders, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        var (updated, error) = await commands.SetBlockedAsync(user, blocked);
        return error ?? TypedResults.Ok(new DataResponse<UserResponse>(
            await UserViews.ToResponseAsync(db, roleHolders, updated!, cancellationToken), blocked ? "User blocked" : "User unblocked"));
    }

    public static async Task<IResult> SetPassword(string userId, SetPasswordRequest request, UserCommands commands, AdminDbContext db, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        return await commands.SetPasswordAsync(user, request.Password, cancellationToken)
            ?? TypedResults.Ok(new DataResponse<object>(new { userId = user.Id }, "Password updated"));
    }

    /// <summary>Records a single-use reset request; the e-mail consumer sends its link (see <see cref="PasswordResetRequests"/>).</summary>
    public static async Task<IResult> RequestPasswordReset(
        string userId, AdminDbContext db, Credentials.DirectoryPasswords directoryPasswords, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        if (user.DirectoryId is { } directoryId && !await directoryPasswords.IsWritableAsync(user.TenantId, directoryId, cancellationToken))
        {
            return UserCommands.DirectoryManagedPassword();
        }

        var reset = await PasswordResetRequests.StageAsync(db, user, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Accepted((string?)null, new DataResponse<object>(new { userId = user.Id, expiresAt = reset.ExpiresAt }, "Password reset requested"));
    }

    public static async Task<IResult> ResetMfa(string userId, AdminDbContext db, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        var factors = await db.MfaFactors.Where(f => f.UserId == user.Id).ToListAsync(cancellationToken);
        db.MfaFactors.RemoveRange(factors);
        db.BackupCodes.RemoveRange(await db.BackupCodes.Where(c => c.UserId == user.Id).ToListAsync(cancellationToken));
        db.AddEvent(new UserMfaReset(user.Id) { TenantId = user.TenantId });
        if (await SaveOrConflictAsync(db, cancellationToken) is { } conflict)
        {
            return conflict;
        }

        return TypedResults.Ok(new DataResponse<object>(new { userId = user.Id, removedFactors = factors.Count }, "MFA reset; the user enrols again at next login"));
    }

    public static async Task<IResult> GetAttributes(string userId, AdminDbContext db, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        return user is null
            ? ApiErrors.NotFound("User")
            : TypedResults.Ok(new DataResponse<UserAttributesResponse>(new UserAttributesResponse(user.Id, UserViews.Json(user.Attributes))));
    }

    /// <summary>Replaces the user's custom attributes (ADM-14): a JSON object, bounded in size and depth.</summary>
    public static async Task<IResult> SetAttributes(string userId, [FromBody] JsonElement attributes, AdminDbContext db, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        if (attributes.ValueKind != JsonValueKind.Object)
        {
            return ApiErrors.Validation("attributes", "must be a JSON object");
        }

        var json = attributes.GetRawText();
        if (System.Text.Encoding.UTF8.GetByteCount(json) > MaxAttributesBytes)
        {
            return ApiErrors.Validation("attributes", $"must be at most {MaxAttributesBytes} bytes");
        }

        if (Depth(attributes) > MaxAttributesDepth)
        {
            return ApiErrors.Validation("attributes", $"must nest at most {MaxAttributesDepth} levels");
        }

        if (attributes.EnumerateObject().Any(p => p.Name.Length is 0 or > 100))
        {
            return ApiErrors.Validation("attributes", "keys must be 1 to 100 characters");
        }

        // The tenant's declared attributes hold an administrator's values to their declarations, as they hold the person's.
        var declared = (await TenantSettings.LoadAsync(db, user.TenantId, cancellationToken)).UserProfile.Attributes;
        if (declared.Count > 0)
        {
            var held = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
            var validation = new RequestValidator();
            ProfileAttributeValues.Hold(declared, held, validation);
            if (!validation.IsValid)
            {
                return validation.ToResult();
            }

            json = held.ToJsonString();
        }

        user.Attributes = json;
        user.UpdatedAt = DateTimeOffset.UtcNow;
        db.AddEvent(new UserUpdated(user.Id, ["attributes"]) { TenantId = user.TenantId });
        if (await SaveOrConflictAsync(db, cancellationToken) is { } conflict)
        {
            return conflict;
        }

        return TypedResults.Ok(new DataResponse<UserAttributesResponse>(new UserAttributesResponse(user.Id, UserViews.Json(json)), "Attributes updated"));
    }

    public static async Task<IResult> GetGroups(string userId, AdminDbContext db, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        return user is null
            ? ApiErrors.NotFound("User")
            : TypedResults.Ok(new DataResponse<IReadOnlyList<GroupRef>>((await UserViews.GroupsOfAsync(db, [user.Id], cancellationToken))[user.Id]));
    }

    /// <summary>Replaces the user's group memberships (ADM-10); <c>[]</c> removes them all.</summary>
    public static async Task<IResult> SetGroups(string userId, SetGroupsRequest request, AdminDbContext db, AdministratorGuard guard, ClaimsPrincipal caller, CancellationToken cancellationToken)
    {
        var user = await UserCommands.FindAsync(db, userId, cancellationToken, tracking: false);
        if (user is null)
        {
            return ApiErrors.NotFound("User");
        }

        if (request.Groups is null)
        {
            return ApiErrors.Validation("groups", "is required (an array of group ids or slugs)");
        }

        if (request.Groups.Count > MaxGroupsPerRequest || request.Groups.Any(g => string.IsNullOrWhiteSpace(g) || g.Length > 100))
        {
            return ApiErrors.Validation("groups", $"must be at most {MaxGroupsPerRequest} non-empty group ids or slugs");
        }

        var (groups, missing) = await GroupMembership.ResolveAsync(db, request.Groups.Distinct().ToList(), cancellationToken);
        if (missing.Count > 0)
        {
            return ApiErrors.Validation(new Dictionary<string, string[]> { ["groups"] = missing.Select(m => $"no group '{m}'").ToArray() });
        }

        // Groups joined or left, not those kept: keeping someone in the admin group changes nothing.
        var current = await db.GroupMembers.AsNoTracking().Where(m => m.UserId == user.Id).Select(m => m.GroupId).ToListAsync(cancellationToken);
        var wanted = groups.Select(g => g.Id).ToList();
        if (await guard.RefuseGroupsAsync(caller, user.TenantId, [.. wanted.Except(current).Concat(current.Except(wanted))], cancellationToken) is { } refused)
        {
            return refused;
        }

        // Groups joined are held until the save commits: one soft-deleted since it was resolved is refused like an unknown one.
        var joining = wanted.Except(current).ToList();
        await using var transaction = joining.Count > 0 ? await db.Database.BeginTransactionAsync(cancellationToken) : null;
        var live = await GroupMembership.LockLiveAsync(db, user.TenantId, joining, cancellationToken);
        if (GroupMembership.RefuseGone(request.Groups, groups.Where(g => joining.Contains(g.Id)), live) is { } gone)
        {
            return gone;
        }

        await GroupMembership.ReplaceGroupsOfUserAsync(db, user.TenantId, user.Id, groups, cancellationToken);
        if (await SaveOrConflictAsync(db, cancellationToken) is { } conflict)
        {
            return conflict;
        }

        if (transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        return TypedResults.Ok(new DataResponse<IReadOnlyList<GroupRef>>((await UserViews.GroupsOfAsync(db, [user.Id], cancellationToken))[user.Id], "Groups updated"));
    }

    /// <summary>
    /// Saves, or answers 409 when a request at the same moment changed the same rows first (a membership both added, a
    /// factor both removed, the user's version moved on): the caller retries against the state that won.
    /// </summary>
    private static async Task<IResult?> SaveOrConflictAsync(AdminDbContext db, CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return null;
        }
        catch (DbUpdateException e) when (e is DbUpdateConcurrencyException
            || e.InnerException is Npgsql.PostgresException { SqlState: Npgsql.PostgresErrorCodes.UniqueViolation or Npgsql.PostgresErrorCodes.ForeignKeyViolation
                or Npgsql.PostgresErrorCodes.DeadlockDetected or Npgsql.PostgresErrorCodes.SerializationFailure })
        {
            return ApiErrors.Create(StatusCodes.Status409Conflict, ErrorCodes.InvalidRequest, "The user was changed concurrently; retry");
        }
    }

    private static int Depth(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => 1 + element.EnumerateObject().Select(p => Depth(p.Value)).DefaultIfEmpty(0).Max(),
        JsonValueKind.Array => 1 + element.EnumerateArray().Select(Depth).DefaultIfEmpty(0).Max(),
        _ => 0,
    };
}
