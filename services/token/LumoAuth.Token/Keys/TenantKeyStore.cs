using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using LumoAuth.Messaging.Data;
using LumoAuth.Token.Data;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Keys;

/// <summary>
/// A tenant's usable keys. <see cref="Signing"/> holds the active signing key first, then the retired keys
/// still in their grace period (published and accepted, never used to sign). <see cref="RefreshAfter"/> is
/// when caches rebuild: when the earliest grace period ends, and at the latest a minute after loading.
/// <see cref="GraceEnds"/> is when the earliest grace period ends (past it, these keys must not serve even in an outage);
/// <see cref="KeySet"/> names the keys, so a re-read that finds the same ones keeps these objects.
/// </summary>
public sealed record TenantKeyMaterial(
    IReadOnlyList<SigningCredentials> Signing, IReadOnlyList<EncryptingCredentials> Encryption, DateTimeOffset? RefreshAfter,
    DateTimeOffset? GraceEnds = null, string KeySet = "", IReadOnlyList<TenantDecryptionKey>? Decryption = null,
    byte[]? PairwiseSecret = null)
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
/// A tenant's key that clients encrypt to (request objects, ID token hints): an EC P-256 key for ECDH-ES, published in
/// the JWKS with <c>use</c> <c>enc</c>. It rotates with the signing key; the one it replaces still opens what clients
/// encrypted to it, and stays published, for the same grace period.
/// </summary>
public sealed record TenantDecryptionKey(string KeyId, ECDiffieHellman Key)
{
    /// <summary>The public half as a JWK, without <c>alg</c>: every ECDH-ES variant discovery names may be used with it.</summary>
    public JsonWebKey PublicJwk()
    {
        var point = Key.ExportParameters(includePrivateParameters: false).Q;
        return new JsonWebKey
        {
            Kty = JsonWebAlgorithmsKeyTypes.EllipticCurve, Crv = JsonWebKeyECTypes.P256, Kid = KeyId, Use = JsonWebKeyUseNames.Enc,
            X = Base64UrlEncoder.Encode(point.X), Y = Base64UrlEncoder.Encode(point.Y),
        };
    }
}

/// <summary>A signing key as the Admin API shows it (public facts only).</summary>
public sealed record SigningKeyInfo(string Kid, string Algorithm, string Status, DateTimeOffset CreatedAt, DateTimeOffset? RetiredAt, DateTimeOffset? PublishedUntil);

/// <summary>
/// Per-tenant keys, created on first use (RS256 signing, AES-256 key wrap for OpenIddict's own encrypted
/// tokens), stored with the private half protected by Data Protection, and cached in memory. Rotation
/// retires the active signing key into a grace period and makes a new one of the chosen algorithm.
/// </summary>
public sealed partial class TenantKeyStore(
    IServiceScopeFactory scopeFactory,
    IDataProtectionProvider dataProtection,
    TimeProvider time,
    ILogger<TenantKeyStore> logger)
{
    public const string Signing = "sig";
    public const string Encryption = "enc";

    /// <summary>The key clients encrypt to (<see cref="TenantDecryptionKey"/>).</summary>
    public const string Decryption = "jwe";

    /// <summary>The secret pairwise subject identifiers are made with (<c>PairwiseSubjects</c>); never rotated, since they must stay.</summary>
    public const string Pairwise = "psub";
    public const string DefaultSigningAlgorithm = SecurityAlgorithms.RsaSha256;
    public const string ActiveStatus = "active";
    public const string GraceStatus = "grace";
    private const string EncryptionAlgorithm = "A256KW";

    /// <summary>The longest a replica signs with keys it read without reading them again (see <see cref="LoadAsync"/>).</summary>
    public static readonly TimeSpan RecheckInterval = TimeSpan.FromMinutes(1);

    /// <summary>The signing algorithms a tenant may choose.</summary>
    public static readonly IReadOnlySet<string> SigningAlgorithms = new HashSet<string>(StringComparer.Ordinal)
    {
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.EcdsaSha256,
    };

    private readonly IDataProtector _protector = dataProtection.CreateProtector("LumoAuth.Token.TenantKeys.v1");
    /// <summary>How soon a failed re-read is tried again, meanwhile serving the keys read before.</summary>
    private static readonly TimeSpan RetryAfterFailedRead = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<Guid, Lazy<Task<TenantKeyMaterial>>> _cache = new();

    // What each tenant's last successful read gave: kept through an eviction, to serve through a database outage.
    private readonly ConcurrentDictionary<Guid, TenantKeyMaterial> _lastRead = new();

    public async Task<TenantKeyMaterial> GetAsync(Guid tenantId, CancellationToken cancellationToken)
    {
        var lazy = _cache.GetOrAdd(tenantId, id => new Lazy<Task<TenantKeyMaterial>>(() => LoadAsync(id)));
        try
        {
            var material = await lazy.Value.WaitAsync(cancellationToken);
            if (material.RefreshAfter is { } refreshAfter && time.GetUtcNow() >= refreshAfter)
            {
                // Due a re-read (a grace period ended, or the recheck interval passed).
                _cache.TryRemove(new KeyValuePair<Guid, Lazy<Task<TenantKeyMaterial>>>(tenantId, lazy));
                return await GetAsync(tenantId, cancellationToken);
            }

            return material;
        }
        catch (Exception ex) when (lazy.Value.IsFaulted)
        {
            // Failures are not cached: the next request tries the database again. Meanwhile the keys read before keep
            // serving (client credentials need no database), unless a grace period they hold has ended.
            _cache.TryRemove(new KeyValuePair<Guid, Lazy<Task<TenantKeyMaterial>>>(tenantId, lazy));
            var now = time.GetUtcNow();
            if (_lastRead.TryGetValue(tenantId, out var last) && (last.GraceEnds is not { } graceEnds || graceEnds > now))
            {
                LogServingLastRead(logger, ex, tenantId);
                var retry = now + RetryAfterFailedRead;
                var stale = last with { RefreshAfter = last.GraceEnds is { } ends && ends < retry ? ends : retry };
                _cache.TryAdd(tenantId, new Lazy<Task<TenantKeyMaterial>>(Task.FromResult(stale)));
                return stale;
            }

            throw;
        }
    }

    public void Evict(Guid tenantId) => _cache.TryRemove(tenantId, out _);

    /// <summary>The tenant's signing keys, active first, then those in their grace period.</summary>
    public async Task<IReadOnlyList<SigningKeyInfo>> ListAsync(TokenDbContext db, Guid tenantId, CancellationToken cancellationToken)
    {
        await GetAsync(tenantId, cancellationToken);
        var now = time.GetUtcNow();
        var rows = await db.TenantKeys.AsNoTracking()
            .Where(k => k.TenantId == tenantId && k.Use == Signing && (k.RetiredAt == null || k.PublishedUntil > now))
            .OrderByDescending(k => k.CreatedAt)
            .ToListAsync(cancellationToken);
        return rows.Select(Info).ToList();
    }

    /// <summary>
    /// Retires the active signing key (published for <paramref name="gracePeriod"/> more) and activates a new
    /// key of <paramref name="algorithm"/>; the key clients encrypt to is replaced likewise. <paramref name="beforeCommit"/>
    /// adds the outbox event to the same transaction.
    /// </summary>
    public async Task<SigningKeyInfo> RotateAsync(TokenDbContext db, Guid tenantId, string algorithm, TimeSpan gracePeriod, Action<TenantKey, TenantKey?> beforeCommit, CancellationToken cancellationToken)
    {
        await GetAsync(tenantId, cancellationToken);
        var now = time.GetUtcNow();
        var fresh = NewSigningKey(tenantId, algorithm);
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        // Retire first (the partial unique index allows one active key per use and tenant), then insert.
        var retiring = await db.TenantKeys
            .Where(k => k.TenantId == tenantId && (k.Use == Signing || k.Use == Decryption) && k.RetiredAt == null)
            .ToListAsync(cancellationToken);
        foreach (var key in retiring)
        {
            key.RetiredAt = now;
            key.PublishedUntil = now + gracePeriod;
        }

        await db.SaveChangesAsync(cancellationToken);
        var current = retiring.Where(k => k.Use == Signing).ToList();
        db.TenantKeys.Add(fresh);
        db.TenantKeys.Add(NewDecryptionKey(tenantId));
        beforeCommit(fresh, current.FirstOrDefault());
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        Evict(tenantId);
        LogKeyRotated(logger, tenantId, algorithm, fresh.KeyId);
        return Info(fresh);
    }

    private SigningKeyInfo Info(TenantKey row) =>
        new(row.KeyId, row.Algorithm, row.RetiredAt is null ? ActiveStatus : GraceStatus, row.CreatedAt, row.RetiredAt, row.PublishedUntil);

    private async Task<TenantKeyMaterial> LoadAsync(Guid tenantId)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TokenDbContext>();
        var now = time.GetUtcNow();
        var rows = await UsableKeysAsync(db, tenantId, now);
        if (!rows.Any(k => k.Use == Signing && k.RetiredAt == null))
        {
            rows = await CreateAsync(db, tenantId, NewSigningKey(tenantId, DefaultSigningAlgorithm), now);
        }

        if (!rows.Any(k => k.Use == Encryption))
        {
            rows = await CreateAsync(db, tenantId, NewEncryptionKey(tenantId), now);
        }

        if (!rows.Any(k => k.Use == Decryption && k.RetiredAt == null))
        {
            rows = await CreateAsync(db, tenantId, NewDecryptionKey(tenantId), now);
        }

        if (!rows.Any(k => k.Use == Pairwise))
        {
            rows = await CreateAsync(db, tenantId, NewRow(tenantId, Pairwise, "HS256", RandomNumberGenerator.GetBytes(32)), now);
        }

        // Read again after a while even when no grace period ends: a rotation made by another replica reaches this one
        // by an event, and a replica reconnecting to the broker at that moment never hears it.
        var recheck = now + RecheckInterval;
        var graceEnds = rows.Where(k => k.RetiredAt is not null).Min(k => k.PublishedUntil);
        var refreshAfter = graceEnds < recheck ? graceEnds : recheck;
        var keySet = string.Join(',', rows.OrderBy(k => k.KeyId, StringComparer.Ordinal).Select(k => $"{k.Use}:{k.KeyId}:{k.RetiredAt?.UtcTicks}"));
        if (_lastRead.TryGetValue(tenantId, out var last) && last.KeySet == keySet)
        {
            // The same keys: the objects (and the server configuration built on them) stay.
            return _lastRead[tenantId] = last with { RefreshAfter = refreshAfter, GraceEnds = graceEnds };
        }

        var signing = rows.Where(k => k.Use == Signing)
            .OrderBy(k => k.RetiredAt is null ? 0 : 1).ThenByDescending(k => k.CreatedAt)
            .Select(ToSigningCredentials).ToList();
        var encryption = rows.Where(k => k.Use == Encryption).OrderByDescending(k => k.CreatedAt).Select(ToEncryptingCredentials).ToList();
        var decryption = rows.Where(k => k.Use == Decryption)
            .OrderBy(k => k.RetiredAt is null ? 0 : 1).ThenByDescending(k => k.CreatedAt)
            .Select(ToDecryptionKey).ToList();
        var pairwise = rows.FirstOrDefault(k => k.Use == Pairwise) is { } secret ? _protector.Unprotect(Convert.FromBase64String(secret.ProtectedMaterial)) : null;
        return _lastRead[tenantId] = new TenantKeyMaterial(signing, encryption, refreshAfter, graceEnds, keySet, decryption, pairwise);
    }

    // The active keys, plus retired signing and decryption keys still inside their grace period.
    private static Task<List<TenantKey>> UsableKeysAsync(TokenDbContext db, Guid tenantId, DateTimeOffset now) =>
        db.TenantKeys.AsNoTracking()
            .Where(k => k.TenantId == tenantId && (k.RetiredAt == null || ((k.Use == Signing || k.Use == Decryption) && k.PublishedUntil > now)))
            .ToListAsync();

    private async Task<List<TenantKey>> CreateAsync(TokenDbContext db, Guid tenantId, TenantKey key, DateTimeOffset now)
    {
        db.TenantKeys.Add(key);
        try
        {
            await db.SaveChangesAsync();
            LogKeyCreated(logger, key.Use, key.Algorithm, tenantId);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            // Another replica created the tenant's key first; use that one.
            db.ChangeTracker.Clear();
        }

        return await UsableKeysAsync(db, tenantId, now);
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

    private TenantKey NewDecryptionKey(Guid tenantId)
    {
        using var ec = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        return NewRow(tenantId, Decryption, "ECDH-ES", ec.ExportPkcs8PrivateKey());
    }

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

            // RS256 and PS256 share the key type; the algorithm decides the padding.
            var rsa = RSA.Create();
            rsa.ImportPkcs8PrivateKey(material, out _);
            return new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = row.KeyId }, row.Algorithm);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(material);
        }
    }

    private TenantDecryptionKey ToDecryptionKey(TenantKey row)
    {
        var material = _protector.Unprotect(Convert.FromBase64String(row.ProtectedMaterial));
        try
        {
            var ec = ECDiffieHellman.Create();
            ec.ImportPkcs8PrivateKey(material, out _);
            return new TenantDecryptionKey(row.KeyId, ec);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the keys of tenant {TenantId} failed; the keys read before serve meanwhile")]
    private static partial void LogServingLastRead(ILogger logger, Exception exception, Guid tenantId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Rotated the signing key of tenant {TenantId} to {Algorithm} ({KeyId})")]
    private static partial void LogKeyRotated(ILogger logger, Guid tenantId, string algorithm, string keyId);
}
