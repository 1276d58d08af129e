using LumoAuth.Contracts;

namespace LumoAuth.Admin.Features.AuditLogs;

/// <summary>
/// The values the list and export filters accept (C-25). Actions are ours — the snake_case name of each contract an entry
/// is made from — or one of the names the docs use, which stands for one or more of ours.
/// </summary>
public static class AuditVocabulary
{
    /// <summary>Every category <see cref="AuditMapping.CategoryOf"/> gives (the docs' five).</summary>
    public static readonly IReadOnlySet<string> Categories = new HashSet<string>(StringComparer.Ordinal)
    {
        "authentication", "authorization", "user_management", "token_management", "configuration",
    };

    /// <summary>The documented outcomes; entries are written as success or failure, nothing records <c>error</c> yet.</summary>
    public static readonly IReadOnlySet<string> Outcomes = new HashSet<string>(StringComparer.Ordinal) { "success", "failure", "error" };

    /// <summary>
    /// What an action filter selects: entries whose action is one of <paramref name="Actions"/> and, when
    /// <paramref name="MetadataContains"/> is set, whose metadata contains that JSON (jsonb <c>@&gt;</c>).
    /// </summary>
    public sealed record ActionMatch(IReadOnlyList<string> Actions, string? MetadataContains = null);

    /// <summary>
    /// The docs' names with what we record for each. Where ours is broader, a metadata fact narrows it (a logout is one
    /// reason sessions end). Names with no counterpart match nothing: the docs list them, we never record them.
    /// </summary>
    private static readonly Dictionary<string, ActionMatch> Documented = new(StringComparer.Ordinal)
    {
        ["login"] = new(["user_login_succeeded"]),
        ["login_failed"] = new(["user_login_failed"]),
        ["logout"] = new(["sessions_revoked"], """{"reason":"logout"}"""),
        // RFC 8176 "mfa": the sign-in took more than one factor (a second step, or a passkey that verified its user).
        ["mfa_verified"] = new(["user_login_succeeded"], """{"methods":["mfa"]}"""),
        // The reset's completion is recorded as user_password_changed, which any password change writes.
        ["password_reset"] = new(["user_password_reset_requested"]),
        ["role_assigned"] = new(["user_role_assigned", "group_role_assigned"]),
        ["token_issued"] = new(["access_token_issued"]),
        ["token_refreshed"] = new(["access_token_issued"], """{"grantType":"refresh_token"}"""),
        ["settings_changed"] = new(["tenant_settings_changed"]),
        ["security.account.lockout"] = new(["user_locked_out"]),
        ["permission_check"] = new([]),
        ["access_denied"] = new([]),
        ["policy_updated"] = new(["abac_policy_changed"]),
    };

    /// <summary>Our actions: one per audited contract; a batch is never an entry (its items are).</summary>
    private static readonly Lazy<IReadOnlySet<string>> Ours = new(() => AuditRegistration.AuditedTypes
        .Where(t => !typeof(IBatchedEvent).IsAssignableFrom(t))
        .Select(t => AuditMapping.SnakeCase(t.Name))
        .ToHashSet(StringComparer.Ordinal));

    public static IReadOnlySet<string> OurActions => Ours.Value;

    /// <summary>What <paramref name="action"/> selects; null when it is neither ours nor a documented name.</summary>
    public static ActionMatch? Resolve(string action) =>
        Ours.Value.Contains(action) ? new ActionMatch([action]) : Documented.GetValueOrDefault(action);
}
