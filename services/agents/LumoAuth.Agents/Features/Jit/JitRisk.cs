using LumoAuth.Agents.Data;

namespace LumoAuth.Agents.Features.Jit;

/// <summary>
/// How risky a request is, from what it asks and the task's history (the docs' four levels). Low and medium are approved
/// at once; high and critical wait for a person. Each request adds its level's weight to the task's score, each denial
/// more; a task past <see cref="SuspendScore"/> or with <see cref="SuspendDenials"/> denials is suspended.
/// </summary>
public static class JitRisk
{
    public const string Low = "low";
    public const string Medium = "medium";
    public const string High = "high";
    public const string Critical = "critical";

    public const int SuspendScore = 100;
    public const int SuspendDenials = 3;
    public const int DenialWeight = 10;

    /// <summary>A task whose score reached this makes a read-only request medium ("elevated task risk score").</summary>
    public const int ElevatedScore = 30;

    private static readonly HashSet<string> CriticalTypes = new(StringComparer.OrdinalIgnoreCase) { "payment", "user_data", "credentials", "secrets" };
    private static readonly HashSet<string> HighTypes = new(StringComparer.OrdinalIgnoreCase) { "tool_invocation", "admin" };

    private static readonly HashSet<string> ReadActions = new(StringComparer.OrdinalIgnoreCase)
    {
        "read", "get", "head", "options", "list", "view", "search", "select", "query", "describe",
    };

    private static readonly HashSet<string> HighActions = new(StringComparer.OrdinalIgnoreCase)
    {
        "delete", "admin", "execute", "drop", "destroy", "purge", "truncate", "grant", "revoke", "approve",
    };

    public static string Assess(IReadOnlyList<AuthorizationDetail> details, JitTask task)
    {
        var level = Low;
        foreach (var detail in details)
        {
            // No actions named may mean every action (RFC 9396 leaves it to the type): a person decides.
            var own = CriticalTypes.Contains(detail.Type) ? Critical
                : HighTypes.Contains(detail.Type) || detail.Actions.Count == 0 || detail.Actions.Any(HighActions.Contains) ? High
                : detail.Actions.All(ReadActions.Contains) ? Low
                : Medium;
            level = Max(level, own);
        }

        // Several denials already make anything the task asks a matter for a person.
        if (task.DenialCount >= SuspendDenials - 1)
        {
            return Critical;
        }

        return level == Low && task.RiskScore >= ElevatedScore ? Medium : level;
    }

    public static bool NeedsApproval(string level) => level is High or Critical;

    /// <summary>
    /// Whether a request states more than the agent's <paramref name="limit"/> (its <c>require_approval_above_usd</c>):
    /// an amount above it in US dollars, or one that cannot be compared (another currency, none named, unreadable), is for
    /// a person to approve.
    /// </summary>
    public static bool AboveApprovalLimit(IReadOnlyList<AuthorizationDetail> details, decimal? limit) =>
        limit is { } most && details.Any(d => d.Amount is { } amount && (amount.Currency != "USD" || amount.Value is not { } value || value > most));

    public static int Weight(string level) => level switch
    {
        Low => 1,
        Medium => 5,
        High => 15,
        _ => 25,
    };

    public static bool ShouldSuspend(JitTask task) => task.RiskScore >= SuspendScore || task.DenialCount >= SuspendDenials;

    private static string Max(string a, string b) => Rank(a) >= Rank(b) ? a : b;

    private static int Rank(string level) => level switch
    {
        Low => 0,
        Medium => 1,
        High => 2,
        _ => 3,
    };
}
