namespace LumoAuth.Contracts.Internal;

/// <summary>
/// The platforms whose workload tokens an agent may present instead of a secret (the token exchange's
/// <c>subject_issuer</c>): Kubernetes service accounts, AWS roles (outbound identity federation), Google service
/// accounts, Azure managed identities, and any OpenID Connect issuer.
/// </summary>
public static class WorkloadProviders
{
    public const string Kubernetes = "kubernetes";
    public const string Aws = "aws";
    public const string Gcp = "gcp";
    public const string Azure = "azure";
    public const string Oidc = "oidc";

    public static readonly IReadOnlyList<string> All = [Kubernetes, Aws, Gcp, Azure, Oidc];
}

/// <summary>A claim of the workload token that must hold <paramref name="Value"/>: any one of <paramref name="Claims"/> (Azure writes the client id as <c>azp</c> or <c>appid</c>).</summary>
public sealed record WorkloadClaimRule(IReadOnlyList<string> Claims, string Value);

/// <summary>
/// One agent's trust in a workload identity, as the token service checks a presented token against it: the token is
/// signed by the issuer's keys (its <paramref name="JwksUri"/>, else those its discovery document names), names
/// <paramref name="Audience"/>, and satisfies every rule. <paramref name="Identity"/> is how the agent's tokens and
/// userinfo name the workload (<c>kubernetes:system:serviceaccount:ns:name</c>).
/// </summary>
public sealed record WorkloadTrust(
    Guid AgentId, string ClientId, bool IsActive, string Provider, string Issuer, string Audience, string? JwksUri,
    IReadOnlyList<WorkloadClaimRule> Rules, string Identity)
{
    public static string Route(Guid tenantId, string provider, string issuer) =>
        $"{InternalRoutes.WorkloadTrusts}?tenantId={tenantId}&provider={Uri.EscapeDataString(provider)}&issuer={Uri.EscapeDataString(issuer)}";
}
