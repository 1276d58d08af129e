namespace LumoAuth.Contracts.Tokens;

/// <summary>
/// An attack on the authorization server that was detected and stopped. The audit log records it as a failure
/// whose metadata names the severity, the threat (the RFC 6819 / RFC 9700 section) and what was done about it.
/// </summary>
public abstract record SecurityEvent(string Threat, string ActionTaken) : IntegrationEvent
{
    public string Severity { get; init; } = "high";
}

/// <summary>An authorization code was presented again after it was redeemed: every token issued from it is revoked.</summary>
public sealed record AuthorizationCodeReplayed(string ClientId) : SecurityEvent("RFC6819_4.4.1.1", "cascade_token_revocation");

/// <summary>A rotated refresh token was used again after its leeway: the grant it belongs to is revoked.</summary>
public sealed record RefreshTokenReplayed(string ClientId) : SecurityEvent("RFC9700_4.14.2", "cascade_token_revocation");

/// <summary>A code issued without a PKCE challenge was presented with a verifier (a downgrade attempt): refused.</summary>
public sealed record PkceDowngradeAttempted(string ClientId, string? UserId) : SecurityEvent("RFC9700_4.8.2", "request_rejected");
