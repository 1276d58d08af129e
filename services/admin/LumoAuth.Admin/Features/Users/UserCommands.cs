using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Groups;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Admin.Security;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Localization;
using LumoAuth.ServiceDefaults.Profiles;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Users;

/// <summary>
/// The user use cases shared by the REST API, SCIM and invitations, so every path validates the same way
/// and publishes the same events. Failures come back as envelope results; SCIM translates them.
/// </summary>
public sealed class UserCommands(AdminDbContext db, TenantContext tenant, PasswordHasher hasher, BreachedPasswords breached, Credentials.DirectoryPasswords directoryPasswords)
{
    public const string BreachedPassword = "has appeared in a data breach; choose another";

    public const string DuplicateEmail = "User with this email already exists";
    public const string DuplicateUsername = "User with this username already exists";

    /// <summary>Finds a user of the tenant by UUID or email (ADM-03).</summary>
    public static Task<User?> FindAsync(AdminDbContext db, string idOrEmail, CancellationToken cancellationToken, bool tracking = true)
    {
        var query = tracking ? db.Users : db.Users.AsNoTracking();
        if (Guid.TryParse(idOrEmail, out var id))
        {
            return query.FirstOrDefaultAsync(u => u.Id == id, cancellationToken);
        }

        var email = idOrEmail.ToLowerInvariant();
        return query.FirstOrDefaultAsync(u => u.NormalizedEmail == email, cancellationToken);
    }

    /// <param name="beforeSave">Runs once the input is valid, with the new user's id, before anything is saved; an error it returns saves nothing.</param>
    public async Task<(User? User, IResult? Error)> CreateAsync(NewUser input, CancellationToken cancellationToken, Func<Guid, CancellationToken, Task<IResult?>>? beforeSave = null)
    {
        var validation = new RequestValidator().Email("email", input.Email);
        ValidateProfile(validation, input.Profile);
        validation.Check(input.PhoneNumberVerified != true || !string.IsNullOrEmpty(input.Profile?.PhoneNumber), "phoneNumberVerified", "needs a phoneNumber");
        var settings = await TenantSettings.LoadAsync(db, tenant.TenantId, cancellationToken);
        if (input.Password is not null)
        {
            await CheckPasswordAsync(settings.PasswordPolicy, input.Password, validation, cancellationToken);
        }

        // A hash from another provider is taken as it is: its password is unknown here, so no policy can judge it.
        string? imported = null;
        if (input.ImportedHash is { } hash)
        {
            validation.Check(input.Password is null, "passwordHash", "cannot be given with password");
            var (stored, problem) = ImportedPasswordHashes.Import(hash);
            validation.Check(problem is null, "passwordHash", problem ?? string.Empty);
            imported = stored;
        }

        var groups = new List<Group>();
        if (input.Groups is { Count: > 0 })
        {
            (groups, var missing) = await GroupMembership.ResolveAsync(db, input.Groups, cancellationToken);
            foreach (var reference in missing)
            {
                validation.Add("groups", $"no group '{reference}'");
            }
        }

        if (!validation.IsValid)
        {
            return (null, validation.ToResult());
        }

        var normalized = input.Email!.ToLowerInvariant();
        // Nobody else has the address, neither as theirs nor as their username (login hints take either).
        if (await SignInNameTakenAsync(normalized, null, cancellationToken))
        {
            return (null, ApiErrors.Duplicate(DuplicateEmail));
        }

        if (input.Profile?.Username is { Length: > 0 } username && await UsernameTakenAsync(username, null, cancellationToken))
        {
            return (null, ApiErrors.Duplicate(DuplicateUsername));
        }

        var now = DateTimeOffset.UtcNow;
        var user = new User
        {
            Id = input.Id ?? Guid.CreateVersion7(), TenantId = tenant.TenantId, Email = input.Email, NormalizedEmail = normalized,
            EmailVerified = input.EmailVerified ?? false, IsActive = input.IsActive ?? true,
            PasswordHash = input.Password is null ? imported : hasher.Hash(input.Password),
            PasswordChangedAt = input.Password is null && imported is null ? null : now,
            MustChangePassword = input.Password is null && imported is null,
            ExternalId = input.ExternalId, EnterpriseData = input.EnterpriseData ?? "{}", CreatedAt = now, UpdatedAt = now,
            DirectoryId = input.DirectoryId,
        };
        if (input.Attributes is not null)
        {
            user.Attributes = input.Attributes;
        }

        ApplyProfile(user, input.Profile);
        user.PhoneNumberVerified = input.PhoneNumberVerified == true;
        if (beforeSave is not null && await beforeSave(user.Id, cancellationToken) is { } refused)
        {
            return (null, refused);
        }

        // The groups are joined under their lock: one soft-deleted since it was resolved above is refused like an unknown one.
        await using var transaction = groups.Count > 0 && db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(cancellationToken) : null;
        var live = await GroupMembership.LockLiveAsync(db, tenant.TenantId, groups.Select(g => g.Id), cancellationToken);
        if (GroupMembership.RefuseGone(input.Groups!, groups, live) is { } gone)
        {
            return (null, gone);
        }

        db.Users.Add(user);
        db.AddEvent(new UserCreated(user.Id, user.Email, false) { TenantId = tenant.TenantId });
        await GroupMembership.ReplaceGroupsOfUserAsync(db, tenant.TenantId, user.Id, groups, cancellationToken);
        var saved = await SaveAsync(user);
        if (saved.Error is null && transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        return saved;
    }

    /// <summary>
    /// Whether another user signs in as <paramref name="username"/>: by that username in any letter case, or by that e-mail
    /// address. A username names one user, over REST as in SCIM's <c>userName</c>, so a login hint that gives it finds them.
    /// </summary>
    public Task<bool> UsernameTakenAsync(string username, Guid? self, CancellationToken cancellationToken) =>
        SignInNameTakenAsync(username.ToLowerInvariant(), self, cancellationToken);

    /// <summary>Whether another user has this (lower-case) e-mail address or username; an index on lower(username) serves it.</summary>
    private Task<bool> SignInNameTakenAsync(string normalized, Guid? self, CancellationToken cancellationToken) =>
#pragma warning disable CA1304, CA1311, CA1862 // Not run here: EF translates ToLower() to SQL lower(), which the index is on.
        db.Users.AnyAsync(u => u.Id != self && (u.NormalizedEmail == normalized || (u.Username != null && u.Username.ToLower() == normalized)), cancellationToken);
#pragma warning restore CA1304, CA1311, CA1862

    /// <summary>Applies the fields present in <paramref name="changes"/>; publishes <see cref="UserUpdated"/> naming what changed.</summary>
    public async Task<(User? User, IResult? Error)> UpdateAsync(User user, UserChanges changes, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator();
        if (changes.Email is not null)
        {
            validation.Email("email", changes.Email);
        }

        ValidateProfile(validation, changes.Profile);
        var phoneAfter = changes.Profile?.PhoneNumber is { } number ? (number.Length == 0 ? null : number) : user.PhoneNumber;
        validation.Check(changes.PhoneNumberVerified != true || phoneAfter is not null, "phoneNumberVerified", "needs a phoneNumber");
        if (!validation.IsValid)
        {
            return (null, validation.ToResult());
        }

        var changed = new List<string>();
        // Another mailbox, not the same one spelt in other letter case (which SCIM clients send back at every sync).
        var addressChanged = false;
        if (changes.Email is { } email && !string.Equals(email, user.Email, StringComparison.Ordinal))
        {
            var normalized = email.ToLowerInvariant();
            addressChanged = normalized != user.NormalizedEmail;
            if (normalized != user.NormalizedEmail && await SignInNameTakenAsync(normalized, user.Id, cancellationToken))
            {
                return (null, ApiErrors.Duplicate(DuplicateEmail));
            }

            user.Email = email;
            user.NormalizedEmail = normalized;
            changed.Add("email");
        }

        if (changes.Profile?.Username is { Length: > 0 } username && !string.Equals(username, user.Username, StringComparison.OrdinalIgnoreCase)
            && await UsernameTakenAsync(username, user.Id, cancellationToken))
        {
            return (null, ApiErrors.Duplicate(DuplicateUsername));
        }

        changed.AddRange(ApplyProfile(user, changes.Profile));
        // After the profile: a new number is unproven unless this same request vouches for it.
        Set(changes.PhoneNumberVerified, user.PhoneNumberVerified, v => user.PhoneNumberVerified = v, "phoneNumberVerified", changed);
        // A new address is unproven until verified, unless the same request vouches for it (an administrator's call; a
        // user changing their own address through SCIM /Me never can).
        var emailVerified = changes.EmailVerified ?? (addressChanged ? (bool?)false : null);
        Set(emailVerified, user.EmailVerified, v => user.EmailVerified = v, "emailVerified", changed);
        Set(changes.IsActive, user.IsActive, v => user.IsActive = v, "isActive", changed);
        if (changes.ExternalId is { } externalId && externalId != (user.ExternalId ?? string.Empty))
        {
            user.ExternalId = externalId.Length == 0 ? null : externalId;
            changed.Add("externalId");
        }

        if (changes.Attributes is { } attributes && attributes != user.Attributes)
        {
            user.Attributes = attributes;
            changed.Add("attributes");
        }

        if (changes.EnterpriseData is { } enterprise && enterprise != user.EnterpriseData)
        {
            user.EnterpriseData = enterprise;
            changed.Add("enterprise");
        }

        if (changes.Restore && user.SoftDeletedAt is not null)
        {
            user.SoftDeletedAt = null;
            changed.Add("softDeleted");
        }

        if (changed.Count == 0)
        {
            return (user, null);
        }

        user.UpdatedAt = DateTimeOffset.UtcNow;
        db.AddEvent(new UserUpdated(user.Id, changed) { TenantId = user.TenantId });
        if (changes.IsActive == false && changed.Contains("isActive"))
        {
            // Switched off: signed out everywhere, as when blocked.
            db.AddEvent(new UserDeactivated(user.Id) { TenantId = user.TenantId });
        }

        if (!addressChanged)
        {
            return await SaveAsync(user);
        }

        // Links and codes mailed to the old address stop working with the change: whoever reads that mailbox now
        // (a colleague who took it over, an attacker the user moved away from) must not reset, sign in or pass the
        // second step with them.
        await using var transaction = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(cancellationToken) : null;
        await ForgetMailedLinksAsync(user, cancellationToken, mailedCodes: true);
        var saved = await SaveAsync(user);
        if (saved.Error is null && transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        return saved;
    }

    /// <summary>
    /// Deletes the user's unused reset and sign-in links (used ones stay: they are what a redemption claimed) and, with
    /// <paramref name="mailedCodes"/>, the unused codes mailed for the second step; holds the user's row from then on.
    /// The order is every writer's of these rows, so none deadlocks with another (40P01): reset links, the user's row,
    /// then sign-in links and codes, which a sign-in changes while it holds the row. Reset links come first because a
    /// reset's completion claims its own before it sets the password.
    /// </summary>
    private async Task ForgetMailedLinksAsync(User user, CancellationToken cancellationToken, bool mailedCodes = false)
    {
        await db.PasswordResetTokens.Where(t => t.TenantId == user.TenantId && t.UserId == user.Id && t.UsedAt == null).ExecuteDeleteAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync($"""SELECT 1 FROM users WHERE "Id" = {user.Id} FOR NO KEY UPDATE""", cancellationToken);
        await db.MagicLinkTokens.Where(t => t.TenantId == user.TenantId && t.UserId == user.Id && t.UsedAt == null).ExecuteDeleteAsync(cancellationToken);
        if (mailedCodes)
        {
            await db.SignInCodes.Where(c => c.TenantId == user.TenantId && c.UserId == user.Id && c.FactorId == null && c.UsedAt == null)
                .ExecuteDeleteAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Sets a password after checking the tenant's policy and its reuse rule (ADM-11); <paramref name="signOutEverywhere"/>
    /// asks the token service to end the user's earlier sessions and grants (through the event, so it cannot be lost).
    /// </summary>
    /// <param name="currentPassword">
    /// For a user whose LDAP directory keeps the password (<see cref="User.DirectoryId"/>): the person's own change is
    /// made as them with it; without it, the service account resets it. Passwords kept here are checked by the caller.
    /// </param>
    public async Task<IResult?> SetPasswordAsync(
        User user, string? password, CancellationToken cancellationToken, bool signOutEverywhere = false, string? currentPassword = null)
    {
        var settings = await TenantSettings.LoadAsync(db, user.TenantId, cancellationToken);
        var validation = new RequestValidator().Required("password", password, PasswordPolicy.AbsoluteMaxLength);
        if (password is not null)
        {
            await CheckPasswordAsync(settings.PasswordPolicy, password, validation, cancellationToken);
        }

        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var now = DateTimeOffset.UtcNow;
        if (user.DirectoryId is { } directoryId)
        {
            // Written to the directory (when it takes passwords from here), never kept here; its own policy has the last word.
            if (await directoryPasswords.WriteAsync(user, directoryId, currentPassword, password!, cancellationToken) is { } refused)
            {
                return refused;
            }

            return await RecordPasswordChangeAsync(user, now, signOutEverywhere, cancellationToken);
        }

        var reuse = settings.PasswordPolicy.PreventReuse;
        if (reuse > 0)
        {
            var previous = await db.PasswordHistory.Where(h => h.UserId == user.Id).OrderByDescending(h => h.CreatedAt)
                .Take(reuse).Select(h => h.PasswordHash).ToListAsync(cancellationToken);
            if (user.PasswordHash is not null)
            {
                previous.Insert(0, user.PasswordHash);
            }

            if (previous.Take(reuse).Any(hash => hasher.Verify(password!, hash)))
            {
                return ApiErrors.Validation("password", $"must differ from the last {reuse} passwords");
            }
        }

        if (user.PasswordHash is not null)
        {
            db.PasswordHistory.Add(new PasswordHistoryEntry
            {
                Id = Guid.CreateVersion7(), TenantId = user.TenantId, UserId = user.Id, PasswordHash = user.PasswordHash, CreatedAt = now,
            });
        }

        user.PasswordHash = hasher.Hash(password!);
        return await RecordPasswordChangeAsync(user, now, signOutEverywhere, cancellationToken);
    }

    /// <summary>What every password change does besides the password itself: the account unlocked, the event, old mailed links gone.</summary>
    private async Task<IResult?> RecordPasswordChangeAsync(User user, DateTimeOffset now, bool signOutEverywhere, CancellationToken cancellationToken)
    {
        user.PasswordChangedAt = now;
        user.MustChangePassword = false;
        user.FailedLoginCount = 0;
        user.LockedUntil = null;
        user.UpdatedAt = now;
        db.AddEvent(new UserPasswordChanged(user.Id) { TenantId = user.TenantId, SignOutEverywhere = signOutEverywhere });
        // Whatever path changed it (account page, administrator, a reset link), the other links mailed for the account
        // end with the old password: one sent to an attacker's request, or read in a mailbox the user has since secured,
        // would otherwise undo the change. Deleted in the password's own transaction.
        await using var transaction = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync(cancellationToken) : null;
        await ForgetMailedLinksAsync(user, cancellationToken);
        var error = (await SaveAsync(user)).Error;
        if (error is null && transaction is not null)
        {
            await transaction.CommitAsync(cancellationToken);
        }

        return error;
    }

    /// <summary>409 for a password that its directory keeps (<see cref="User.DirectoryId"/>): it is changed there, never here.</summary>
    public static IResult DirectoryManagedPassword() => ApiErrors.Create(
        StatusCodes.Status409Conflict, DirectoryManagedPasswordCode, "This account's password is kept by its LDAP directory: change it there");

    public const string DirectoryManagedPasswordCode = "directory_managed_password";

    /// <summary>
    /// Blocks or unblocks; only a real change is written and published. Unblocking also lifts a lockout, which makes it the
    /// admin's way to unlock an account before the lock expires. An administrator's call (<paramref name="byDirectory"/>
    /// false) also takes over a block a directory import made, which the import then leaves alone; an import's block is
    /// marked as its own.
    /// </summary>
    public async Task<(User? User, IResult? Error)> SetBlockedAsync(User user, bool blocked, bool byDirectory = false)
    {
        var locked = user.LockedUntil is not null || user.FailedLoginCount > 0;
        var directoryOwnsBlock = blocked && byDirectory;
        if (user.Blocked == blocked && (blocked || !locked))
        {
            if (user.BlockedByDirectory == directoryOwnsBlock)
            {
                return (user, null);
            }

            user.BlockedByDirectory = directoryOwnsBlock;
            return await SaveAsync(user);
        }

        user.BlockedByDirectory = directoryOwnsBlock;

        user.Blocked = blocked;
        user.UpdatedAt = DateTimeOffset.UtcNow;
        if (!blocked)
        {
            user.FailedLoginCount = 0;
            user.LockedUntil = null;
        }

        db.AddEvent(blocked ? new UserBlocked(user.Id) { TenantId = user.TenantId } : new UserUnblocked(user.Id) { TenantId = user.TenantId });
        return await SaveAsync(user);
    }

    /// <summary>Deletes the user and everything hanging off it (factors, tokens, history, memberships).</summary>
    public async Task<IResult?> DeleteAsync(User user, CancellationToken cancellationToken)
    {
        await GroupMembership.ReplaceGroupsOfUserAsync(db, user.TenantId, user.Id, [], cancellationToken);
        db.Users.Remove(user);
        db.AddEvent(new UserDeleted(user.Id) { TenantId = user.TenantId });
        return (await SaveAsync(user)).Error;
    }

    public async Task<(User? User, IResult? Error)> SaveAsync(User user)
    {
        try
        {
            var claimed = NewSignInNames(user);
            if (claimed.Count > 0)
            {
                return await SaveClaimingAsync(user, claimed);
            }

            await db.SaveChangesAsync();
            return (user, null);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            return (null, ApiErrors.Duplicate(DuplicateEmail));
        }
        catch (DbUpdateConcurrencyException)
        {
            return (null, ApiErrors.Create(StatusCodes.Status409Conflict, ErrorCodes.InvalidRequest, "The user was changed concurrently; retry"));
        }
    }

    /// <summary>
    /// Saves a user who takes sign-in names (lower-case e-mail or username) they did not have. The checks before the save
    /// answer most conflicts, but two requests can both pass them; only e-mail addresses have a unique index, and a
    /// username may not be another's address either. So each claimed name is locked for this transaction (a claim of the
    /// same name in the tenant waits here until the first commits), checked again, and saved under the lock. A refusal
    /// leaves the user's changes in the context, as a failed save does: callers return the error and save nothing more.
    /// </summary>
    private async Task<(User? User, IResult? Error)> SaveClaimingAsync(User user, IReadOnlyList<string> claimed)
    {
        var strategy = db.Database.CreateExecutionStrategy();
        return await strategy.ExecuteAsync(async () =>
        {
            // Within a caller's transaction the locks are held until it ends; otherwise this save has its own.
            await using var transaction = db.Database.CurrentTransaction is null ? await db.Database.BeginTransactionAsync() : null;
            foreach (var name in claimed)
            {
                var key = $"sign-in-name:{user.TenantId:N}:{name}";
                await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock(hashtextextended({key}, 0))");
            }

            foreach (var name in claimed)
            {
                if (await SignInNameTakenAsync(name, user.Id, CancellationToken.None))
                {
                    return ((User?)null, (IResult?)ApiErrors.Duplicate(name == user.NormalizedEmail ? DuplicateEmail : DuplicateUsername));
                }
            }

            await db.SaveChangesAsync();
            if (transaction is not null)
            {
                await transaction.CommitAsync();
            }

            return ((User?)user, (IResult?)null);
        });
    }

    /// <summary>The sign-in names this save gives the user that they did not hold before, in one order for every caller (no lock cycles).</summary>
    private List<string> NewSignInNames(User user)
    {
        var entry = db.Entry(user);
        var names = new List<string>();
        var originalUsername = entry.State == EntityState.Added ? null : (string?)entry.Property(u => u.Username).OriginalValue;
        if (entry.State == EntityState.Added || (entry.State == EntityState.Modified && entry.Property(u => u.NormalizedEmail).IsModified))
        {
            names.Add(user.NormalizedEmail);
        }

        if (entry.State is EntityState.Added or EntityState.Modified && user.Username is { Length: > 0 } username
            && !string.Equals(username, originalUsername, StringComparison.OrdinalIgnoreCase))
        {
            names.Add(username.ToLowerInvariant());
        }

        return [.. names.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    /// <summary>The tenant's rules, then (only for a password that meets them) the breach corpus.</summary>
    private async Task CheckPasswordAsync(PasswordPolicy policy, string password, RequestValidator validation, CancellationToken cancellationToken)
    {
        var problems = policy.Check(password);
        foreach (var problem in problems)
        {
            validation.Add("password", problem);
        }

        if (problems.Count == 0 && policy.BreachDetection && await breached.IsBreachedAsync(password, cancellationToken))
        {
            validation.Add("password", BreachedPassword);
        }
    }

    private static void ValidateProfile(RequestValidator validation, UserProfileFields? profile)
    {
        if (profile is null)
        {
            return;
        }

        validation.Optional("name", profile.Name)
            .Optional("givenName", profile.GivenName, 100)
            .Optional("familyName", profile.FamilyName, 100)
            .Optional("username", profile.Username, 100)
            .Optional("title", profile.Title)
            .Optional("phoneNumber", profile.PhoneNumber, 32)
            .Optional("picture", profile.Picture, 2048);
        validation.Check(
            string.IsNullOrEmpty(profile.PhoneNumber) || ProfileValues.IsPhoneNumber(profile.PhoneNumber),
            "phoneNumber", "must contain only digits, spaces, +, -, ( and )");
        validation.Check(
            string.IsNullOrEmpty(profile.Picture)
                || (Uri.TryCreate(profile.Picture, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http"),
            "picture", "must be an absolute http(s) URL");
        validation.Check(
            string.IsNullOrEmpty(profile.Locale) || LanguageTags.IsWellFormed(profile.Locale),
            "locale", "must be a language tag such as en, de or fr-CA");
    }

    /// <summary>Copies the present profile fields; an empty string clears a field. Returns the names that changed.</summary>
    private static List<string> ApplyProfile(User user, UserProfileFields? profile)
    {
        var changed = new List<string>();
        if (profile is null)
        {
            return changed;
        }

        SetText(profile.Name, user.Name, v => user.Name = v, "name", changed);
        SetText(profile.GivenName, user.GivenName, v => user.GivenName = v, "givenName", changed);
        SetText(profile.FamilyName, user.FamilyName, v => user.FamilyName = v, "familyName", changed);
        SetText(profile.Username, user.Username, v => user.Username = v, "username", changed);
        // A new number is not yet proven to be the user's.
        SetText(profile.PhoneNumber, user.PhoneNumber, v => (user.PhoneNumber, user.PhoneNumberVerified) = (v, false), "phoneNumber", changed);
        SetText(profile.Picture, user.Picture, v => user.Picture = v, "picture", changed);
        SetText(profile.Title, user.Title, v => user.Title = v, "title", changed);
        SetText(profile.Locale, user.Locale, v => user.Locale = v, "locale", changed);
        return changed;
    }

    private static void SetText(string? value, string? current, Action<string?> set, string field, List<string> changed)
    {
        if (value is null)
        {
            return;
        }

        var next = value.Length == 0 ? null : value;
        if (!string.Equals(next, current, StringComparison.Ordinal))
        {
            set(next);
            changed.Add(field);
        }
    }

    private static void Set(bool? value, bool current, Action<bool> set, string field, List<string> changed)
    {
        if (value is { } v && v != current)
        {
            set(v);
            changed.Add(field);
        }
    }
}

/// <summary>Profile fields shared by create and update; null = not given, "" = clear.</summary>
public sealed record UserProfileFields(
    string? Name, string? GivenName, string? FamilyName, string? Username, string? PhoneNumber, string? Picture, string? Title = null)
{
    /// <inheritdoc cref="User.Locale"/>
    public string? Locale { get; init; }
}

public sealed record NewUser(
    string? Email, string? Password, UserProfileFields? Profile, bool? EmailVerified, bool? IsActive, IReadOnlyList<string>? Groups,
    string? ExternalId = null, string? EnterpriseData = null, Guid? Id = null)
{
    /// <summary>The LDAP directory that makes the account and keeps its password (<see cref="User.DirectoryId"/>).</summary>
    public Guid? DirectoryId { get; init; }

    /// <summary>An administrator vouches for the phone number (an import), as <see cref="EmailVerified"/> does for the address.</summary>
    public bool? PhoneNumberVerified { get; init; }

    /// <summary>The password as another provider hashed it, instead of <see cref="Password"/> (moving users here).</summary>
    public ImportedPasswordHash? ImportedHash { get; init; }

    /// <summary>The user's custom attributes (a JSON object), for a provisioning client that sets declared ones.</summary>
    public string? Attributes { get; init; }
}

/// <summary><see cref="Restore"/> brings a SCIM soft-deleted user back.</summary>
public sealed record UserChanges(
    string? Email, UserProfileFields? Profile, bool? EmailVerified, bool? IsActive, string? ExternalId = null, string? EnterpriseData = null, bool Restore = false)
{
    /// <inheritdoc cref="NewUser.PhoneNumberVerified"/>
    public bool? PhoneNumberVerified { get; init; }

    /// <summary>The user's custom attributes, replaced whole (a JSON object); null leaves them.</summary>
    public string? Attributes { get; init; }
}
