using System.Security.Cryptography;
using System.Text;
using LumoAuth.Admin.Data;
using LumoAuth.ServiceDefaults.Security;

namespace LumoAuth.Admin.Features.ApiKeys;

/// <summary>Mints API keys: <c>lmk_</c> + 32 random bytes; only the SHA-256 is stored.</summary>
public static class ApiKeyIssuer
{
    public const string KeyPrefix = ApiKeyAuthenticationHandler.KeyPrefix;
    public static readonly IReadOnlyList<string> DefaultScopes = ["admin:read", "admin:write"];

    public static (ApiKey Entity, string Secret) Create(Guid tenantId, string name, IReadOnlyList<string> scopes, DateTimeOffset? expiresAt)
    {
        var secret = KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var entity = new ApiKey
        {
            Id = Guid.CreateVersion7(),
            TenantId = tenantId,
            Name = name,
            Prefix = secret[..12],
            KeyHash = HashOf(secret),
            Scopes = [.. scopes],
            CreatedAt = DateTimeOffset.UtcNow,
            ExpiresAt = expiresAt,
        };
        return (entity, secret);
    }

    public static byte[] HashOf(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
