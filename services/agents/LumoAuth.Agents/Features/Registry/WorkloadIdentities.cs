using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;

namespace LumoAuth.Agents.Features.Registry;

/// <summary>
/// The workload an agent of identity type <c>workload_identity</c> runs as (the docs' provider guides): which platform
/// signs its tokens, for which audience, and the fields that pin the one workload. Only the provider's own fields are
/// taken; <see cref="WorkloadIdentities"/> turns them into the claims a token must carry. An unknown field is refused,
/// not ignored: a misspelt pin must never widen the trust.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record WorkloadIdentity(
    [property: JsonPropertyName("provider")] string? Provider,
    [property: JsonPropertyName("audience")] string? Audience,
    [property: JsonPropertyName("issuer"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Issuer = null,
    [property: JsonPropertyName("jwksUri"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? JwksUri = null,
    [property: JsonPropertyName("subject"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Subject = null,
    [property: JsonPropertyName("namespace"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Namespace = null,
    [property: JsonPropertyName("serviceAccount"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ServiceAccount = null,
    [property: JsonPropertyName("roleArn"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RoleArn = null,
    [property: JsonPropertyName("serviceAccountEmail"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ServiceAccountEmail = null,
    [property: JsonPropertyName("projectId"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ProjectId = null,
    [property: JsonPropertyName("clientId"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ClientId = null,
    [property: JsonPropertyName("tenantId"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? TenantId = null);

/// <summary>Whether issuers and key sets may be on loopback and private addresses: off in production (SSRF), on for tests.</summary>
public sealed class WorkloadIdentityOptions
{
    public const string SectionName = "Agents:WorkloadIdentity";

    public bool AllowPrivateIssuers { get; set; }
}

public static partial class WorkloadIdentities
{
    public const string GoogleIssuer = "https://accounts.google.com";
    private const int MaxUrlLength = 500;
    private const string Field = "workloadIdentity";

    /// <summary>Managed identities get v1 tokens unless the application asks for v2: their issuer is the tenant's STS.</summary>
    public static string AzureIssuer(string tenantId) => $"https://sts.windows.net/{tenantId}/";

    /// <summary>
    /// Checks a workload identity and fills in what the provider implies (Google's and Azure's issuers, lower-case
    /// e-mail); null when something is wrong, with the problems in <paramref name="validation"/>.
    /// </summary>
    public static WorkloadIdentity? Validate(WorkloadIdentity? identity, RequestValidator validation, bool allowPrivateIssuers)
    {
        if (identity is null)
        {
            validation.Add(Field, "is required for identity type workload_identity");
            return null;
        }

        var provider = identity.Provider;
        if (provider is null || !WorkloadProviders.All.Contains(provider))
        {
            validation.Add($"{Field}.provider", $"must be one of {string.Join(", ", WorkloadProviders.All)}");
            return null;
        }

        validation.Required($"{Field}.audience", identity.Audience, MaxUrlLength);
        var issuer = identity.Issuer ?? provider switch
        {
            WorkloadProviders.Gcp => GoogleIssuer,
            WorkloadProviders.Azure when Guid.TryParse(identity.TenantId, out var tid) => AzureIssuer(tid.ToString()),
            _ => null,
        };
        UrlCheck(validation, $"{Field}.issuer", issuer, required: true, allowPrivateIssuers);
        UrlCheck(validation, $"{Field}.jwksUri", identity.JwksUri, required: false, allowPrivateIssuers);

        // Each provider's own fields, and no other's: a field that would be ignored is a mistake worth hearing of.
        string[] own = provider switch
        {
            WorkloadProviders.Kubernetes => ["namespace", "serviceAccount"],
            WorkloadProviders.Aws => ["roleArn"],
            WorkloadProviders.Gcp => ["serviceAccountEmail", "projectId"],
            WorkloadProviders.Azure => ["clientId", "tenantId"],
            _ => ["subject"],
        };
        foreach (var (name, value) in ProviderFields(identity).Where(f => f.Value is not null && !own.Contains(f.Name)))
        {
            validation.Add($"{Field}.{name}", $"is not used for provider {provider}");
        }

        var email = identity.ServiceAccountEmail?.Trim().ToLowerInvariant();
        switch (provider)
        {
            case WorkloadProviders.Kubernetes:
                validation.Check(identity.Namespace is { Length: <= 63 } ns && KubernetesLabel().IsMatch(ns), $"{Field}.namespace", "must be a Kubernetes namespace name");
                validation.Check(identity.ServiceAccount is { Length: <= 253 } sa && KubernetesName().IsMatch(sa), $"{Field}.serviceAccount", "must be a Kubernetes service account name");
                break;
            case WorkloadProviders.Aws:
                validation.Check(identity.RoleArn is { } arn && RoleArn().IsMatch(arn), $"{Field}.roleArn", "must be an IAM role ARN (arn:aws:iam::123456789012:role/name)");
                break;
            case WorkloadProviders.Gcp:
                validation.Check(email is { Length: <= 320 } && email.Count(c => c == '@') == 1 && !email.Any(char.IsWhiteSpace), $"{Field}.serviceAccountEmail", "must be a service account's e-mail address");
                if (identity.ProjectId is { } project)
                {
                    // A project's own service accounts are named in its domain; the default compute account is not (leave projectId out for it).
                    validation.Check(ProjectId().IsMatch(project) && email?.EndsWith($"@{project}.iam.gserviceaccount.com", StringComparison.Ordinal) == true,
                        $"{Field}.projectId", "must be the project whose iam.gserviceaccount.com domain the service account's address is in");
                }

                break;
            case WorkloadProviders.Azure:
                validation.Check(Guid.TryParse(identity.TenantId, out _), $"{Field}.tenantId", "must be the directory (tenant) id, a GUID");
                validation.Check(Guid.TryParse(identity.ClientId, out _), $"{Field}.clientId", "must be the managed identity's client id, a GUID");
                break;
            default:
                validation.Required($"{Field}.subject", identity.Subject, MaxUrlLength);
                break;
        }

        if (!validation.IsValid)
        {
            return null;
        }

        return identity with
        {
            Issuer = issuer,
            Audience = identity.Audience!.Trim(),
            ServiceAccountEmail = email,
            TenantId = identity.TenantId is null ? null : Guid.Parse(identity.TenantId).ToString(),
            ClientId = identity.ClientId is null ? null : Guid.Parse(identity.ClientId).ToString(),
        };
    }

    /// <summary>The one workload the identity pins, unique per issuer in a tenant: no two agents answer to one token.</summary>
    public static string SubjectOf(WorkloadIdentity identity) => identity.Provider switch
    {
        WorkloadProviders.Kubernetes => $"system:serviceaccount:{identity.Namespace}:{identity.ServiceAccount}",
        WorkloadProviders.Aws => identity.RoleArn!,
        WorkloadProviders.Gcp => identity.ServiceAccountEmail!,
        WorkloadProviders.Azure => $"{identity.TenantId}/{identity.ClientId}",
        _ => identity.Subject!,
    };

    /// <summary>How tokens and userinfo name the workload: the provider and its subject.</summary>
    public static string LabelOf(WorkloadIdentity identity) => $"{identity.Provider}:{SubjectOf(identity)}";

    /// <summary>
    /// What a token of the provider must say to be this workload: Kubernetes and AWS (outbound identity federation) put
    /// the service account or role in <c>sub</c>; Google in a verified <c>email</c>; Azure names the directory in
    /// <c>tid</c> and the managed identity in <c>azp</c> (v2) or <c>appid</c> (v1).
    /// </summary>
    public static IReadOnlyList<WorkloadClaimRule> RulesOf(WorkloadIdentity identity) => identity.Provider switch
    {
        WorkloadProviders.Gcp => [new(["email"], identity.ServiceAccountEmail!), new(["email_verified"], "true")],
        WorkloadProviders.Azure => [new(["tid"], identity.TenantId!), new(["azp", "appid"], identity.ClientId!)],
        _ => [new(["sub"], SubjectOf(identity))],
    };

    private static IEnumerable<(string Name, string? Value)> ProviderFields(WorkloadIdentity i) =>
    [
        ("subject", i.Subject), ("namespace", i.Namespace), ("serviceAccount", i.ServiceAccount), ("roleArn", i.RoleArn),
        ("serviceAccountEmail", i.ServiceAccountEmail), ("projectId", i.ProjectId), ("clientId", i.ClientId), ("tenantId", i.TenantId),
    ];

    /// <summary>An issuer or key set URL: https (the keys' authenticity rests on it), no query or fragment, not into our own network.</summary>
    private static void UrlCheck(RequestValidator validation, string field, string? url, bool required, bool allowPrivate)
    {
        if (url is null)
        {
            validation.Check(!required, field, "is required for this provider");
            return;
        }

        if (OpenIdProviders.UrlProblem(url, allowPrivate) is { } problem)
        {
            validation.Add(field, problem);
        }
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex KubernetesLabel();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")]
    private static partial Regex KubernetesName();

    [GeneratedRegex(@"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")]
    private static partial Regex RoleArn();

    [GeneratedRegex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
    private static partial Regex ProjectId();
}
