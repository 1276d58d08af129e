namespace LumoAuth.Contracts.Internal;

/// <summary>Routes of the internal API (<c>/internal/v1/...</c>), never exposed by the gateway.</summary>
public static class InternalRoutes
{
    public const string Prefix = "/internal/v1";
    public const string TenantBySlug = Prefix + "/tenants/by-slug/{slug}";
    public const string VerifyApiKey = Prefix + "/api-keys/verify";
    public const string Authenticate = Prefix + "/users/authenticate";
    public const string UserProfile = Prefix + "/users/{userId:guid}";
    public const string UserByLogin = Prefix + "/users/by-login";
    public const string RolesOf = Prefix + "/roles-of";
    public const string Group = Prefix + "/groups/{groupId:guid}";
    public const string RoleUsers = Prefix + "/roles/{role}/users";
    public const string RegisterUser = Prefix + "/users/register";
    public const string HostedPageSettings = Prefix + "/tenants/{tenantId:guid}/hosted-pages";
    public const string InternalKeyHeader = "X-Internal-Key";
}

public sealed record TenantInfo(Guid Id, string Slug, string Name, string Status, string Region);

public static class TenantStatuses
{
    public const string Active = "active";
    public const string Suspended = "suspended";
}

public sealed record VerifyApiKeyRequest(Guid TenantId, string Key);

public sealed record VerifiedApiKey(Guid ApiKeyId, Guid TenantId, string Name, IReadOnlyList<string> Scopes, DateTimeOffset? ExpiresAt);
