namespace LumoAuth.Contracts.Internal;

/// <summary>
/// What the agents service asks the token service to sign for AAuth (the tenant's keys live there): a resource token
/// (<c>resource+jwt</c>, naming the resource) or an auth token (<c>auth+jwt</c>, letting an agent use a resource). Both
/// are bound to a key by its RFC 7638 thumbprint (<c>cnf.jkt</c>). The token service adds the issuer, the times, the
/// tenant and the <c>jti</c>.
/// </summary>
public sealed record AAuthTokenRequest(
    Guid TenantId,
    string TenantSlug,
    string Type,
    string Subject,
    string Audience,
    string KeyThumbprint,
    int LifetimeSeconds,
    string TokenId)
{
    public const string ResourceType = "resource+jwt";
    public const string AuthType = "auth+jwt";
    public const int MaxLifetimeSeconds = 3600;

    /// <summary>The levels a resource may ask for (<see cref="AuthLevel"/>).</summary>
    public static readonly IReadOnlyList<string> AuthLevels = ["none", "authenticated", "authorized", "user"];

    /// <summary>The agent's identifier (auth tokens): the client the token was issued to.</summary>
    public string? Agent { get; init; }

    /// <summary>Space-separated scopes (auth tokens).</summary>
    public string? Scope { get; init; }

    /// <summary>The delegate acting for the agent (the agent token's subject): the token's <c>act.sub</c>.</summary>
    public string? Actor { get; init; }

    /// <summary>The level the resource asked for (<c>none</c>, <c>authenticated</c>, <c>authorized</c>, <c>user</c>).</summary>
    public string? AuthLevel { get; init; }
}

public sealed record AAuthTokenResponse(string Token, string TokenId, DateTimeOffset ExpiresAt, string Issuer);

/// <summary>An AAuth request as the consent page shows it to the person asked.</summary>
public sealed record AAuthConsentView(
    string RequestId,
    string AgentName,
    string AgentIdentifier,
    string ResourceName,
    string ResourceIdentifier,
    IReadOnlyList<string> Scopes,
    string AuthLevel,
    DateTimeOffset ExpiresAt)
{
    /// <summary>Where the answer sends the browser (the page's form-action policy must allow it).</summary>
    public string? RedirectUri { get; init; }
}

/// <summary>
/// A person's answer to an AAuth request. <paramref name="AuthenticatedAt"/> is when they last proved who they are: the
/// <c>user</c> level needs them present (a recent sign-in).
/// </summary>
public sealed record AAuthDecision(Guid TenantId, Guid UserId, bool Approve, DateTimeOffset AuthenticatedAt);

/// <summary>Where the consent page sends the browser: the agent's redirect URI with <c>code</c> or <c>error</c> (and <c>state</c>).</summary>
public sealed record AAuthDecisionResult(string RedirectUri);
