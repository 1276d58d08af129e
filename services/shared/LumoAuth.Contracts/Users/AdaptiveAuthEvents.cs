using LumoAuth.Contracts.Tokens;

namespace LumoAuth.Contracts.Users;

/// <summary>
/// Adaptive authentication's verdict on a sign-in (tenants with <c>adaptiveAuth.enabled</c>): the risk score (0–100) and the
/// signals behind it (<c>new_device</c>, <c>new_network</c>, <c>failed_attempts</c>, <c>trusted_ip</c>).
/// </summary>
public sealed record AdaptiveAuthLowRisk(Guid UserId, int RiskScore, IReadOnlyList<string> Signals) : IntegrationEvent;

/// <param name="Challenge">The second step asked for (<c>totp</c>, <c>email</c>), <c>trusted_device</c> when a remembered browser
/// skipped it, or <c>none_available</c> when the user has no factor the tenant can ask for (the sign-in goes ahead).</param>
public sealed record AdaptiveAuthMediumRisk(Guid UserId, int RiskScore, IReadOnlyList<string> Signals, string Challenge) : IntegrationEvent;

/// <summary>A sign-in refused as too risky; the user and the tenant's administrators are mailed.</summary>
public sealed record AdaptiveAuthHighRisk(Guid UserId, int RiskScore, IReadOnlyList<string> Signals)
    : SecurityEvent("adaptive_auth_high_risk", "login_blocked");

/// <summary>
/// The user's last successful sign-in, <paramref name="DistanceKm"/> away <paramref name="Hours"/> ago, implies faster travel
/// than an airliner (adaptive authentication's impossible-travel signal; needs a GeoIP table).
/// </summary>
public sealed record AdaptiveAuthImpossibleTravel(Guid UserId, int DistanceKm, double Hours) : IntegrationEvent;
