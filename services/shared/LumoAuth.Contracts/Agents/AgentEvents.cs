namespace LumoAuth.Contracts.Agents;

/// <summary>An agent identity was registered; it holds <see cref="Roles"/> (slugs) in the tenant's RBAC.</summary>
public sealed record AgentCreated(Guid AgentId, string Name, string Type, IReadOnlyList<string> Roles) : IntegrationEvent;

/// <summary>An agent's settings changed; <see cref="Changes"/> names the fields (never their values).</summary>
public sealed record AgentUpdated(Guid AgentId, IReadOnlyList<string> Changes) : IntegrationEvent;

/// <summary>An agent's key was replaced: the old one stopped working in the same transaction.</summary>
public sealed record AgentKeyRotated(Guid AgentId, string KeyPrefix) : IntegrationEvent;

/// <summary>An agent is gone: the authorization service drops every relationship naming it.</summary>
public sealed record AgentDeleted(Guid AgentId, string Name) : IntegrationEvent;

/// <summary>
/// An agent asked whether it may perform <see cref="Action"/> (the Ask API). The event's message id is the answer's
/// <c>audit_id</c>, so the audit entry can be found from the answer.
/// </summary>
public sealed record AgentActionAsked(Guid AgentId, string Action, bool Allowed, string Reason) : IntegrationEvent;

/// <summary>An agent was refused for its budget (calls per hour): the first refusal of each window.</summary>
public sealed record AgentBudgetExceeded(Guid AgentId, string Limit, long Maximum) : IntegrationEvent;
