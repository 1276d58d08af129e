using System.Text.Json;
using LumoAuth.Authorization.Consistency;
using LumoAuth.Authorization.Engine;
using LumoAuth.Authorization.Engine.Conditions;
using LumoAuth.Authorization.Features.Rbac;
using LumoAuth.Contracts.Internal;

namespace LumoAuth.Authorization.Features.Abac;

/// <summary>
/// What ABAC policies see of a subject, built in one place for checks and <c>my-attributes</c>. Lowest precedence first:
/// the custom attributes admin holds for a user (ADM-14), the traits stored here (AZ-10), the built-in attributes
/// (<c>roles</c>, <c>permissions</c>; for users also <c>email</c>, <c>emailVerified</c>, <c>mfaEnabled</c>, <c>locale</c>
/// (their language, a BCP 47 tag or null) and <c>groups</c> as slugs), then a shape-A request's own attributes; <c>id</c> is always the subject's.
/// Admin is asked only when a policy reads something that is not known here, and a check fails closed (503) when
/// admin cannot answer then: a deny policy on <c>user.emailVerified</c> must not pass because a fact was missing.
/// </summary>
public sealed class SubjectAttributes(RbacStore rbac, AdminDirectory directory)
{
    /// <summary>The built-in user attributes that only admin knows.</summary>
    private static readonly HashSet<string> AdminFacts = ["email", "emailVerified", "mfaEnabled", "locale", "groups"];

    private readonly Dictionary<(Guid Tenant, Guid User), UserProfile?> _profiles = [];

    /// <summary>
    /// The subject's attributes over <paramref name="stored"/> (its AZ-10 traits) and <paramref name="given"/> (a request's
    /// own). <paramref name="keysRead"/> names what the policies read; null asks for everything (<c>my-attributes</c>).
    /// </summary>
    public async Task<(Dictionary<string, object?>? View, IResult? Error)> BuildAsync(
        Guid tenantId, SubjectRef who, IReadOnlyDictionary<string, object?> stored, IReadOnlyDictionary<string, object?> given,
        IReadOnlySet<string>? keysRead, CancellationToken cancellationToken)
    {
        UserProfile? profile = null;
        var asked = false;
        if (who.Type == RbacModel.User && Guid.TryParse(who.Id, out var userId) && NeedsAdmin(stored, given, keysRead))
        {
            DirectoryAnswer answer;
            (answer, profile) = await ProfileAsync(tenantId, userId, cancellationToken);
            if (answer == DirectoryAnswer.Unavailable)
            {
                return (null, AdminDirectory.Error(answer, "User"));
            }

            asked = true;
        }

        var view = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (profile?.Attributes is { ValueKind: JsonValueKind.Object } custom)
        {
            Overlay(view, ContextValues.FromJson(custom));
        }

        Overlay(view, stored);

        // The built-ins go in over the stored traits, so a trait cannot pose as the user's address or roles. A user admin does
        // not know (deleted, or never there) has no address, nothing verified and no groups: a deny on them still applies.
        if (asked)
        {
            view["email"] = profile?.Email;
            view["emailVerified"] = profile?.EmailVerified ?? false;
            view["mfaEnabled"] = profile?.MfaEnabled ?? false;
            view["locale"] = profile?.Locale;
            view["groups"] = (profile?.Groups ?? []).Cast<object?>().ToList();
        }

        var wantsPermissions = (keysRead is null || keysRead.Contains("permissions")) && !given.ContainsKey("permissions");
        if (!given.ContainsKey("roles") || wantsPermissions)
        {
            var scope = await rbac.OpenAsync(tenantId, ConsistencyRequirement.Default, cancellationToken);
            view["roles"] = (await RbacStore.RolesOfAsync(scope, who, cancellationToken)).Cast<object?>().ToList();
            if (wantsPermissions)
            {
                view["permissions"] = (await RbacStore.PermissionsOfAsync(scope, who, cancellationToken)).Select(p => (object?)p.Permission).ToList();
            }
        }

        Overlay(view, given);
        view["id"] = who.Id;
        view.TryAdd("type", who.Type);
        return (view, null);
    }

    /// <summary>Whether a policy reads an admin fact, or a key known neither here nor from the request (an ADM-14 attribute, perhaps).</summary>
    private static bool NeedsAdmin(IReadOnlyDictionary<string, object?> stored, IReadOnlyDictionary<string, object?> given, IReadOnlySet<string>? keysRead) =>
        keysRead is null || keysRead.Any(key => !given.ContainsKey(key)
            && (AdminFacts.Contains(key) || (!stored.ContainsKey(key) && key is not ("id" or "type" or "roles" or "permissions"))));

    private async Task<(DirectoryAnswer Answer, UserProfile? Profile)> ProfileAsync(Guid tenantId, Guid userId, CancellationToken cancellationToken)
    {
        // One answer per user and request: a batch of checks about one user asks admin once.
        if (_profiles.TryGetValue((tenantId, userId), out var known))
        {
            return (known is null ? DirectoryAnswer.NotFound : DirectoryAnswer.Found, known);
        }

        var (answer, profile) = await directory.UserProfileAsync(tenantId, userId, cancellationToken);
        if (answer == DirectoryAnswer.Found && profile?.TenantId != tenantId)
        {
            (answer, profile) = (DirectoryAnswer.NotFound, null);
        }

        if (answer != DirectoryAnswer.Unavailable)
        {
            _profiles[(tenantId, userId)] = profile;
        }

        return (answer, profile);
    }

    private static void Overlay(Dictionary<string, object?> view, IReadOnlyDictionary<string, object?> attributes)
    {
        foreach (var (key, value) in attributes)
        {
            view[key] = value;
        }
    }
}
