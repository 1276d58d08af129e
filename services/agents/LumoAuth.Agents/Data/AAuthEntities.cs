namespace LumoAuth.Agents.Data;

/// <summary>
/// An AAuth agent: an outside piece of software known by an https identifier, which proves itself by signing its requests
/// (RFC 9421) with a key of its key set, given inline or published at <see cref="JwksUri"/>.
/// </summary>
public sealed class AAuthAgent
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Name { get; set; } = string.Empty;

    public string? Description { get; set; }

    /// <summary>Its identifier, matched exactly (scheme, host, path and trailing slash alike).</summary>
    public string Identifier { get; set; } = string.Empty;

    /// <summary>Its public keys as a JWKS document, when registered inline.</summary>
    public string? Jwks { get; set; }

    public string? JwksUri { get; set; }

    public List<string> RedirectUris { get; set; } = [];

    public List<string> AllowedScopes { get; set; } = [];

    /// <summary>Whether it may ask people for consent (resources of the authorized and user levels).</summary>
    public bool UserAuthorizationEnabled { get; set; } = true;

    /// <summary>Whether its delegates (keys named by the agent tokens it issues) may act for it.</summary>
    public bool DelegationEnabled { get; set; }

    public bool TokenExchangeEnabled { get; set; }

    public bool IsActive { get; set; } = true;

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>A resource agents get AAuth tokens for: an API known by its identifier, with its own keys, scopes and auth level.</summary>
public sealed class AAuthResource
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Name { get; set; } = string.Empty;

    public string? Description { get; set; }

    public string Identifier { get; set; } = string.Empty;

    public string? Jwks { get; set; }

    public string? JwksUri { get; set; }

    public List<string> SupportedScopes { get; set; } = [];

    /// <summary>One of <see cref="AAuthLevels.All"/>.</summary>
    public string AuthLevel { get; set; } = AAuthLevels.Authorized;

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

public static class AAuthLevels
{
    public const string None = "none";
    public const string Authenticated = "authenticated";
    public const string Authorized = "authorized";
    public const string User = "user";

    public static IReadOnlyList<string> All => Contracts.Internal.AAuthTokenRequest.AuthLevels;

    /// <summary>The levels at which a person consents before the agent gets a token.</summary>
    public static bool NeedsConsent(string level) => level is Authorized or User;
}

/// <summary>
/// One agent's standing with one resource: born as a request waiting for a person (<see cref="AAuthGrantStates.Pending"/>),
/// or issued at once. It keeps the key the agent proved (tokens stay bound to it), the code the person's approval gave,
/// and the current refresh token. Every secret is kept as its SHA-256.
/// </summary>
public sealed class AAuthGrant
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid AgentId { get; set; }

    public Guid ResourceId { get; set; }

    /// <summary>Space-separated, as granted.</summary>
    public string Scope { get; set; } = string.Empty;

    public string AuthLevel { get; set; } = AAuthLevels.None;

    /// <summary>The RFC 7638 thumbprint of the key the agent signed with: every token of the grant is bound to it.</summary>
    public string KeyThumbprint { get; set; } = string.Empty;

    /// <summary>The agent's delegate that asked (an agent token's subject), carried into the tokens as <c>act.sub</c>.</summary>
    public string? Actor { get; set; }

    /// <summary>The person who consented, for the levels that ask one.</summary>
    public Guid? UserId { get; set; }

    /// <summary>One of <see cref="AAuthGrantStates"/>.</summary>
    public string State { get; set; } = AAuthGrantStates.Pending;

    public byte[]? RequestTokenHash { get; set; }

    public string? RedirectUri { get; set; }

    public string? ClientState { get; set; }

    public byte[]? CodeHash { get; set; }

    /// <summary>Until when the person may answer, then until when the code may be exchanged.</summary>
    public DateTimeOffset? PendingUntil { get; set; }

    public byte[]? RefreshTokenHash { get; set; }

    /// <summary>The refresh token just replaced: presented again, it is a theft, and the grant is revoked.</summary>
    public byte[]? PreviousRefreshTokenHash { get; set; }

    public DateTimeOffset? RefreshExpiresAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

public static class AAuthGrantStates
{
    public const string Pending = "pending";
    public const string Approved = "approved";
    public const string Denied = "denied";
    public const string Active = "active";
    public const string Revoked = "revoked";
}
