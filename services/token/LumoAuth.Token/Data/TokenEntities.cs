using OpenIddict.EntityFrameworkCore.Models;

namespace LumoAuth.Token.Data;

/// <summary>
/// An OAuth client. OpenIddict's application plus the tenant it belongs to: the same <c>client_id</c> may
/// exist in two tenants, and a global query filter on <see cref="TenantId"/> keeps them apart.
/// </summary>
public sealed class TokenApplication : OpenIddictEntityFrameworkCoreApplication<Guid, TokenAuthorization, TokenToken>
{
    public Guid TenantId { get; set; }

    public string? Description { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class TokenAuthorization : OpenIddictEntityFrameworkCoreAuthorization<Guid, TokenApplication, TokenToken>
{
    public Guid TenantId { get; set; }
}

public sealed class TokenScope : OpenIddictEntityFrameworkCoreScope<Guid>
{
    public Guid TenantId { get; set; }
}

public sealed class TokenToken : OpenIddictEntityFrameworkCoreToken<Guid, TokenApplication, TokenAuthorization>
{
    public Guid TenantId { get; set; }
}

/// <summary>A tenant's signing or encryption key; the private material is protected with Data Protection.</summary>
public sealed class TenantKey
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    /// <summary>The JWK <c>kid</c>.</summary>
    public string KeyId { get; set; } = string.Empty;

    /// <summary><c>RS256</c>, <c>ES256</c> for signing keys; <c>A256KW</c> for the encryption key.</summary>
    public string Algorithm { get; set; } = string.Empty;

    /// <summary><c>sig</c> or <c>enc</c>.</summary>
    public string Use { get; set; } = string.Empty;

    /// <summary>PKCS#8 private key (or raw symmetric key) protected by Data Protection, base64.</summary>
    public string ProtectedMaterial { get; set; } = string.Empty;

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Set when rotated out; a retired key is no longer used to sign (it may still be published for a while).</summary>
    public DateTimeOffset? RetiredAt { get; set; }
}

/// <summary>One element of the Data Protection key ring, shared by every replica through the database.</summary>
public sealed class DataProtectionKeyRow
{
    public int Id { get; set; }

    public string? FriendlyName { get; set; }

    public string Xml { get; set; } = string.Empty;
}
