using System.Text.Json;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Outbox;

namespace LumoAuth.Admin.Features.Webhooks;

/// <summary>
/// The event catalogue (ADM-61): every integration event gets a dotted name, the documented one where the
/// docs name it (<c>user.login</c>, <c>token.issued</c>…), otherwise derived (<c>GroupMembershipChanged</c>
/// → <c>group.membership_changed</c>). New contracts join the catalogue without code here.
/// </summary>
public static class WebhookEventTypes
{
    public const string All = "*";
    public const string Test = "webhook.test";

    private static readonly Dictionary<string, string> Documented = new(StringComparer.Ordinal)
    {
        ["UserLoginSucceeded"] = "user.login",
        ["UserLoginFailed"] = "user.login_failed",
        ["UserLockedOut"] = "security.account_lockout",
        ["UserMfaEnrolled"] = "user.mfa_enabled",
        ["AccessTokenIssued"] = "token.issued",
        ["AdaptiveAuthLowRisk"] = "adaptive_auth.low_risk",
        ["AdaptiveAuthMediumRisk"] = "adaptive_auth.medium_risk",
        ["AdaptiveAuthHighRisk"] = "adaptive_auth.high_risk",
        ["AdaptiveAuthImpossibleTravel"] = "adaptive_auth.impossible_travel",
        ["UserRoleAssigned"] = "user.role.assigned",
        ["UserRoleRemoved"] = "user.role.removed",
        ["ClientCreated"] = "app.created",
        ["ClientUpdated"] = "app.updated",
        ["ClientDeleted"] = "app.deleted",
        ["TenantSettingsChanged"] = "settings.changed",
        ["AuthorizationCodeReplayed"] = "oauth.security.code_reuse_detected",
        ["RefreshTokenReplayed"] = "oauth.security.refresh_token_reuse_detected",
        ["PkceDowngradeAttempted"] = "oauth.security.pkce_downgrade_detected",
    };

    private static readonly Lazy<IReadOnlyDictionary<Type, string>> ByType = new(() =>
        // A batch is not an event of its own: its items are delivered, each under its own type.
        Delivered.Where(t => !typeof(IBatchedEvent).IsAssignableFrom(t)).ToDictionary(t => t, NameOf));

    /// <summary>The contracts webhooks are made from: all but a service's messages to itself (<see cref="IInternalMessage"/>), which state no fact.</summary>
    public static IEnumerable<Type> Delivered => ContractTypes.All.Where(t => !t.IsAssignableTo(typeof(IInternalMessage)));

    public static IReadOnlyCollection<string> Catalogue => [.. ByType.Value.Values.Order(StringComparer.Ordinal)];

    public static string For(Type type) => ByType.Value.TryGetValue(type, out var name) ? name : NameOf(type);

    public static bool IsKnown(string name) => name == All || ByType.Value.Values.Contains(name, StringComparer.Ordinal);

    private static string NameOf(Type type)
    {
        if (Documented.TryGetValue(type.Name, out var documented))
        {
            return documented;
        }

        var snake = JsonNamingPolicy.SnakeCaseLower.ConvertName(type.Name);
        var split = snake.IndexOf('_', StringComparison.Ordinal);
        return split < 0 ? snake : snake[..split] + "." + snake[(split + 1)..];
    }
}
