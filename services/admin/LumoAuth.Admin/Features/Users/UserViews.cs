using System.Text.Json;
using System.Text.Json.Serialization;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts.Internal;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Users;

public sealed record UserListQuery(
    int? Page, int? Limit, string? Search, string? Role, string? Group, bool? Blocked, bool? Active, string? SortBy, string? SortDir);

/// <summary>
/// ADM-02. <c>roles</c> are written in the authorization service before the user is saved (<see cref="InitialRoles"/>);
/// <c>phoneNumberVerified</c>, like <c>emailVerified</c>, is an administrator vouching for the number (an import).
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateUserRequest(
    string? Email, string? Password, string? Name, string? GivenName, string? FamilyName, string? Username, string? PhoneNumber,
    string? Picture, bool? EmailVerified, bool? IsActive, IReadOnlyList<string>? Groups, IReadOnlyList<string>? Roles, bool? PhoneNumberVerified = null,
    string? Locale = null, ImportedPasswordHash? PasswordHash = null);

/// <summary>
/// A password hash made by another identity provider, for moving its users here without their passwords (Auth0's
/// <c>custom_password_hash</c>, Keycloak's exported credentials, Firebase's <c>auth:export</c>). Which members an
/// algorithm takes is <see cref="Security.ImportedPasswordHashes"/>' business; the others must be left out.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ImportedPasswordHash(
    string? Algorithm, string? Value, string? Salt, int? Iterations, string? SaltPosition = null, int? Cost = null, int? BlockSize = null,
    int? Parallelism = null, string? SignerKey = null, string? SaltSeparator = null, int? Rounds = null, int? MemoryCost = null);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record UpdateUserRequest(
    string? Email, string? Name, string? GivenName, string? FamilyName, string? Username, string? PhoneNumber, string? Picture,
    bool? EmailVerified, bool? IsActive, bool? PhoneNumberVerified = null, string? Locale = null);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record BulkCreateUsersRequest(IReadOnlyList<CreateUserRequest?>? Users);

/// <summary>One item of a bulk creation: <c>created</c> with the user, or <c>error</c> with the code, message and details it would have had alone.</summary>
public sealed record BulkUserResult(int Index, string? Email, string Status, UserResponse? User, string? Code, string? Message, object? Details);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record SetPasswordRequest(string? Password);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record SetGroupsRequest(IReadOnlyList<string>? Groups);

public sealed record RoleRef(string Slug, string Name);

public sealed record GroupRef(Guid Id, string Slug, string Name);

public sealed record UserAttributesResponse(Guid UserId, JsonElement Attributes);

/// <summary>
/// The user object of the docs. <c>roles</c> come from the authorization service, which holds role assignments (direct
/// and through groups); null when it could not be asked.
/// </summary>
public sealed record UserResponse(
    Guid Id, string Email, string? Username, string? Name, string? GivenName, string? FamilyName, string? Picture, string? PhoneNumber,
    bool PhoneNumberVerified, bool EmailVerified, bool IsActive, bool Blocked, bool MfaEnabled, DateTimeOffset? LockedUntil,
    IReadOnlyList<RoleRef>? Roles, IReadOnlyList<GroupRef> Groups, JsonElement Attributes,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? LastLoginAt, int LoginCount)
{
    /// <summary>The LDAP directory that made the account and keeps its password (federation's provider id); absent for the others.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public Guid? DirectoryId { get; init; }

    /// <summary>The user's language (OIDC's <c>locale</c>, a BCP 47 tag): their mails and, once signed in, pages use it; null when not set.</summary>
    public string? Locale { get; init; }

    /// <summary>Blocked by a directory import because the directory no longer lists the account (the import unblocks it when it does again).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool BlockedByDirectory { get; init; }

    /// <summary>The version of the tenant's terms of service the user last accepted, and when; null: never.</summary>
    public string? TermsAcceptedVersion { get; init; }

    public DateTimeOffset? TermsAcceptedAt { get; init; }
}

public static class UserViews
{
    /// <param name="rolesJustGiven">The user's creation has just given it roles (<see cref="RoleHolderLookup.RolesJustGivenAsync"/>).</param>
    public static async Task<UserResponse> ToResponseAsync(AdminDbContext db, RoleHolderLookup roleHolders, User user, CancellationToken cancellationToken, bool rolesJustGiven = false) =>
        (await ToResponsesAsync(db, roleHolders, [user], cancellationToken, rolesJustGiven))[0];

    /// <summary>Two queries for a whole page (groups and MFA) and one question to the authorization service (roles), not three per user.</summary>
    public static async Task<IReadOnlyList<UserResponse>> ToResponsesAsync(AdminDbContext db, RoleHolderLookup roleHolders, IReadOnlyList<User> users, CancellationToken cancellationToken, bool rolesJustGiven = false)
    {
        var ids = users.Select(u => u.Id).ToList();
        // The roles question runs while the two queries do.
        var asking = users.Count == 0 ? Task.FromResult<IReadOnlyDictionary<Guid, IReadOnlyList<NamedRole>>?>(null)
            : rolesJustGiven ? roleHolders.RolesJustGivenAsync(users[0].TenantId, ids, [], cancellationToken)
            : roleHolders.RolesOfManyAsync(users[0].TenantId, ids, [], cancellationToken);
        var groups = await GroupsOfAsync(db, ids, cancellationToken);
        var withMfa = (await db.MfaFactors.AsNoTracking().Where(f => ids.Contains(f.UserId) && f.Confirmed).Select(f => f.UserId).Distinct()
            .ToListAsync(cancellationToken)).ToHashSet();
        var roles = await asking;
        var now = DateTimeOffset.UtcNow;
        return users.Select(u => new UserResponse(
            u.Id, u.Email, u.Username, u.Name, u.GivenName, u.FamilyName, u.Picture, u.PhoneNumber, u.PhoneNumberVerified, u.EmailVerified, u.IsActive, u.Blocked,
            withMfa.Contains(u.Id), u.LockedUntil > now ? u.LockedUntil : null, RolesOf(roles, u.Id), groups[u.Id], Json(u.Attributes),
            u.CreatedAt, u.UpdatedAt, u.LastLoginAt, u.LoginCount) { DirectoryId = u.DirectoryId, BlockedByDirectory = u.BlockedByDirectory, Locale = u.Locale, TermsAcceptedVersion = u.TermsAcceptedVersion, TermsAcceptedAt = u.TermsAcceptedAt }).ToList();
    }

    /// <summary>The roles of one user or group from a <see cref="RoleHolderLookup.RolesOfManyAsync"/> answer; null when there was none.</summary>
    public static IReadOnlyList<RoleRef>? RolesOf(IReadOnlyDictionary<Guid, IReadOnlyList<NamedRole>>? roles, Guid userId) =>
        roles is null ? null : [.. roles.GetValueOrDefault(userId, []).Select(r => new RoleRef(r.Slug, r.Name))];

    public static async Task<Dictionary<Guid, IReadOnlyList<GroupRef>>> GroupsOfAsync(AdminDbContext db, IReadOnlyList<Guid> userIds, CancellationToken cancellationToken)
    {
        var rows = await db.GroupMembers.AsNoTracking()
            .Where(m => userIds.Contains(m.UserId))
            // A soft-deleted group has no members; the filter is a second line should one slip in.
            .Join(db.Groups.Where(g => g.SoftDeletedAt == null), m => m.GroupId, g => g.Id, (m, g) => new { m.UserId, g.Id, g.Slug, g.Name })
            .OrderBy(r => r.Slug)
            .ToListAsync(cancellationToken);
        return userIds.Distinct().ToDictionary(
            id => id,
            id => (IReadOnlyList<GroupRef>)rows.Where(r => r.UserId == id).Select(r => new GroupRef(r.Id, r.Slug, r.Name)).ToList());
    }

    public static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
