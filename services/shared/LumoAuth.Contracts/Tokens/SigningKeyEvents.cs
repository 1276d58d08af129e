namespace LumoAuth.Contracts.Tokens;

/// <summary>
/// A tenant's signing key was rotated. The previous key stays published (and accepted) until
/// <see cref="PreviousPublishedUntil"/>; token-service replicas rebuild the tenant's configuration.
/// </summary>
public sealed record SigningKeyRotated(string KeyId, string Algorithm, string? PreviousKeyId, DateTimeOffset? PreviousPublishedUntil) : IntegrationEvent;
