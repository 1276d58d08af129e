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

/// <summary>An agent opened a JIT task (a piece of work whose permissions are asked for one at a time).</summary>
public sealed record JitTaskCreated(Guid TaskId, Guid AgentId, string Name, string? OnBehalfOf) : IntegrationEvent;

/// <summary>
/// An agent asked for permission within a task. <see cref="Status"/> is <c>approved</c> (low and medium risk are approved at
/// once) or <c>pending</c>; <see cref="Types"/> are the <c>authorization_details</c> types asked for.
/// </summary>
public sealed record JitRequestCreated(Guid RequestId, Guid TaskId, Guid AgentId, string RiskLevel, string Status, IReadOnlyList<string> Types) : IntegrationEvent;

/// <summary>A request waits for a person to approve or deny it (high or critical risk): the approvers' notification.</summary>
public sealed record JitApprovalRequested(Guid RequestId, Guid TaskId, Guid AgentId, string RiskLevel, string? Justification, IReadOnlyList<string> Types, DateTimeOffset ExpiresAt) : IntegrationEvent;

/// <summary>
/// A person approved or denied a pending request; the agents service then tells the agent's callback, if any (its links name
/// the tenant by <see cref="TenantSlug"/>, as it was then).
/// </summary>
public sealed record JitRequestDecided(Guid RequestId, Guid TaskId, Guid AgentId, string Status, string? DenyReason, string TenantSlug) : IntegrationEvent;

/// <summary>An approved request was exchanged for its token (<see cref="TokenId"/> is the token's <c>jti</c>).</summary>
public sealed record JitTokenIssued(Guid RequestId, Guid TaskId, Guid AgentId, string TokenId, DateTimeOffset ExpiresAt) : IntegrationEvent;

/// <summary>
/// A task ended: <c>completed</c> by its agent, <c>suspended</c> for its risk (<see cref="Reason"/>
/// <c>risk_threshold_exceeded</c>) or <c>expired</c>. Its tokens were revoked before this was recorded.
/// </summary>
public sealed record JitTaskEnded(Guid TaskId, Guid AgentId, string Status, string? Reason, int RevokedTokens, int RiskScore, int DenialCount) : IntegrationEvent;

/// <summary>An MCP server was registered, changed or removed: the token service forgets the tenant's MCP resources it cached.</summary>
public sealed record McpServerChanged(Guid ServerId, string ResourceUri, string Change) : IntegrationEvent;

/// <summary>An AAuth agent or resource (<see cref="Kind"/>: <c>agent</c>, <c>resource</c>) was registered, changed or removed.</summary>
public sealed record AgentAuthRegistrationChanged(Guid RegistrationId, string Kind, string Identifier, string Change) : IntegrationEvent;

/// <summary>A person answered an AAuth agent's request to use a resource for them.</summary>
public sealed record AgentAuthConsentDecided(Guid GrantId, Guid AgentId, Guid ResourceId, Guid UserId, bool Approved, string Scope, string AuthLevel) : IntegrationEvent;

/// <summary>
/// An AAuth auth token was issued (<see cref="RequestType"/>: <c>auth</c>, <c>code</c>, <c>refresh</c>, <c>exchange</c>);
/// <see cref="GrantId"/> is null for an exchange, which makes no grant.
/// </summary>
public sealed record AgentAuthTokenIssued(
    Guid? GrantId, Guid AgentId, Guid ResourceId, string RequestType, string TokenId, string Subject, string Scope, DateTimeOffset ExpiresAt) : IntegrationEvent;

/// <summary>An AAuth grant was revoked because a code or refresh token was presented again (someone holds a copy).</summary>
public sealed record AgentAuthGrantRevoked(Guid GrantId, Guid AgentId, string Reason) : IntegrationEvent;
