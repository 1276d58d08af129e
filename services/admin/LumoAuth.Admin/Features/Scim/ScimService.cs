using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Groups;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Admin.Features.Users;
using LumoAuth.Contracts.Groups;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Scim;

/// <summary>The outcome of one SCIM operation (also one Bulk operation).</summary>
public sealed record ScimResult(int Status, JsonObject? Body, string? Location = null, string? Version = null);

/// <summary>List parameters (query string or a SearchRequest body).</summary>
public sealed record ScimQuery(string? Filter, int? StartIndex, int? Count, string? SortBy, string? SortOrder, string? Attributes, string? ExcludedAttributes);

/// <summary>
/// SCIM Users and Groups over the same use cases as the REST API (<see cref="UserCommands"/>,
/// <see cref="GroupMembership"/>), so validation and events are identical. Writes that come as JSON are
/// mapped onto the domain; PATCH edits the resource's JSON and then stores it like a PUT.
/// </summary>
public sealed class ScimService(AdminDbContext db, TenantContext tenant, UserCommands users)
{
    private static readonly string[] EnterpriseKeys = ["employeeNumber", "costCenter", "organization", "division", "department"];

    /// <summary>The SCIM base of this request (<c>…/scim/v2</c> or <c>…/scim2.0</c>), for locations.</summary>
    public string BaseUrl { get; set; } = string.Empty;

    /// <summary>After a failed operation, forget its half-made changes so the next Bulk operation starts clean.</summary>
    public void ResetAfterFailure() => db.ChangeTracker.Clear();

    // ---------------------------------------------------------------- users

    public async Task<ScimResult> GetUserAsync(string id, CancellationToken cancellationToken)
    {
        var user = await FindUserAsync(id, cancellationToken, tracking: false);
        var json = await UserJsonAsync(user, cancellationToken);
        return new ScimResult(200, json, Location(json), VersionOf(json));
    }

    public async Task<ScimResult> CreateUserAsync(JsonNode? body, CancellationToken cancellationToken)
    {
        var input = ReadUser(AsObject(body));
        // A soft-deleted holder gives up the names only if the new user is then created: one transaction for both.
        var strategy = db.Database.CreateExecutionStrategy();
        var user = await strategy.ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            try
            {
                await ReleaseSoftDeletedNamesAsync(input.UserName, input.Email, cancellationToken);
                await EnsureUserNameFreeAsync(input.UserName, null, cancellationToken);
                // The password is checked with everything else, before anything is stored: a weak one must not leave a user behind.
                var attributes = await DeclaredAttributesAsync(AsObject(body), "{}", cancellationToken);
                var (created, error) = await users.CreateAsync(new NewUser(
                    input.Email, input.Password, input.Profile, null, input.Active ?? true, null, input.ExternalId, input.Enterprise) { Attributes = attributes }, cancellationToken);
                Throw(error);
                await transaction.CommitAsync(cancellationToken);
                return created!;
            }
            catch (ScimException)
            {
                // Rolled back: nothing of this attempt may be saved by a later operation of the same request (Bulk).
                db.ChangeTracker.Clear();
                throw;
            }
        });

        var json = await UserJsonAsync(user, cancellationToken);
        return new ScimResult(201, json, Location(json), VersionOf(json));
    }

    private static readonly string[] ReadOnlyUserAttributes = ["id", "meta", "groups", ScimSchemas.Password];

    /// <summary>A user keeps one address and one phone number, without their type (see <see cref="ScimSchemas"/>).</summary>
    private static readonly HashSet<string> KeptOnce = new(StringComparer.OrdinalIgnoreCase) { "emails", "phoneNumbers" };

    public Task<ScimResult> ReplaceUserAsync(string id, JsonNode? body, string? ifMatch, CancellationToken cancellationToken) =>
        WithUserLockedAsync(id, async user =>
        {
            CheckVersion(ifMatch, Version(user.Version));
            return await StoreUserAsync(user, AsObject(body), cancellationToken);
        }, cancellationToken);

    /// <summary>A PATCH by a provisioning client or an administrator (<c>/Users/{id}</c>, Bulk).</summary>
    public Task<ScimResult> PatchUserAsync(string id, JsonNode? body, string? ifMatch, CancellationToken cancellationToken) =>
        PatchUserAsync(id, body, ifMatch, selfService: false, cancellationToken);

    /// <summary>
    /// A PATCH of <c>/Me</c>, by the user themselves (whoever they are: an administrator changes these through
    /// <c>/Users/{id}</c>). Beyond what is read-only for everyone, what the provisioning client owns is read-only here.
    /// </summary>
    public Task<ScimResult> PatchMeAsync(string id, JsonNode? body, string? ifMatch, CancellationToken cancellationToken) =>
        PatchUserAsync(id, body, ifMatch, selfService: true, cancellationToken);

    private Task<ScimResult> PatchUserAsync(string id, JsonNode? body, string? ifMatch, bool selfService, CancellationToken cancellationToken) =>
        WithUserLockedAsync(id, async user =>
        {
            CheckVersion(ifMatch, Version(user.Version));
            var json = await UserJsonAsync(user, cancellationToken);
            var before = json.DeepClone().AsObject();
            ScimPatch.Apply(json, body, KeptOnce);
            FormattedNameAsDisplayName(before, json);
            // Removing the last declared value removes the extension itself, which must still read as "none", not as "left out".
            if (ScimAttributePath.Find(before, ScimSchemas.Profile) is not null && ScimAttributePath.Find(json, ScimSchemas.Profile) is null)
            {
                json[ScimSchemas.Profile] = new JsonObject();
            }

            foreach (var readOnly in ReadOnlyUserAttributes)
            {
                if (!JsonNode.DeepEquals(ScimAttributePath.Find(before, readOnly), ScimAttributePath.Find(json, readOnly)))
                {
                    throw ScimException.Mutability($"'{readOnly}' is read-only");
                }
            }

            if (selfService)
            {
                foreach (var (attribute, stored) in ProvisionedUserAttributes)
                {
                    if (StoredValueChanges(before, json, attribute, stored))
                    {
                        throw ScimException.Mutability($"'{attribute}' is set by the provisioning client or an administrator, not through /Me");
                    }
                }
            }

            return await StoreUserAsync(user, json, cancellationToken);
        }, cancellationToken);

    /// <summary>
    /// What places a user in the directory, and what identity providers match users on: <c>externalId</c> is "issued by
    /// the provisioning client" (RFC 7643 §3.1), <c>active</c> and the enterprise extension (manager, department…) are
    /// the organisation's. On <c>/Me</c> they are read-only, each compared as it would be stored.
    /// </summary>
    private static readonly (string Attribute, Func<JsonObject, string> Stored)[] ProvisionedUserAttributes =
    [
        ("externalId", body => Text(body, "externalId") ?? string.Empty),
        ("active", body => (Bool(body, "active") ?? true) ? "true" : "false"),
        (ScimSchemas.Enterprise, body => Enterprise(body) ?? "{}"),
        (ScimSchemas.Profile, body => ScimAttributePath.Find(body, ScimSchemas.Profile)?.ToJsonString() ?? "{}"),
    ];

    /// <summary>
    /// Whether a PATCH changes what would be stored for <paramref name="attribute"/>. A value sent back as it is (or in
    /// another form of the same value) is no change; one that could not even be stored is an attempt to change it.
    /// </summary>
    private static bool StoredValueChanges(JsonObject before, JsonObject after, string attribute, Func<JsonObject, string> stored)
    {
        if (JsonNode.DeepEquals(ScimAttributePath.Find(before, attribute), ScimAttributePath.Find(after, attribute)))
        {
            return false;
        }

        try
        {
            return stored(before) != stored(after);
        }
        catch (ScimException)
        {
            return true;
        }
    }

    /// <summary>
    /// <c>name.formatted</c> and <c>displayName</c> are one stored value (the user's name). A PATCH that changes only the
    /// former (Entra ID maps it on its own) changes that value, instead of being outweighed by the unchanged displayName.
    /// </summary>
    private static void FormattedNameAsDisplayName(JsonObject before, JsonObject after)
    {
        var formatted = ScimAttributePath.Find(after, "name") is JsonObject name ? ScimAttributePath.Find(name, "formatted") : null;
        var formattedBefore = ScimAttributePath.Find(before, "name") is JsonObject old ? ScimAttributePath.Find(old, "formatted") : null;
        if (!JsonNode.DeepEquals(formatted, formattedBefore)
            && JsonNode.DeepEquals(ScimAttributePath.Find(after, "displayName"), ScimAttributePath.Find(before, "displayName")))
        {
            after[ScimAttributePath.KeyOf(after, "displayName") ?? "displayName"] = formatted?.DeepClone();
        }
    }

    /// <summary>
    /// A PUT or PATCH of a user is one transaction under the user's row lock, as for groups: a second write of the same user
    /// waits and then reads what the first wrote, instead of failing on the row version (RFC 7644 §3.12: that is no
    /// <c>uniqueness</c> error), and a refusal anywhere (a password the policy refuses) leaves everything as it was
    /// (§3.5.2: PATCH is atomic). Unused reset links are locked before the row, the order every writer of both keeps
    /// (<see cref="UserCommands"/>: a reset's completion claims its link and then sets the password).
    /// </summary>
    private async Task<ScimResult> WithUserLockedAsync(string id, Func<User, Task<ScimResult>> change, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var userId))
        {
            throw ScimException.NotFound("User");
        }

        var strategy = db.Database.CreateExecutionStrategy();
        return await strategy.ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            try
            {
                await db.Database.ExecuteSqlAsync($"""SELECT 1 FROM password_reset_tokens WHERE "UserId" = {userId} AND "UsedAt" IS NULL FOR UPDATE""", cancellationToken);
                await db.Database.ExecuteSqlAsync($"""SELECT 1 FROM users WHERE "Id" = {userId} FOR NO KEY UPDATE""", cancellationToken);
                var user = await FindUserAsync(id, cancellationToken);
                // Read as it is now, under the lock: an earlier operation of the same request (Bulk) may hold an older copy.
                await db.Entry(user).ReloadAsync(cancellationToken);
                var result = await change(user);
                await transaction.CommitAsync(cancellationToken);
                return result;
            }
            catch (ScimException)
            {
                // Rolled back: nothing of this attempt may be saved by a later operation of the same request (Bulk).
                db.ChangeTracker.Clear();
                throw;
            }
        });
    }

    /// <summary>Soft delete by default (inactive, flagged); <c>?isSoftDeleted=true</c> removes the user for good (C-27).</summary>
    public Task<ScimResult> DeleteUserAsync(string id, bool hard, string? ifMatch, CancellationToken cancellationToken) =>
        WithUserLockedAsync(id, async user =>
        {
            CheckVersion(ifMatch, Version(user.Version));
            if (hard)
            {
                Throw(await users.DeleteAsync(user, cancellationToken));
            }
            else if (user.SoftDeletedAt is null)
            {
                user.SoftDeletedAt = DateTimeOffset.UtcNow;
                user.IsActive = false;
                user.UpdatedAt = DateTimeOffset.UtcNow;
                db.AddEvent(new UserUpdated(user.Id, ["isActive", "softDeleted"]) { TenantId = user.TenantId });
                db.AddEvent(new UserDeactivated(user.Id) { TenantId = user.TenantId });
                Throw((await users.SaveAsync(user)).Error);
            }

            return new ScimResult(204, null);
        }, cancellationToken);

    private async Task<ScimResult> StoreUserAsync(User user, JsonObject body, CancellationToken cancellationToken)
    {
        var input = ReadUser(body);
        await EnsureUserNameFreeAsync(input.UserName, user.Id, cancellationToken);
        var profile = input.Profile with
        {
            // A replace unassigns what it leaves out.
            Name = input.Profile.Name ?? string.Empty, GivenName = input.Profile.GivenName ?? string.Empty,
            FamilyName = input.Profile.FamilyName ?? string.Empty, Username = input.Profile.Username ?? string.Empty,
            PhoneNumber = input.Profile.PhoneNumber ?? string.Empty, Title = input.Profile.Title ?? string.Empty, Locale = input.Profile.Locale ?? string.Empty,
        };
        // The password is judged first (policy, breach list, reuse): a refused one stops the change before anything is
        // written. Its save and the rest's share the caller's transaction, so they commit together or not at all.
        if (input.Password is not null)
        {
            Throw(await users.SetPasswordAsync(user, input.Password, cancellationToken));
        }

        var active = input.Active ?? true;
        var attributes = await DeclaredAttributesAsync(body, user.Attributes, cancellationToken);
        var (updated, error) = await users.UpdateAsync(user, new UserChanges(
            input.Email, profile, null, active, input.ExternalId ?? string.Empty, input.Enterprise ?? "{}", Restore: active) { Attributes = attributes }, cancellationToken);
        Throw(error);
        var json = await UserJsonAsync(updated!, cancellationToken);
        return new ScimResult(200, json, Location(json), VersionOf(json));
    }

    private async Task<User> FindUserAsync(string id, CancellationToken cancellationToken, bool tracking = true)
    {
        var query = tracking ? db.Users : db.Users.AsNoTracking();
        return (Guid.TryParse(id, out var guid) ? await query.FirstOrDefaultAsync(u => u.Id == guid, cancellationToken) : null)
            ?? throw ScimException.NotFound("User");
    }

    public async Task<User?> FindUserByIdAsync(Guid id, CancellationToken cancellationToken) =>
        await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == id, cancellationToken);

    /// <summary>
    /// RFC 7644 §3.6: a deleted resource is not considered in conflicts. A soft-deleted user still holds its address and
    /// username (both unique), so an identity provider provisioning the person again after a DELETE would get a 409 for a
    /// user its own filter cannot find. Such a holder gives the names up — its username cleared, its address replaced by a
    /// placeholder of its own — and otherwise stays as it was, to be removed for good or looked at later.
    /// </summary>
    private async Task ReleaseSoftDeletedNamesAsync(string userName, string? email, CancellationToken cancellationToken)
    {
        string[] names = [.. new[] { userName, email }.OfType<string>().Select(n => n.ToLowerInvariant()).Distinct()];
#pragma warning disable CA1304, CA1311, CA1862 // Not run here: EF translates ToLower() to SQL lower(), which the index is on.
        var holders = await db.Users
            .Where(u => u.SoftDeletedAt != null && (names.Contains(u.NormalizedEmail) || (u.Username != null && names.Contains(u.Username.ToLower()))))
            .ToListAsync(cancellationToken);
#pragma warning restore CA1304, CA1311, CA1862
        foreach (var holder in holders)
        {
            holder.Username = null;
            holder.Email = holder.NormalizedEmail = $"deleted-{holder.Id:N}@deleted.invalid";
            holder.EmailVerified = false;
            holder.UpdatedAt = DateTimeOffset.UtcNow;
            db.AddEvent(new UserUpdated(holder.Id, ["email", "username"]) { TenantId = holder.TenantId });
        }

        if (holders.Count > 0)
        {
            await db.SaveChangesAsync(cancellationToken);
        }
    }

    private async Task EnsureUserNameFreeAsync(string userName, Guid? self, CancellationToken cancellationToken)
    {
        if (await users.UsernameTakenAsync(userName, self, cancellationToken))
        {
            throw new ScimException(409, "uniqueness", "userName is already taken");
        }
    }

    public async Task<JsonObject> UserJsonAsync(User user, CancellationToken cancellationToken) =>
        (await UsersJsonAsync([user], cancellationToken))[0];

    private async Task<List<JsonObject>> UsersJsonAsync(IReadOnlyList<User> page, CancellationToken cancellationToken)
    {
        var groups = await UserViews.GroupsOfAsync(db, page.Select(u => u.Id).ToList(), cancellationToken);
        var declared = await DeclaredAsync(cancellationToken);
        return page.Select(u => UserJson(u, groups[u.Id], declared)).ToList();
    }

    private List<ProfileAttribute>? _declared;

    /// <summary>The tenant's declared profile attributes, read once per request (a Bulk request's operations share them).</summary>
    public async Task<List<ProfileAttribute>> DeclaredAsync(CancellationToken cancellationToken) =>
        _declared ??= (await TenantSettings.LoadAsync(db, tenant.TenantId, cancellationToken)).UserProfile.Attributes;

    /// <summary>
    /// The user's custom attributes with the declared ones replaced by the Profile extension's (held to their declarations,
    /// names matched without regard to case as SCIM's are); null when the body has no such extension, which leaves them.
    /// </summary>
    private async Task<string?> DeclaredAttributesAsync(JsonObject body, string current, CancellationToken cancellationToken)
    {
        if (ScimAttributePath.Find(body, ScimSchemas.Profile) is not { } node)
        {
            return null;
        }

        if (node is not JsonObject given)
        {
            throw ScimException.InvalidValue($"{ScimSchemas.Profile} must be an object");
        }

        var declared = await DeclaredAsync(cancellationToken);
        if (given.Select(p => p.Key).FirstOrDefault(k => !declared.Any(a => string.Equals(a.Name, k, StringComparison.OrdinalIgnoreCase))) is { } unknown)
        {
            throw ScimException.InvalidValue($"'{unknown}' is not one of the tenant's declared profile attributes");
        }

        var attributes = JsonNode.Parse(current) as JsonObject ?? [];
        var (shown, values) = (new JsonObject(), new JsonObject());
        foreach (var attribute in declared)
        {
            if (attributes[attribute.Name] is { } kept)
            {
                shown[attribute.Name] = kept.DeepClone();
            }

            if (ScimAttributePath.KeyOf(given, attribute.Name) is { } key)
            {
                values[attribute.Name] = given[key]?.DeepClone();
            }
        }

        // Sent back as it was read (a PATCH of something else, a PUT of a fetched resource): nothing to judge, nothing changes,
        // even where a declaration has since become stricter than a kept value.
        if (JsonNode.DeepEquals(values, shown))
        {
            return null;
        }

        foreach (var attribute in declared)
        {
            attributes.Remove(attribute.Name);
        }

        var validation = new RequestValidator();
        ProfileAttributeValues.Hold(declared, values, validation);
        if (validation.FirstProblems.FirstOrDefault() is ({ } field, { } problem))
        {
            throw ScimException.InvalidValue($"{field[(field.IndexOf('.', StringComparison.Ordinal) + 1)..]} {problem}");
        }

        foreach (var (name, value) in values)
        {
            attributes[name] = value?.DeepClone();
        }

        var json = attributes.ToJsonString();
        return System.Text.Encoding.UTF8.GetByteCount(json) <= UserEndpoints.MaxAttributesBytes
            ? json
            : throw ScimException.InvalidValue($"the user's attributes would exceed {UserEndpoints.MaxAttributesBytes} bytes");
    }

    private JsonObject UserJson(User u, IReadOnlyList<GroupRef> groups, List<ProfileAttribute> declared)
    {
        var enterprise = JsonNode.Parse(u.EnterpriseData) as JsonObject ?? [];
        var schemas = new JsonArray(ScimSchemas.User);
        var json = new JsonObject
        {
            ["schemas"] = schemas,
            ["id"] = u.Id.ToString(),
            ["externalId"] = u.ExternalId,
            ["userName"] = u.Username ?? u.Email,
            ["name"] = new JsonObject { ["formatted"] = u.Name, ["givenName"] = u.GivenName, ["familyName"] = u.FamilyName },
            ["displayName"] = u.Name,
            ["title"] = u.Title,
            ["locale"] = u.Locale,
            ["active"] = u.IsActive,
            // One of each is kept, without its type (ScimSchemas: type is never returned).
            ["emails"] = new JsonArray(new JsonObject { ["value"] = u.Email, ["primary"] = true }),
            ["phoneNumbers"] = string.IsNullOrEmpty(u.PhoneNumber) ? null : new JsonArray(new JsonObject { ["value"] = u.PhoneNumber, ["primary"] = true }),
            ["groups"] = new JsonArray(groups.Select(g => (JsonNode)new JsonObject
            {
                ["value"] = g.Id.ToString(), ["display"] = g.Name, ["$ref"] = $"{BaseUrl}/Groups/{g.Id}",
            }).ToArray()),
        };
        if (enterprise.Count > 0)
        {
            schemas.Add(ScimSchemas.Enterprise);
            json[ScimSchemas.Enterprise] = enterprise;
        }

        if (declared.Count > 0 && JsonNode.Parse(u.Attributes) is JsonObject attributes)
        {
            var profile = new JsonObject();
            foreach (var attribute in declared.Where(a => attributes[a.Name] is not null))
            {
                profile[attribute.Name] = attributes[attribute.Name]!.DeepClone();
            }

            if (profile.Count > 0)
            {
                schemas.Add(ScimSchemas.Profile);
                json[ScimSchemas.Profile] = profile;
            }
        }

        schemas.Add(ScimSchemas.SoftDelete);
        json[ScimSchemas.SoftDelete] = new JsonObject { ["isSoftDeleted"] = u.SoftDeletedAt is not null, ["deletedAt"] = u.SoftDeletedAt };
        if (u.PasswordChangedAt is { } changed)
        {
            schemas.Add(ScimSchemas.Password);
            json[ScimSchemas.Password] = new JsonObject
            {
                ["passwordChangedAt"] = changed.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            };
        }

        json["meta"] = Meta("User", $"{BaseUrl}/Users/{u.Id}", u.CreatedAt, u.UpdatedAt, Version(u.Version));
        return Prune(json);
    }

    private sealed record UserInput(
        string UserName, string Email, UserProfileFields Profile, bool? Active, string? ExternalId, string? Password, string? Enterprise);

    private static UserInput ReadUser(JsonObject body)
    {
        var userName = Text(body, "userName") ?? throw ScimException.InvalidValue("userName is required");
        var emails = MultiValued(body, "emails");
        var email = emails?.OfType<JsonObject>().OrderByDescending(e => Bool(e, "primary") == true).Select(e => Text(e, "value")).FirstOrDefault(v => v is not null);
        email ??= RequestValidator.IsEmail(userName) ? userName : throw ScimException.InvalidValue("emails is required when userName is not an email address");
        if (!RequestValidator.IsEmail(email))
        {
            throw ScimException.InvalidValue($"'{email}' is not a valid email address");
        }

        var name = ScimAttributePath.Find(body, "name") as JsonObject;
        var given = name is null ? null : Text(name, "givenName");
        var family = name is null ? null : Text(name, "familyName");
        var display = Text(body, "displayName") ?? (name is null ? null : Text(name, "formatted"))
            ?? (given is null && family is null ? null : $"{given} {family}".Trim());
        var phone = MultiValued(body, "phoneNumbers")?.OfType<JsonObject>()
            .OrderByDescending(p => Bool(p, "primary") == true).Select(p => Text(p, "value")).FirstOrDefault(v => v is not null);
        var password = Text(body, "password");
        if (password is not null && password.Length == 0)
        {
            throw ScimException.InvalidValue("password must not be empty");
        }

        return new UserInput(
            userName, email,
            new UserProfileFields(display, given, family, string.Equals(userName, email, StringComparison.OrdinalIgnoreCase) ? null : userName, phone, null, Text(body, "title"))
            {
                // RFC 7643 §4.1.1: locale is the user's language and region; preferredLanguage (Accept-Language's form) stands in.
                // Some clients write POSIX's en_US: kept as the BCP 47 tag it means.
                Locale = (Text(body, "locale") ?? PreferredLanguage(Text(body, "preferredLanguage")))?.Replace('_', '-'),
            },
            Bool(body, "active"), ExternalIdOf(body), password, Enterprise(body));
    }

    /// <summary>The first (most preferred) tag of an Accept-Language value, without its weight.</summary>
    private static string? PreferredLanguage(string? value) =>
        value?.Split(',')[0].Split(';')[0].Trim() is { Length: > 0 } tag ? tag : null;

    private const int MaxExternalIdLength = 200;

    private static string? ExternalIdOf(JsonObject body)
    {
        var externalId = Text(body, "externalId");
        return externalId is { Length: > MaxExternalIdLength }
            ? throw ScimException.InvalidValue($"externalId is at most {MaxExternalIdLength} characters")
            : externalId;
    }

    private static string? Enterprise(JsonObject body)
    {
        if (ScimAttributePath.Find(body, ScimSchemas.Enterprise) is not JsonObject extension)
        {
            return null;
        }

        var kept = new JsonObject();
        foreach (var key in EnterpriseKeys)
        {
            if (Text(extension, key) is { } value)
            {
                kept[key] = value.Length > 200 ? throw ScimException.InvalidValue($"{key} is too long") : value;
            }
        }

        // The schema's form is {"value": id}; Entra ID sends the id alone (`"path": "…:manager", "value": "<id>"`).
        var managerValue = ScimAttributePath.Find(extension, "manager");
        var managerId = managerValue is JsonObject manager ? Text(manager, "value")
            : managerValue is JsonValue bare && bare.TryGetValue<string>(out var text) && text.Length > 0 ? text : null;
        if (managerId is not null)
        {
            kept["manager"] = new JsonObject { ["value"] = managerId[..Math.Min(managerId.Length, 200)] };
        }

        return kept.ToJsonString();
    }

    // ---------------------------------------------------------------- groups

    public async Task<ScimResult> GetGroupAsync(string id, CancellationToken cancellationToken, bool withMembers = true)
    {
        var group = await FindGroupAsync(id, cancellationToken, tracking: false);
        var json = await GroupJsonAsync(group, cancellationToken, withMembers);
        return new ScimResult(200, json, Location(json), VersionOf(json));
    }

    public async Task<ScimResult> CreateGroupAsync(JsonNode? body, CancellationToken cancellationToken)
    {
        var input = ReadGroup(AsObject(body));
        var slug = GroupEndpoints.Slugify(input.DisplayName);
        if (slug.Length == 0)
        {
            slug = "group-" + Guid.NewGuid().ToString("N")[..8];
        }

        await EnsureGroupNameFreeAsync(input.DisplayName, cancellationToken);

        if (await db.Groups.AnyAsync(g => g.Slug == slug, cancellationToken))
        {
            slug = $"{slug[..Math.Min(slug.Length, 91)]}-{Guid.NewGuid().ToString("N")[..8]}";
        }

        var now = DateTimeOffset.UtcNow;
        var group = new Group
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.TenantId, Slug = slug, Name = input.DisplayName, ExternalId = input.ExternalId,
            CreatedAt = now, UpdatedAt = now,
        };
        db.Groups.Add(group);
        db.AddEvent(new GroupCreated(group.Id, group.Slug, group.Name) { TenantId = tenant.TenantId });
        await GroupMembership.ChangeMembersAsync(db, group, await ResolveMembersAsync(input.Members, cancellationToken), [], cancellationToken);
        await SaveGroupAsync(cancellationToken);
        var json = await GroupJsonAsync(group, cancellationToken);
        return new ScimResult(201, json, Location(json), VersionOf(json));
    }

    private static readonly string[] ReadOnlyGroupAttributes = ["id", "meta"];

    /// <summary>
    /// Names are unique as written (in any letter case); two names that only share a slug ("R&amp;D", "RD") are two groups.
    /// A soft-deleted group keeps its name but is not counted (RFC 7644 §3.6), so an identity provider can push it again.
    /// </summary>
    private async Task EnsureGroupNameFreeAsync(string name, CancellationToken cancellationToken)
    {
#pragma warning disable CA1304, CA1311, CA1862 // Not run here: EF translates ToLower() to SQL lower().
        var lowerName = name.ToLowerInvariant();
        if (await db.Groups.AnyAsync(g => g.SoftDeletedAt == null && g.Name.ToLower() == lowerName, cancellationToken))
#pragma warning restore CA1304, CA1311, CA1862
        {
            throw new ScimException(409, "uniqueness", "a group with this displayName already exists");
        }
    }

    public Task<ScimResult> ReplaceGroupAsync(string id, JsonNode? body, string? ifMatch, CancellationToken cancellationToken) =>
        WithGroupLockedAsync(id, async group =>
        {
            await CheckGroupVersionAsync(ifMatch, group, cancellationToken);
            return await StoreGroupAsync(group, AsObject(body), cancellationToken);
        }, cancellationToken);

    /// <param name="representationAsked">
    /// Whether the request names <c>attributes</c> or <c>excludedAttributes</c>. Without them (and without If-Match), a
    /// PATCH that only adds and removes members answers 204 (RFC 7644 §3.5.2), as Entra ID's reference does: it touches the
    /// named members only, where the full representation would cost the whole member list on every push.
    /// </param>
    public Task<ScimResult> PatchGroupAsync(string id, JsonNode? body, string? ifMatch, CancellationToken cancellationToken, bool representationAsked = true) =>
        WithGroupLockedAsync(id, async group =>
        {
            if (ifMatch is null && !representationAsked && ScimPatch.MembersOnly(body) is var (add, remove))
            {
                await ChangeGroupMembersAsync(group, await ResolveMembersAsync(add, cancellationToken), remove, cancellationToken);
                await SaveGroupAsync(cancellationToken);
                return new ScimResult(204, null, $"{BaseUrl}/Groups/{group.Id}");
            }

            var json = await GroupJsonAsync(group, cancellationToken);
            CheckVersion(ifMatch, VersionOf(json));
            var before = json.DeepClone().AsObject();
            ScimPatch.Apply(json, body);
            foreach (var readOnly in ReadOnlyGroupAttributes)
            {
                if (!JsonNode.DeepEquals(ScimAttributePath.Find(before, readOnly), ScimAttributePath.Find(json, readOnly)))
                {
                    throw ScimException.Mutability($"'{readOnly}' is read-only");
                }
            }

            return await StoreGroupAsync(group, json, cancellationToken);
        }, cancellationToken);

    /// <summary>
    /// A PATCH or PUT reads the member list, changes it and writes it back whole; two at once (Okta and Entra push groups
    /// in parallel) would each undo the other's change. So the group's row is locked for the request: the next one waits,
    /// then reads what this one wrote.
    /// </summary>
    /// <param name="includeSoftDeleted">Only the hard delete reaches a soft-deleted group; to everything else it is gone (404).</param>
    private async Task<ScimResult> WithGroupLockedAsync(
        string id, Func<Group, Task<ScimResult>> change, CancellationToken cancellationToken, bool includeSoftDeleted = false)
    {
        if (!Guid.TryParse(id, out var groupId))
        {
            throw ScimException.NotFound("Group");
        }

        var strategy = db.Database.CreateExecutionStrategy();
        return await strategy.ExecuteAsync(async () =>
        {
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            // NO KEY UPDATE: serialises the group's writers without blocking the key-share locks of member inserts elsewhere.
            await db.Database.ExecuteSqlAsync($"""SELECT 1 FROM groups WHERE "Id" = {groupId} FOR NO KEY UPDATE""", cancellationToken);
            var group = await FindGroupAsync(id, cancellationToken, includeSoftDeleted: includeSoftDeleted);
            // Read as it is now, under the lock: an earlier operation of the same request (Bulk) may hold an older copy.
            await db.Entry(group).ReloadAsync(cancellationToken);
            var result = await change(group);
            await transaction.CommitAsync(cancellationToken);
            return result;
        });
    }

    /// <summary>
    /// Soft delete by default (<see cref="GroupDeletion.SoftDeleteAsync"/>), as for users; <c>?isSoftDeleted=true</c> removes
    /// the group for good, soft-deleted or not. A soft-deleted group is already deleted to a second soft DELETE: 404.
    /// </summary>
    public Task<ScimResult> DeleteGroupAsync(string id, bool hard, string? ifMatch, CancellationToken cancellationToken) =>
        WithGroupLockedAsync(id, async group =>
        {
            await CheckGroupVersionAsync(ifMatch, group, cancellationToken);
            if (hard)
            {
                await GroupDeletion.RemoveAsync(db, group, cancellationToken);
            }
            else
            {
                await GroupDeletion.SoftDeleteAsync(db, group, cancellationToken);
            }

            return new ScimResult(204, null);
        }, cancellationToken, includeSoftDeleted: hard);

    private async Task<ScimResult> StoreGroupAsync(Group group, JsonObject body, CancellationToken cancellationToken)
    {
        var input = ReadGroup(body);
        if (!string.Equals(input.DisplayName, group.Name, StringComparison.OrdinalIgnoreCase))
        {
            await EnsureGroupNameFreeAsync(input.DisplayName, cancellationToken);
        }

        if (input.DisplayName != group.Name || input.ExternalId != group.ExternalId)
        {
            group.Name = input.DisplayName;
            group.ExternalId = input.ExternalId;
            group.UpdatedAt = DateTimeOffset.UtcNow;
            db.AddEvent(new GroupUpdated(group.Id, group.Slug) { TenantId = group.TenantId });
            // The name shows in each member's groups: their versions move with it.
            await GroupMembership.TouchMembersAsync(db, group.Id, cancellationToken);
        }

        MoveVersion(group, await GroupMembership.ReplaceMembersAsync(db, group, await ResolveMembersAsync(input.Members, cancellationToken), cancellationToken));
        await SaveGroupAsync(cancellationToken);
        var json = await GroupJsonAsync(group, cancellationToken);
        return new ScimResult(200, json, Location(json), VersionOf(json));
    }

    /// <summary>Adds and removes members; a removed value that names no user names no member either, and changes nothing.</summary>
    private async Task ChangeGroupMembersAsync(Group group, IReadOnlyCollection<Guid> add, IReadOnlyCollection<string> remove, CancellationToken cancellationToken)
    {
        var removing = remove.Select(r => Guid.TryParse(r, out var userId) ? userId : (Guid?)null).OfType<Guid>().ToList();
        MoveVersion(group, await GroupMembership.ChangeMembersAsync(db, group, add, removing, cancellationToken));
    }

    /// <summary>The members are part of the group's representation: its version (ETag) moves with them (RFC 7644 §3.14).</summary>
    private static void MoveVersion(Group group, (int Added, int Removed) changes)
    {
        if (changes.Added + changes.Removed > 0)
        {
            group.UpdatedAt = DateTimeOffset.UtcNow;
        }
    }

    private async Task<Group> FindGroupAsync(string id, CancellationToken cancellationToken, bool tracking = true, bool includeSoftDeleted = false)
    {
        var query = tracking ? db.Groups : db.Groups.AsNoTracking();
        if (!includeSoftDeleted)
        {
            query = query.Where(g => g.SoftDeletedAt == null);
        }

        return (Guid.TryParse(id, out var guid) ? await query.FirstOrDefaultAsync(g => g.Id == guid, cancellationToken) : null)
            ?? throw ScimException.NotFound("Group");
    }

    private async Task<List<Guid>> ResolveMembersAsync(IReadOnlyList<string> references, CancellationToken cancellationToken)
    {
        var ids = references.Select(r => Guid.TryParse(r, out var id) ? id : throw ScimException.InvalidValue($"member '{r}' is not a user id")).Distinct().ToList();
        var found = await db.Users.Where(u => ids.Contains(u.Id)).Select(u => u.Id).ToListAsync(cancellationToken);
        var missing = ids.Except(found).ToList();
        return missing.Count == 0 ? found : throw ScimException.InvalidValue($"no user '{missing[0]}' in this tenant");
    }

    private async Task SaveGroupAsync(CancellationToken cancellationToken)
    {
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            // A member's row (whose version a membership change moves) changed meanwhile: retry as it is, no name conflict.
            throw new ScimException(409, null, "a member changed concurrently; retry");
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            throw new ScimException(409, "uniqueness", "a group with this displayName already exists");
        }
    }

    public async Task<JsonObject> GroupJsonAsync(Group group, CancellationToken cancellationToken, bool withMembers = true) =>
        (await GroupsJsonAsync([group], withMembers, cancellationToken))[0];

    /// <param name="withMembers">
    /// False when the answer leaves the members out (<see cref="ShowsMembers"/>): a group of 100k members then costs its
    /// version's digest, computed in the database, rather than 100k rows read and serialised.
    /// </param>
    private async Task<List<JsonObject>> GroupsJsonAsync(IReadOnlyList<Group> page, bool withMembers, CancellationToken cancellationToken)
    {
        var ids = page.Select(g => g.Id).ToList();
        var digests = await MemberDigestsAsync(ids, cancellationToken);
        var members = withMembers
            ? await db.GroupMembers.AsNoTracking().Where(m => ids.Contains(m.GroupId))
                .Join(db.Users, m => m.UserId, u => u.Id, (m, u) => new { m.GroupId, u.Id, u.Email })
                .ToListAsync(cancellationToken)
            : [];
        return page.Select(g => Prune(new JsonObject
        {
            ["schemas"] = new JsonArray(ScimSchemas.Group, ScimSchemas.SoftDelete),
            ["id"] = g.Id.ToString(),
            ["externalId"] = g.ExternalId,
            ["displayName"] = g.Name,
            ["members"] = withMembers
                ? new JsonArray(members.Where(m => m.GroupId == g.Id).OrderBy(m => m.Email).Select(m => (JsonNode)new JsonObject
                {
                    ["value"] = m.Id.ToString(), ["display"] = m.Email, ["type"] = "User", ["$ref"] = $"{BaseUrl}/Users/{m.Id}",
                }).ToArray())
                : null,
            [ScimSchemas.SoftDelete] = new JsonObject { ["isSoftDeleted"] = g.SoftDeletedAt is not null, ["deletedAt"] = g.SoftDeletedAt },
            ["meta"] = Meta("Group", $"{BaseUrl}/Groups/{g.Id}", g.CreatedAt, g.UpdatedAt,
                $"W/\"{g.Version.ToString(CultureInfo.InvariantCulture)}-{digests.GetValueOrDefault(g.Id, "")}\""),
        })).ToList();
    }

    /// <summary>One row of <see cref="MemberDigestsAsync"/>.</summary>
    private sealed class MemberDigest
    {
        public Guid GroupId { get; init; }

        public string Digest { get; init; } = string.Empty;
    }

    /// <summary>
    /// A digest of each group's members as the representation shows them (id and address). With the row's version it
    /// makes the group's version: a member's new address changes how the group reads, though the group's row is untouched.
    /// </summary>
    private async Task<Dictionary<Guid, string>> MemberDigestsAsync(List<Guid> groupIds, CancellationToken cancellationToken) =>
        (await db.Database.SqlQuery<MemberDigest>($"""
            SELECT g AS "GroupId",
                left(encode(sha256(convert_to(coalesce(string_agg(m."UserId"::text || '=' || u."Email", E'\n' ORDER BY m."UserId"), ''), 'UTF8')), 'hex'), 12) AS "Digest"
            FROM unnest({groupIds.ToArray()}) AS g
            LEFT JOIN group_members m ON m."GroupId" = g AND m."TenantId" = {tenant.TenantId}
            LEFT JOIN users u ON u."Id" = m."UserId" AND u."TenantId" = {tenant.TenantId}
            GROUP BY g
            """).ToListAsync(cancellationToken)).ToDictionary(d => d.GroupId, d => d.Digest);

    /// <summary>
    /// Whether a representation shaped by these parameters shows the members. Entra ID reads groups with
    /// <c>excludedAttributes=members</c>; such a read need not load them.
    /// </summary>
    public static bool ShowsMembers(string? attributes, string? excluded)
    {
        // As the shaping (Project) reads them: attributes, when given, decide alone. Any doubt loads the members.
        if (!string.IsNullOrWhiteSpace(attributes))
        {
            return Names(attributes).Any(n => n.Contains("members", StringComparison.OrdinalIgnoreCase));
        }

        return !Names(excluded).Any(n => n.Equals("members", StringComparison.OrdinalIgnoreCase)
                                         || n.Equals($"{ScimSchemas.Group}:members", StringComparison.OrdinalIgnoreCase));

        static IEnumerable<string> Names(string? list) =>
            (list ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    private sealed record GroupInput(string DisplayName, string? ExternalId, IReadOnlyList<string> Members);

    private static GroupInput ReadGroup(JsonObject body)
    {
        var displayName = Text(body, "displayName")?.Trim();
        if (string.IsNullOrEmpty(displayName) || displayName.Length > 200)
        {
            throw ScimException.InvalidValue("displayName is required (at most 200 characters)");
        }

        var members = MultiValued(body, "members")?.Select(m => m is JsonObject o ? Text(o, "value") : null).ToList() ?? [];
        if (members.Any(m => m is null))
        {
            throw ScimException.InvalidValue("every member needs a 'value'");
        }

        return new GroupInput(displayName, ExternalIdOf(body), members!);
    }

    // ---------------------------------------------------------------- queries

    /// <summary>
    /// Filters, sorts and pages. An unfiltered, unsorted list is one page from SQL; equality on <c>userName</c>/
    /// <c>externalId</c>/<c>id</c> (what provisioning clients send) is pushed into SQL; any other filter is evaluated over
    /// the tenant's resources in batches, so memory stays bounded by the page (or by the matches when sorting).
    /// </summary>
    public async Task<JsonObject> ListAsync(IReadOnlyList<string> resourceTypes, ScimQuery query, CancellationToken cancellationToken)
    {
        var filter = string.IsNullOrWhiteSpace(query.Filter) ? null : ScimFilter.Parse(query.Filter);
        var startIndex = Math.Max(1, query.StartIndex ?? 1);
        var count = Math.Clamp(query.Count ?? 100, 0, ScimSchemas.MaxResults);
        var descending = query.SortOrder is { } order && order.Equals("descending", StringComparison.OrdinalIgnoreCase);
        if (query.SortOrder is { } o && !o.Equals("ascending", StringComparison.OrdinalIgnoreCase) && !descending)
        {
            throw ScimException.InvalidValue("sortOrder must be ascending or descending");
        }

        var sortPath = string.IsNullOrWhiteSpace(query.SortBy) ? null : ScimAttributePath.Parse(query.SortBy);
        // A sorted page needs the first startIndex + count resources in order, never more: they are kept in a heap whose
        // top is the one that would be dropped next, so memory follows the page's depth, not the tenant's size.
        var window = startIndex - 1 + count;
        if (sortPath is not null && window > MaxSortWindow)
        {
            throw new ScimException(400, "tooMany", $"a sorted list is paged at most {MaxSortWindow} results deep; narrow the filter");
        }

        // Members are loaded only for an answer that shows them, or a filter or sort that reads them.
        var withMembers = ShowsMembers(query.Attributes, query.ExcludedAttributes) || filter?.Mentions("members") == true
                          || query.SortBy?.Contains("members", StringComparison.OrdinalIgnoreCase) == true;
        var ordering = new SortOrdering(descending);
        var heap = new PriorityQueue<JsonObject, (string? Key, long Seen)>(ordering);
        var matches = new List<JsonObject>();
        var total = 0;
        if (filter is null && sortPath is null && resourceTypes.Count == 1)
        {
            (total, matches) = await PageAsync(resourceTypes[0], startIndex, count, withMembers, cancellationToken);
        }
        else
        {
            await foreach (var resource in resourceTypes.ToAsyncEnumerable().SelectMany(type => ScanAsync(type, filter, withMembers, cancellationToken)))
            {
                if (filter is not null && !filter.Matches(resource))
                {
                    continue;
                }

                total++;
                if (sortPath is not null)
                {
                    if (window > 0)
                    {
                        heap.Enqueue(resource, (sortPath.Resolve(resource).Select(v => v?.ToString()).FirstOrDefault(v => v is not null), total));
                        if (heap.Count > window)
                        {
                            heap.Dequeue();
                        }
                    }
                }
                else if (total >= startIndex && matches.Count < count)
                {
                    matches.Add(resource);
                }
            }
        }

        if (sortPath is not null)
        {
            // The heap gives the last of the window first.
            var ordered = new List<JsonObject>(heap.Count);
            while (heap.Count > 0)
            {
                ordered.Add(heap.Dequeue());
            }

            ordered.Reverse();
            matches = ordered.Skip(startIndex - 1).Take(count).ToList();
        }

        var resources = new JsonArray(matches.Select(m => (JsonNode)Project(m, query.Attributes, query.ExcludedAttributes)).ToArray());
        return new JsonObject
        {
            ["schemas"] = new JsonArray(ScimSchemas.ListResponse),
            ["totalResults"] = total,
            ["startIndex"] = startIndex,
            ["itemsPerPage"] = resources.Count,
            ["Resources"] = resources,
        };
    }

    /// <summary>How deep a sorted list may be paged (startIndex + count): the sort keeps that many resources in memory.</summary>
    public const int MaxSortWindow = 10_000;

    /// <summary>
    /// The heap's order: the top is the resource that sorts last — missing values last either way (RFC 7644 §3.4.2.3),
    /// values without regard to case, ties by arrival.
    /// </summary>
    private sealed class SortOrdering(bool descending) : IComparer<(string? Key, long Seen)>
    {
        public int Compare((string? Key, long Seen) x, (string? Key, long Seen) y) => -InListOrder(x, y);

        private int InListOrder((string? Key, long Seen) x, (string? Key, long Seen) y)
        {
            if ((x.Key is null) != (y.Key is null))
            {
                return x.Key is null ? 1 : -1;
            }

            var byKey = x.Key is null ? 0 : StringComparer.OrdinalIgnoreCase.Compare(x.Key, y.Key);
            return byKey != 0 ? (descending ? -byKey : byKey) : x.Seen.CompareTo(y.Seen);
        }
    }

    private async IAsyncEnumerable<JsonObject> ScanAsync(string resourceType, ScimFilter? filter, bool withMembers, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var resources = resourceType == "User"
            ? InCreationOrderAsync(UserSource(filter), UsersJsonAsync, cancellationToken)
            : InCreationOrderAsync(GroupSource(filter), (page, ct) => GroupsJsonAsync(page, withMembers, ct), cancellationToken);
        await foreach (var resource in resources)
        {
            yield return resource;
        }
    }

    /// <summary>
    /// The rows as resources, in batches that follow the (created, id) order by key, not by offset: each batch costs the
    /// same however deep into the tenant it is.
    /// </summary>
    private static async IAsyncEnumerable<JsonObject> InCreationOrderAsync<T>(
        IQueryable<T> rows, Func<IReadOnlyList<T>, CancellationToken, Task<List<JsonObject>>> toJson,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        where T : class, ICreatedRow
    {
        const int Batch = 500;
        T? last = null;
        while (true)
        {
            var after = last;
            // The first bound alone is what an index range can start from; the second breaks ties on the creation time.
            var next = after is null ? rows
                : rows.Where(r => r.CreatedAt >= after.CreatedAt && (r.CreatedAt > after.CreatedAt || r.Id.CompareTo(after.Id) > 0));
            var page = await next.OrderBy(r => r.CreatedAt).ThenBy(r => r.Id).Take(Batch).ToListAsync(cancellationToken);
            foreach (var json in await toJson(page, cancellationToken))
            {
                yield return json;
            }

            if (page.Count < Batch)
            {
                yield break;
            }

            last = page[^1];
        }
    }

    /// <summary>
    /// An unfiltered, unsorted list of one resource type — what provisioning clients page through — is one count and one
    /// page from the database, not a walk over the tenant.
    /// </summary>
    private async Task<(int Total, List<JsonObject> Page)> PageAsync(string resourceType, int startIndex, int count, bool withMembers, CancellationToken cancellationToken)
    {
        if (resourceType == "User")
        {
            var users = UserSource(null);
            var total = await users.CountAsync(cancellationToken);
            var page = count == 0 ? [] : await users.OrderBy(u => u.CreatedAt).ThenBy(u => u.Id).Skip(startIndex - 1).Take(count).ToListAsync(cancellationToken);
            return (total, await UsersJsonAsync(page, cancellationToken));
        }

        var groups = GroupSource(null);
        var groupTotal = await groups.CountAsync(cancellationToken);
        var groupPage = count == 0 ? [] : await groups.OrderBy(g => g.CreatedAt).ThenBy(g => g.Id).Skip(startIndex - 1).Take(count).ToListAsync(cancellationToken);
        return (groupTotal, await GroupsJsonAsync(groupPage, withMembers, cancellationToken));
    }

    /// <summary>What a filter's equality on a key attribute (what provisioning clients send) narrows in SQL.</summary>
    private static (string Attribute, string Value) Pushed(ScimFilter? filter) =>
        filter is ScimFilter.Compare { Operator: "eq", Value: JsonValue value, Path: { Schema: null, SubAttribute: null } path }
        && value.TryGetValue<string>(out var text) ? (path.Attribute.ToLowerInvariant(), text) : default;

    private IQueryable<User> UserSource(ScimFilter? filter)
    {
        var source = db.Users.AsNoTracking();
        // Soft-deleted users show only to a filter that asks about them.
        if (filter?.Mentions("isSoftDeleted") != true)
        {
            source = source.Where(u => u.SoftDeletedAt == null);
        }

        return Pushed(filter) switch
        {
            ("username", var v) => Named(source, v.ToLowerInvariant()),
            ("externalid", var v) => source.Where(u => u.ExternalId == v),
            ("id", var v) => Guid.TryParse(v, out var id) ? source.Where(u => u.Id == id) : source.Where(u => false),
            _ => source,
        };
    }

    /// <summary>
    /// Users whose address or username is <paramref name="lowered"/>, case-insensitively (RFC 7643 §4.1.1: userName is not
    /// case-exact): as equalities on lower-cased values, which the unique address index and the lower(username) index serve.
    /// An identity provider asks this before every create or update; a pattern match would walk the whole tenant.
    /// </summary>
    private static IQueryable<User> Named(IQueryable<User> source, string lowered) =>
#pragma warning disable CA1304, CA1311, CA1862 // Not run here: EF translates ToLower() to SQL lower(), which the index is on.
        source.Where(u => u.NormalizedEmail == lowered || (u.Username != null && u.Username.ToLower() == lowered));
#pragma warning restore CA1304, CA1311, CA1862

    private IQueryable<Group> GroupSource(ScimFilter? filter)
    {
        var source = db.Groups.AsNoTracking();
        // As for users: soft-deleted groups show only to a filter that asks about them.
        if (filter?.Mentions("isSoftDeleted") != true)
        {
            source = source.Where(g => g.SoftDeletedAt == null);
        }

        return Pushed(filter) switch
        {
            ("displayname", var v) => source.Where(g => EF.Functions.ILike(g.Name, LikePatterns.Exactly(v), LikePatterns.Escape)),
            ("externalid", var v) => source.Where(g => g.ExternalId == v),
            ("id", var v) => Guid.TryParse(v, out var id) ? source.Where(g => g.Id == id) : source.Where(g => false),
            _ => source,
        };
    }

    /// <summary><c>attributes</c> keeps only the named ones (plus id and schemas); <c>excludedAttributes</c> drops them.</summary>
    public static JsonObject Project(JsonObject resource, string? attributes, string? excluded)
    {
        if (!string.IsNullOrWhiteSpace(attributes))
        {
            var wanted = attributes.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ScimAttributePath.Parse).ToList();
            var projected = new JsonObject { ["schemas"] = resource["schemas"]?.DeepClone(), ["id"] = resource["id"]?.DeepClone() };
            foreach (var path in wanted)
            {
                var source = path.Container(resource);
                var key = source is null ? null : ScimAttributePath.KeyOf(source, path.Attribute);
                if (key is null)
                {
                    continue;
                }

                var target = source == resource ? projected : (JsonObject)(projected[path.Schema!] ??= new JsonObject());
                if (path.SubAttribute is null)
                {
                    target[key] = source![key]?.DeepClone();
                }
                else if (source![key] is JsonObject complex && ScimAttributePath.KeyOf(complex, path.SubAttribute) is { } subKey)
                {
                    var holder = (JsonObject)(target[key] ??= new JsonObject());
                    holder[subKey] = complex[subKey]?.DeepClone();
                }
                else if (source[key] is JsonArray values)
                {
                    // A multi-valued attribute's sub-attribute (emails.value, members.value): each value with what was asked
                    // of it, element by element, so emails.value,emails.type keep their pairs.
                    var kept = target[key] as JsonArray;
                    if (kept is null || kept.Count != values.Count)
                    {
                        kept = new JsonArray(values.Select(_ => (JsonNode?)new JsonObject()).ToArray());
                        target[key] = kept;
                    }

                    for (var i = 0; i < values.Count; i++)
                    {
                        if (values[i] is JsonObject item && kept[i] is JsonObject into && ScimAttributePath.KeyOf(item, path.SubAttribute) is { } itemKey)
                        {
                            into[itemKey] = item[itemKey]?.DeepClone();
                        }
                    }
                }
            }

            return WithoutEmptyValues(projected);
        }

        if (!string.IsNullOrWhiteSpace(excluded))
        {
            var copy = resource.DeepClone().AsObject();
            foreach (var path in excluded.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ScimAttributePath.Parse))
            {
                if (path.Attribute is "id" or "schemas")
                {
                    continue;
                }

                var container = path.Container(copy);
                if (container is not null && ScimAttributePath.KeyOf(container, path.Attribute) is { } key)
                {
                    if (path.SubAttribute is null)
                    {
                        container.Remove(key);
                    }
                    else if (container[key] is JsonObject complex && ScimAttributePath.KeyOf(complex, path.SubAttribute) is { } subKey)
                    {
                        complex.Remove(subKey);
                    }
                    else if (container[key] is JsonArray values)
                    {
                        foreach (var item in values.OfType<JsonObject>())
                        {
                            if (ScimAttributePath.KeyOf(item, path.SubAttribute) is { } itemKey)
                            {
                                item.Remove(itemKey);
                            }
                        }
                    }
                }
            }

            return copy;
        }

        return resource;
    }

    /// <summary>Values left with none of the sub-attributes asked for are left out, and an attribute left with no value.</summary>
    private static JsonObject WithoutEmptyValues(JsonObject projected)
    {
        foreach (var holder in new[] { projected }.Concat(projected.Select(p => p.Value).OfType<JsonObject>()))
        {
            foreach (var (key, value) in holder.ToList())
            {
                if (value is JsonArray values && values.Any(v => v is JsonObject { Count: 0 }))
                {
                    foreach (var empty in values.Where(v => v is JsonObject { Count: 0 }).ToList())
                    {
                        values.Remove(empty);
                    }

                    if (values.Count == 0)
                    {
                        holder.Remove(key);
                    }
                }
            }
        }

        return projected;
    }

    // ---------------------------------------------------------------- helpers

    public static string Version(uint version) => $"W/\"{version.ToString(CultureInfo.InvariantCulture)}\"";

    /// <summary>If-Match: a stale version is refused with 412 (the docs' <c>mutability</c> error).</summary>
    private static void CheckVersion(string? ifMatch, string current)
    {
        if (string.IsNullOrEmpty(ifMatch) || ifMatch.Trim() == "*")
        {
            return;
        }

        var offered = ifMatch.Split(',', StringSplitOptions.TrimEntries);
        if (!offered.Any(v => v == current || "W/" + v == current))
        {
            throw new ScimException(412, "mutability", "The resource changed since that version (ETag mismatch)");
        }
    }

    /// <summary>A group's version is read only when an If-Match asks for it.</summary>
    private async Task CheckGroupVersionAsync(string? ifMatch, Group group, CancellationToken cancellationToken)
    {
        if (ifMatch is not null)
        {
            CheckVersion(ifMatch, VersionOf(await GroupJsonAsync(group, cancellationToken, withMembers: false)));
        }
    }

    private static string VersionOf(JsonObject json) => json["meta"]!["version"]!.GetValue<string>();

    private static JsonObject Meta(string type, string location, DateTimeOffset created, DateTimeOffset modified, string version) => new()
    {
        ["resourceType"] = type,
        ["created"] = created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
        ["lastModified"] = modified.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
        ["location"] = location,
        ["version"] = version,
    };

    private static string? Location(JsonObject json) => json["meta"]?["location"]?.GetValue<string>();

    private static JsonObject AsObject(JsonNode? body) => body as JsonObject ?? throw ScimException.InvalidSyntax("the body must be a JSON object");

    /// <summary>Null attributes are left out of responses (RFC 7643 §2.5: unassigned).</summary>
    private static JsonObject Prune(JsonObject json)
    {
        foreach (var (key, value) in json.ToList())
        {
            if (value is null)
            {
                json.Remove(key);
            }
            else if (value is JsonObject inner && !key.StartsWith("urn:", StringComparison.Ordinal))
            {
                Prune(inner);
            }
        }

        return json;
    }

    /// <summary>A multi-valued attribute of a resource: absent (or null) is null; present but not an array is the caller's error.</summary>
    private static JsonArray? MultiValued(JsonObject body, string name) => ScimAttributePath.Find(body, name) switch
    {
        null => null,
        JsonArray array => array,
        _ => throw ScimException.InvalidValue($"'{name}' must be an array"),
    };

    private static string? Text(JsonObject obj, string name)
    {
        var node = ScimAttributePath.Find(obj, name);
        if (node is null)
        {
            return null;
        }

        if (node is JsonValue && ScimJson.Element(node) is { ValueKind: JsonValueKind.String } e)
        {
            return e.GetString();
        }

        throw ScimException.InvalidValue($"'{name}' must be a string");
    }

    /// <summary>Booleans, and "True"/"False" strings as Azure AD sends them.</summary>
    private static bool? Bool(JsonObject obj, string name)
    {
        var node = ScimAttributePath.Find(obj, name);
        if (node is null)
        {
            return null;
        }

        var e = ScimJson.Element(node);
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.String when bool.TryParse(e.GetString(), out var parsed) => parsed,
            _ => throw ScimException.InvalidValue($"'{name}' must be a boolean"),
        };
    }

    /// <summary>Turns a shared use case's envelope error into the SCIM error it corresponds to.</summary>
    public static void Throw(IResult? error)
    {
        if (error is not ApiErrorResult { Error: var e })
        {
            return;
        }

        var detail = e.Details is IDictionary<string, string[]> fields
            ? string.Join("; ", fields.Select(f => $"{f.Key} {string.Join(", ", f.Value)}"))
            : e.Message;
        throw e.Status switch
        {
            404 => new ScimException(404, null, e.Message),
            // Only a name taken is "uniqueness"; another 409 (a concurrent change) is to be retried as it is (RFC 7644 §3.12).
            409 when e.Code == ErrorCodes.DuplicateResource => new ScimException(409, "uniqueness", detail),
            409 => new ScimException(409, null, detail),
            _ => new ScimException(e.Status, "invalidValue", detail),
        };
    }
}
