using System.Text.Json.Nodes;
using LumoAuth.Agents.Data;
using LumoAuth.Agents.Features.Registry;
using LumoAuth.Agents.Features.Runtime;

namespace LumoAuth.Agents.Features.Jit;

/// <summary>
/// The scope-based JIT design of the API reference (<c>required_scopes</c>, <c>scope</c>, token exchange with
/// <c>jit_task_id</c>). Unlike <c>authorization_details</c>, which no service of ours acts on, scopes open our own APIs, so
/// an agent may ask only for scopes its capabilities or roles already name — JIT decides when it holds them, never what
/// it may hold — and never for the tenant's administration, sign-in or long-lived ones.
/// </summary>
public static class JitScopes
{
    /// <summary>As many as a request's authorization details objects: each scope is judged as one.</summary>
    public const int MaxScopes = AuthorizationDetail.MaxObjects;
    public const int MaxScopeLength = 200;
    public const int MaxResources = 20;
    public const int MaxResourceLength = 500;

    /// <summary>What a JIT token never carries: it is an access token only, and who administers a tenant is not a JIT decision.</summary>
    public static bool IsRefused(string scope) =>
        scope is "openid" or "offline_access" or "admin"
        || scope.StartsWith("admin:", StringComparison.Ordinal) || scope.StartsWith("admin.", StringComparison.Ordinal);

    /// <summary>The problem with a list of scopes as sent, or null: 1 to <see cref="MaxScopes"/> RFC 6749 scope tokens.</summary>
    public static string? ProblemWith(IReadOnlyList<string?>? scopes)
    {
        if (scopes is not { Count: > 0 and <= MaxScopes })
        {
            return $"must name 1 to {MaxScopes} scopes";
        }

        foreach (var scope in scopes)
        {
            if (!IsScopeToken(scope))
            {
                return $"'{scope}' is not a scope (RFC 6749 §3.3: printable ASCII without spaces, quotes or backslashes, at most {MaxScopeLength} characters)";
            }
        }

        return scopes.FirstOrDefault(s => IsRefused(s!)) is { } refused
            ? $"'{refused}' is never granted just in time (no sign-in, refresh or administration scopes)"
            : null;
    }

    /// <summary>RFC 6749 §3.3's scope-token: %x21 / %x23-5B / %x5D-7E.</summary>
    private static bool IsScopeToken(string? scope) =>
        scope is { Length: > 0 and <= MaxScopeLength } && scope.All(c => c is '!' or (>= '#' and <= '[') or (>= ']' and <= '~'));

    /// <summary>
    /// The scopes as RFC 9396 objects, which the risk rules, the approvers and the token read: <c>calendar:write</c> (or
    /// <c>calendar.write</c>) is type <c>calendar</c> with the action <c>write</c>; a scope without a separator names no
    /// action (high risk: it may mean anything). The scope itself and the resources the task names ride along.
    /// </summary>
    public static JsonArray ToDetails(IEnumerable<string> scopes, IReadOnlyList<string>? resources)
    {
        var details = new JsonArray();
        foreach (var scope in scopes)
        {
            var split = scope.LastIndexOf(':') is > 0 and var colon && colon < scope.Length - 1 ? colon
                : scope.LastIndexOf('.') is > 0 and var dot && dot < scope.Length - 1 ? dot : -1;
            var detail = new JsonObject { ["type"] = split < 0 ? scope : scope[..split] };
            if (split >= 0)
            {
                detail["actions"] = new JsonArray(scope[(split + 1)..]);
            }

            detail["scope"] = scope;
            if (resources is { Count: > 0 })
            {
                detail["locations"] = new JsonArray([.. resources.Select(r => (JsonNode?)r)]);
            }

            details.Add(detail);
        }

        return details;
    }

    /// <summary>
    /// The scopes as the objects the risk rules judge (<see cref="ToDetails"/>), read as any request's are; false, with the
    /// problem, when they cannot all be judged (too many, too long together): such a request is refused, never waved through.
    /// </summary>
    public static bool TryDescribe(
        IEnumerable<string> scopes, IReadOnlyList<string>? resources, out JsonArray normalized, out IReadOnlyList<AuthorizationDetail> details, out string? problem)
    {
        normalized = ToDetails(scopes, resources);
        return AuthorizationDetail.TryRead(System.Text.Json.JsonSerializer.SerializeToElement(normalized), out _, out details, out problem);
    }

    /// <summary>The first scope neither a capability (exact, or by a trailing <c>*</c>) nor a permission of the agent's roles names; null when all are.</summary>
    public static async Task<string?> OutsideWhatTheAgentMayHoldAsync(Agent agent, IEnumerable<string> scopes, AgentRoles roles, CancellationToken cancellationToken)
    {
        var uncovered = scopes.Where(s => AgentRuntimeEndpoints.Capability(agent.Capabilities, s) is null).ToList();
        if (uncovered.Count == 0)
        {
            return null;
        }

        var held = await roles.OfAsync(agent.TenantId, agent.Id, cancellationToken);
        return uncovered.FirstOrDefault(s => !held.Permissions.Contains(s, StringComparer.Ordinal));
    }
}
