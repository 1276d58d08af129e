using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using LumoAuth.Token.Data;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

namespace LumoAuth.Token.Keys;

/// <summary>A tenant's usable keys: signing credentials (newest first) and the encryption credentials.</summary>
public sealed record TenantKeyMaterial(IReadOnlyList<SigningCredentials> Signing, IReadOnlyList<EncryptingCredentials> Encryption)
{
    /// <summary>The public halves, as published in the tenant's JWKS.</summary>
    public JsonWebKeySet PublicKeySet()
    {
        var set = new JsonWebKeySet();
        foreach (var credentials in Signing)
        {
            var jwk = credentials.Key switch
            {
                RsaSecurityKey rsa => JsonWebKeyConverter.ConvertFromRSASecurityKey(
                    new RsaSecurityKey(rsa.Rsa.ExportParameters(includePrivateParameters: false)) { KeyId = rsa.KeyId }),
                ECDsaSecurityKey ec => JsonWebKeyConverter.ConvertFromECDsaSecurityKey(
                    new ECDsaSecurityKey(ECDsa.Create(ec.ECDsa.ExportParameters(includePrivateParameters: false))) { KeyId = ec.KeyId }),
                _ => null,
            };
            if (jwk is not null)
            {
                jwk.Use = "sig";
                jwk.Alg = credentials.Algorithm;
                set.Keys.Add(jwk);
            }
        }

        return set;
    }
}

/// <summary>
/// Per-tenant keys, created on first use (RS256 signing, AES-256 key wrap for OpenIddict's own encrypted
/// tokens), stored with the private half protected by Data Protection, and cached in memory.
/// </summary>
public sealed partial class TenantKeyStore(
    IServiceScopeFactory scopeFactory,
    IDataProtectionProvider dataProtection,
    TimeProvider time,
    ILogger<TenantKeyStore> logger)
{
    public const string Signing = "sig";
    public const string Encryption = "enc";
    public const string DefaultSigningAlgorithm = SecurityAlgorithms.RsaSha256;
    private const string EncryptionAlgorithm = "A256KW";

    private readonly IDataProtector _protector = dataProtection.CreateProtector("LumoAuth.Token.TenantKeys.v1");
    private readonly ConcurrentDictionary<Guid, Lazy<Task<TenantKeyMaterial>>> _cache = new();

    public async Task<TenantKeyMaterial> GetAsync(Guid tenantId, CancellationToken cancellationToken)
    {
        var lazy = _cache.GetOrAdd(tenantId, id => new Lazy<Task<TenantKeyMaterial>>(() => LoadAsync(id)));
        try
        {
            return await lazy.Value.WaitAsync(cancellationToken);
        }
        catch (Exception) when (lazy.Value.IsFaulted)
        {
            // Failures are not cached: the next request tries the database again.
            _cache.TryRemove(new KeyValuePair<Guid, Lazy<Task<TenantKeyMaterial>>>(tenantId, lazy));
            throw;
        }
    }

    public void Evict(Guid tenantId) => _cache.TryRemove(tenantId, out _);

    private async Task<TenantKeyMaterial> LoadAsync(Guid tenantId)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
        var rows = await ActiveKeysAsync(db, tenantId);
        if (!rows.Any(k => k.Use == Signing))
        {
            rows = await CreateAsync(db, tenantId, NewSigningKey(tenantId, DefaultSigningAlgorithm));
        }

        if (!rows.Any(k => k.Use == Encryption))
        {
            rows = await CreateAsync(db, tenantId, NewEncryptionKey(tenantId));
        }

        var signing = rows.Where(k => k.Use == Signing).OrderByDescending(k => k.CreatedAt).Select(ToSigningCredentials).ToList();
        var encryption = rows.Where(k => k.Use == Encryption).OrderByDescending(k => k.CreatedAt).Select(ToEncryptingCredentials).ToList();
        return new TenantKeyMaterial(signing, encryption);
    }

    private static Task<List<TenantKey>> ActiveKeysAsync(TokenDbContext db, Guid tenantId) =>
        db.TenantKeys.AsNoTracking().Where(k => k.TenantId == tenantId && k.RetiredAt == null).ToListAsync();

    private async Task<List<TenantKey>> CreateAsync(TokenDbContext db, Guid tenantId, TenantKey key)
    {
        db.TenantKeys.Add(key);
        try
        {
            await db.SaveChangesAsync();
            LogKeyCreated(logger, key.Use, key.Algorithm, tenantId);
        }
        catch (DbUpdateException ex) when (ex.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation })
        {
            // Another replica created the tenant's key first; use that one.
            db.ChangeTracker.Clear();
        }

        return await ActiveKeysAsync(db, tenantId);
    }

    private TenantKey NewSigningKey(Guid tenantId, string algorithm)
    {
        byte[] pkcs8;
        if (algorithm == SecurityAlgorithms.EcdsaSha256)
        {
            using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            pkcs8 = ec.ExportPkcs8PrivateKey();
        }
        else
        {
            using var rsa = RSA.Create(2048);
            pkcs8 = rsa.ExportPkcs8PrivateKey();
        }

        return NewRow(tenantId, Signing, algorithm, pkcs8);
    }

    private TenantKey NewEncryptionKey(Guid tenantId) =>
        NewRow(tenantId, Encryption, EncryptionAlgorithm, RandomNumberGenerator.GetBytes(32));

    private TenantKey NewRow(Guid tenantId, string use, string algorithm, byte[] material)
    {
        try
        {
            return new TenantKey
            {
                Id = Guid.CreateVersion7(),
                TenantId = tenantId,
                KeyId = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16)),
                Algorithm = algorithm,
                Use = use,
                ProtectedMaterial = Convert.ToBase64String(_protector.Protect(material)),
                CreatedAt = time.GetUtcNow(),
            };
        }
        finally
        {
            CryptographicOperations.ZeroMemory(material);
        }
    }

    private SigningCredentials ToSigningCredentials(TenantKey row)
    {
        var material = _protector.Unprotect(Convert.FromBase64String(row.ProtectedMaterial));
        try
        {
            if (row.Algorithm == SecurityAlgorithms.EcdsaSha256)
            {
                var ec = ECDsa.Create();
                ec.ImportPkcs8PrivateKey(material, out _);
                return new SigningCredentials(new ECDsaSecurityKey(ec) { KeyId = row.KeyId }, row.Algorithm);
            }

            var rsa = RSA.Create();
            rsa.ImportPkcs8PrivateKey(material, out _);
            return new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = row.KeyId }, row.Algorithm);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(material);
        }
    }

    private EncryptingCredentials ToEncryptingCredentials(TenantKey row)
    {
        var material = _protector.Unprotect(Convert.FromBase64String(row.ProtectedMaterial));
        return new EncryptingCredentials(
            new SymmetricSecurityKey(material) { KeyId = row.KeyId },
            SecurityAlgorithms.Aes256KW,
            SecurityAlgorithms.Aes256CbcHmacSha512);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created {Use} key ({Algorithm}) for tenant {TenantId}")]
    private static partial void LogKeyCreated(ILogger logger, string use, string algorithm, Guid tenantId);
}
