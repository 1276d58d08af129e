using System.Globalization;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using LumoAuth.Admin.Features.Users;

namespace LumoAuth.Admin.Security;

/// <summary>
/// Password hashes made by other identity providers, for moving their users here without their passwords. Each is read
/// once at import into a stored form, verifies its owner's old password as it is, and is replaced by our own hash at the
/// first sign-in (<see cref="PasswordHasher.NeedsRehash"/>). Every format is bounded in what it may cost at a sign-in.
/// </summary>
public static partial class ImportedPasswordHashes
{
    /// <summary>The algorithms <see cref="Import"/> takes.</summary>
    public static readonly string[] Algorithms =
        ["argon2", "bcrypt", "crypt", "django", "firebase-scrypt", "ldap", "md5", "passlib", "pbkdf2-sha1", "pbkdf2-sha256", "pbkdf2-sha512", "phpass", "scrypt", "sha1", "sha256", "sha512", "werkzeug", "wordpress"];

    public const int MaxPbkdf2Iterations = 2_000_000;

    public const int MaxBcryptCost = 15;

    /// <summary>Argon2's memory (KiB), passes and lanes at most: OWASP's settings use 19–64 MiB, Keycloak's default 7 MiB.</summary>
    public const int MaxArgon2Memory = 131_072;

    public const int MaxArgon2Passes = 10;

    public const int MaxArgon2Lanes = 8;

    /// <summary>scrypt's work area (128·N·r bytes) at most, as Argon2's; Firebase's default takes 16 MiB, passlib's 64 MiB.</summary>
    public const long MaxScryptMemory = 128L * 1024 * 1024;

    /// <summary>scrypt's N·r·p at most, which is what its time grows with: twice passlib's default.</summary>
    public const long MaxScryptWork = 1L << 20;

    /// <summary>SHA-crypt's rounds at most: glibc's default is 5,000, passlib's 535,000 (SHA-256) and 656,000 (SHA-512).</summary>
    public const int MaxShaCryptRounds = 2_000_000;

    /// <summary>phpass's rounds (2^n) at most: WordPress writes 2^13, Drupal 7 2^15; 2^20 of SHA-512 take about a second.</summary>
    public const int MaxPhpassCountLog2 = 20;

    private const string Prefix = "prefix";

    // Stored forms of ours for bcrypt over a digest of the password, which a plain bcrypt check would not match.
    private const string DjangoBcryptSha256 = "django-bcrypt-sha256";
    private const string WordPressBcrypt = "wordpress-bcrypt";

    private const string PhpassAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    private const string Suffix = "suffix";

    private static readonly Dictionary<string, (int Length, Func<byte[], byte[]> Digest)> Digests = new(StringComparer.Ordinal)
    {
        ["md5"] = (16, MD5.HashData),
        ["sha1"] = (20, SHA1.HashData),
        ["sha256"] = (32, SHA256.HashData),
        ["sha512"] = (64, SHA512.HashData),
    };

    /// <summary>OpenLDAP's schemes (RFC 2307's <c>{SHA}</c> and the salted forms, whose salt follows the digest).</summary>
    private static readonly Dictionary<string, (string Digest, bool Salted)> LdapSchemes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["MD5"] = ("md5", false), ["SMD5"] = ("md5", true), ["SHA"] = ("sha1", false), ["SSHA"] = ("sha1", true),
        ["SHA256"] = ("sha256", false), ["SSHA256"] = ("sha256", true), ["SHA512"] = ("sha512", false), ["SSHA512"] = ("sha512", true),
    };

    /// <summary>The stored form of another provider's hash, or what is wrong with it.</summary>
    public static (string? Stored, string? Problem) Import(ImportedPasswordHash hash)
    {
        var algorithm = hash.Algorithm;
        if (algorithm is null || !Algorithms.Contains(algorithm))
        {
            return (null, $"algorithm must be one of {string.Join(", ", Algorithms)}");
        }

        if (Unexpected(hash, algorithm) is { } member)
        {
            return (null, $"{member} is not part of a {algorithm} hash");
        }

        return algorithm switch
        {
            "argon2" => hash.Value is { Length: <= 1024 } && Argon2Hash.TryRead(hash.Value) is { } read
                && read.Memory <= MaxArgon2Memory && read.Passes <= MaxArgon2Passes && read.Lanes <= MaxArgon2Lanes
                && read.Salt.Length is >= 8 and <= 128 && read.Hash.Length is >= 16 and <= 128 ? (hash.Value, null)
                : (null, $"value must be an Argon2 PHC string, $argon2id$v=19$m=…,t=…,p=…$salt$hash, with m ≤ {MaxArgon2Memory}, t ≤ {MaxArgon2Passes}, p ≤ {MaxArgon2Lanes}"),
            "bcrypt" => hash.Value is { Length: 60 } && BcryptForm().Match(hash.Value) is { Success: true } form
                && int.Parse(form.Groups[1].Value, CultureInfo.InvariantCulture) is >= 4 and <= MaxBcryptCost ? (hash.Value, null)
                : (null, $"value must be a bcrypt hash ($2a$, $2b$ or $2y$, cost 4 to {MaxBcryptCost})"),
            "ldap" => ImportLdap(hash.Value),
            "django" => ImportDjango(hash.Value),
            "passlib" => ImportPasslib(hash.Value),
            "werkzeug" => ImportWerkzeug(hash.Value),
            "crypt" => ImportCrypt(hash.Value),
            "phpass" => ImportPhpass(hash.Value, drupal: true),
            "wordpress" when hash.Value?.StartsWith("$wp$2", StringComparison.Ordinal) == true =>
                Import(hash with { Algorithm = "bcrypt", Value = hash.Value[3..] }) is { Stored: { } bcrypt } ? (WordPressBcrypt + "$" + bcrypt, null)
                : (null, "value must be WordPress's $wp$2y$… (bcrypt) or $P$… (phpass) hash"),
            "wordpress" => ImportPhpass(hash.Value, drupal: false),
            "scrypt" => ImportScrypt(hash),
            "firebase-scrypt" => ImportFirebaseScrypt(hash),
            _ when Digests.ContainsKey(algorithm) => ImportDigest(algorithm, hash),
            _ => ImportPbkdf2(algorithm, hash),
        };
    }

    /// <summary>Whether <paramref name="password"/> is the one an imported hash was made from; null for a form not imported here.</summary>
    public static bool? Verify(string password, string stored)
    {
        if (stored.StartsWith("$2", StringComparison.Ordinal))
        {
            return VerifyBcrypt(password, stored);
        }

        if (Argon2Hash.TryRead(stored) is { } argon2)
        {
            return CryptographicOperations.FixedTimeEquals(argon2.Derive(password), argon2.Hash);
        }

        if ((ShaCryptForm().IsMatch(stored) ? ShaCrypt.Crypt(password, stored)
                : Md5CryptForm().IsMatch(stored) ? Md5Crypt.Crypt(password, stored)
                : Yescrypt.Read(stored) is { } yescrypt ? Yescrypt.Crypt(password, yescrypt)
                : null) is { } crypt)
        {
            return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(crypt), Encoding.ASCII.GetBytes(stored));
        }

        if (PhpassForm().IsMatch(stored))
        {
            return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Phpass(password, stored)), Encoding.ASCII.GetBytes(stored));
        }

        var parts = stored.Split('$');
        var secret = Encoding.UTF8.GetBytes(password);
        switch (parts[0])
        {
            case var digest when parts.Length == 4 && Digests.TryGetValue(digest, out var hashing) && parts[1] is Prefix or Suffix:
                var salt = Convert.FromBase64String(parts[2]);
                byte[] input = parts[1] == Prefix ? [.. salt, .. secret] : [.. secret, .. salt];
                return CryptographicOperations.FixedTimeEquals(hashing.Digest(input), Convert.FromBase64String(parts[3]));
            case DjangoBcryptSha256:
                // Django's BCryptSHA256PasswordHasher: bcrypt over the SHA-256 of the password in lower-case hex.
                return VerifyBcrypt(Convert.ToHexStringLower(SHA256.HashData(secret)), stored[(DjangoBcryptSha256.Length + 1)..]);
            case WordPressBcrypt:
                // WordPress 6.8: bcrypt over the base64 of HMAC-SHA384 of the password, keyed with "wp-sha384".
                return VerifyBcrypt(Convert.ToBase64String(HMACSHA384.HashData("wp-sha384"u8, secret)), stored[(WordPressBcrypt.Length + 1)..]);
            case "scrypt" when parts.Length == 6:
                var key = Convert.FromBase64String(parts[5]);
                return CryptographicOperations.FixedTimeEquals(
                    Scrypt.DeriveKey(secret, Convert.FromBase64String(parts[4]), Number(parts[1]), Number(parts[2]), Number(parts[3]), key.Length), key);
            case "firebase-scrypt" when parts.Length == 7:
                return CryptographicOperations.FixedTimeEquals(
                    FirebaseScrypt(secret, Number(parts[1]), Number(parts[2]), [.. Convert.FromBase64String(parts[3]), .. Convert.FromBase64String(parts[4])], Convert.FromBase64String(parts[5])),
                    Convert.FromBase64String(parts[6]));
            default:
                return null;
        }
    }

    /// <summary>The first member given that the algorithm does not use.</summary>
    private static string? Unexpected(ImportedPasswordHash hash, string algorithm)
    {
        string[] uses = algorithm switch
        {
            "argon2" or "bcrypt" or "ldap" or "django" or "passlib" or "werkzeug" or "crypt" or "phpass" or "wordpress" => [],
            "scrypt" => ["salt", "cost", "blockSize", "parallelism"],
            "firebase-scrypt" => ["salt", "signerKey", "saltSeparator", "rounds", "memoryCost"],
            _ when Digests.ContainsKey(algorithm) => ["salt", "saltPosition"],
            _ => ["salt", "iterations"],
        };
        (string Name, bool Given)[] members =
        [
            ("salt", hash.Salt is not null), ("iterations", hash.Iterations is not null), ("saltPosition", hash.SaltPosition is not null),
            ("cost", hash.Cost is not null), ("blockSize", hash.BlockSize is not null), ("parallelism", hash.Parallelism is not null),
            ("signerKey", hash.SignerKey is not null), ("saltSeparator", hash.SaltSeparator is not null), ("rounds", hash.Rounds is not null),
            ("memoryCost", hash.MemoryCost is not null),
        ];
        return members.FirstOrDefault(m => m.Given && !uses.Contains(m.Name)).Name;
    }

    private static (string?, string?) ImportPbkdf2(string algorithm, ImportedPasswordHash hash)
    {
        if (hash.Iterations is not (>= 1 and <= MaxPbkdf2Iterations))
        {
            return (null, $"iterations must be between 1 and {MaxPbkdf2Iterations}");
        }

        var key = Base64(hash.Value);
        var salt = Base64(hash.Salt);
        return key is not { Length: >= 16 and <= 128 } ? (null, "value must be the derived key in base64 (16 to 128 bytes)")
            : salt is not { Length: >= 8 and <= 128 } ? (null, "salt must be base64 (8 to 128 bytes)")
            : (Stored(algorithm, Text(hash.Iterations.Value), Convert.ToBase64String(salt), Convert.ToBase64String(key)), null);
    }

    /// <summary>A plain digest of the password, salted before or after it or not at all (Auth0's and Okta's imports take these).</summary>
    private static (string?, string?) ImportDigest(string algorithm, ImportedPasswordHash hash)
    {
        var length = Digests[algorithm].Length;
        var digest = HexOrBase64(hash.Value, length);
        if (digest is null)
        {
            return (null, $"value must be the {length}-byte digest in hex or base64");
        }

        var salt = hash.Salt is null ? [] : Base64(hash.Salt);
        if (salt is not { Length: <= 128 })
        {
            return (null, "salt must be base64 (1 to 128 bytes)");
        }

        return hash.SaltPosition switch
        {
            not null when hash.Salt is null => (null, "saltPosition needs a salt"),
            null or Prefix or Suffix => (Stored(algorithm, hash.SaltPosition ?? Prefix, Convert.ToBase64String(salt), Convert.ToBase64String(digest)), null),
            _ => (null, "saltPosition must be prefix or suffix"),
        };
    }

    /// <summary>An LDAP <c>userPassword</c> such as <c>{SSHA}…</c>: the digest and then the salt, together in base64.</summary>
    private static (string?, string?) ImportLdap(string? value)
    {
        // {CRYPT} holds the system's crypt(3) string.
        if (value?.StartsWith("{CRYPT}", StringComparison.OrdinalIgnoreCase) == true)
        {
            return ImportCrypt(value[7..]) is ({ } crypt, _) ? (crypt, null) : (null, "value's {CRYPT} must hold " + CryptForms);
        }

        // OpenLDAP's pw-pbkdf2 module writes passlib's PBKDF2 layout behind a scheme name: {PBKDF2-SHA256}rounds$salt$key.
        if (value is { Length: <= 1024 } && LdapPbkdf2Form().Match(value) is { Success: true } pbkdf2)
        {
            var digest = pbkdf2.Groups[1].Value.ToUpperInvariant() switch { "" or "-SHA1" => "pbkdf2-sha1", "-SHA256" => "pbkdf2-sha256", _ => "pbkdf2-sha512" };
            return ImportAdaptedPbkdf2(digest, pbkdf2.Groups[2].Value, pbkdf2.Groups[3].Value, pbkdf2.Groups[4].Value);
        }

        var match = value is { Length: <= 1024 } ? LdapForm().Match(value) : null;
        if (match is not { Success: true } || !LdapSchemes.TryGetValue(match.Groups[1].Value, out var scheme) || Base64(match.Groups[2].Value) is not { } bytes)
        {
            return (null, $"value must be an LDAP password with one of the schemes {string.Join(", ", LdapSchemes.Keys.Select(k => "{" + k + "}"))}");
        }

        var length = Digests[scheme.Digest].Length;
        var saltLength = bytes.Length - length;
        return (scheme.Salted ? saltLength is >= 1 and <= 128 : saltLength == 0)
            ? (Stored(scheme.Digest, Suffix, Convert.ToBase64String(bytes[length..]), Convert.ToBase64String(bytes[..length])), null)
            : (null, $"value's {{{match.Groups[1].Value}}} digest must be {length} bytes{(scheme.Salted ? " followed by a salt" : string.Empty)}");
    }

    /// <summary>
    /// A Django password as its <c>password</c> column holds it (<c>algorithm$…</c>), read into the matching form of ours;
    /// Django's salts are text, taken as their UTF-8 bytes.
    /// </summary>
    private static (string?, string?) ImportDjango(string? value)
    {
        const string Form = "value must be a Django password: pbkdf2_sha256$…, pbkdf2_sha1$…, argon2$…, bcrypt_sha256$…, bcrypt$…, scrypt$…, sha1$… or md5$…";
        var at = value is { Length: <= 1024 } ? value.IndexOf('$', StringComparison.Ordinal) : -1;
        if (at <= 0)
        {
            return (null, Form);
        }

        var (name, rest) = (value![..at], value[(at + 1)..]);
        var parts = rest.Split('$');
        var (stored, problem) = name switch
        {
            "pbkdf2_sha256" or "pbkdf2_sha1" when parts.Length == 3 && Whole(parts[0]) is { } iterations && parts[1].Length > 0 =>
                Import(new ImportedPasswordHash(name.Replace('_', '-'), parts[2], Utf8(parts[1]), iterations)),
            "argon2" => Import(new ImportedPasswordHash("argon2", "$" + rest, null, null)),
            "bcrypt" => Import(new ImportedPasswordHash("bcrypt", rest, null, null)),
            "bcrypt_sha256" => Import(new ImportedPasswordHash("bcrypt", rest, null, null)) is { Stored: { } bcrypt } ? (DjangoBcryptSha256 + "$" + bcrypt, null) : (null, Form),
            // Django writes scrypt$N$salt$r$p$hash.
            "scrypt" when parts.Length == 5 && Whole(parts[0]) is { } n && parts[1].Length > 0 && Whole(parts[2]) is { } r && Whole(parts[3]) is { } p =>
                Import(new ImportedPasswordHash("scrypt", parts[4], Utf8(parts[1]), null, Cost: n, BlockSize: r, Parallelism: p)),
            "sha1" or "md5" when parts.Length == 2 && parts[0].Length > 0 =>
                Import(new ImportedPasswordHash(name, parts[1], Utf8(parts[0]), null, SaltPosition: Prefix)),
            _ => (null, Form),
        };
        return stored is null ? (null, $"{Form} ({problem})") : (stored, null);
    }

    /// <summary>
    /// A hash as Python's passlib writes it: PBKDF2 (<c>$pbkdf2-sha256$</c>, <c>$pbkdf2-sha512$</c>, and <c>$pbkdf2$</c> for
    /// SHA-1: rounds, then salt and key in passlib's adapted base64) and scrypt (<c>$scrypt$ln=…,r=…,p=…$salt$key</c>, N = 2^ln,
    /// base64 without padding), read into the matching forms of ours; its bcrypt and Argon2 hashes are those libraries' own.
    /// </summary>
    private static (string?, string?) ImportPasslib(string? value)
    {
        const string Form = "value must be a passlib hash: $pbkdf2-sha256$…, $pbkdf2-sha512$…, $pbkdf2$…, $scrypt$ln=…,r=…,p=…$…, $5$…, $6$…, $1$…, $apr1$…, $2b$… or $argon2id$…";
        var parts = value is { Length: <= 1024 } ? value.Split('$') : [];
        var (stored, problem) = parts switch
        {
            ["", "2a" or "2b" or "2y", ..] => Import(new ImportedPasswordHash("bcrypt", value, null, null)),
            ["", "1" or "apr1" or "5" or "6", ..] => ImportCrypt(value),
            ["", "argon2id" or "argon2i" or "argon2d", ..] => Import(new ImportedPasswordHash("argon2", value, null, null)),
            ["", "pbkdf2", var rounds, var salt, var key] => ImportAdaptedPbkdf2("pbkdf2-sha1", rounds, salt, key),
            ["", "pbkdf2-sha256" or "pbkdf2-sha512", var rounds, var salt, var key] => ImportAdaptedPbkdf2(parts[1], rounds, salt, key),
            ["", "scrypt", var settings, var salt, var key] when PasslibScryptSettings().Match(settings) is { Success: true } scrypt
                && Whole(scrypt.Groups[1].Value) is int log2N && log2N is >= 1 and <= 30 =>
                UnpaddedBase64(salt) is { } saltBytes && UnpaddedBase64(key) is { } keyBytes
                    ? Import(new ImportedPasswordHash("scrypt", Convert.ToBase64String(keyBytes), Convert.ToBase64String(saltBytes), null,
                        Cost: 1 << log2N, BlockSize: Whole(scrypt.Groups[2].Value), Parallelism: Whole(scrypt.Groups[3].Value)))
                    : (null, "salt and key must be base64"),
            _ => (null, Form),
        };
        return stored is null ? (null, problem == Form ? Form : $"{Form} ({problem})") : (stored, null);
    }

    /// <summary>passlib's (and OpenLDAP's) PBKDF2 layout: rounds, then salt and key in adapted base64 ('.' for '+', no padding).</summary>
    private static (string?, string?) ImportAdaptedPbkdf2(string algorithm, string rounds, string salt, string key) =>
        Whole(rounds) is { } iterations && UnpaddedBase64(salt.Replace('.', '+')) is { } saltBytes && UnpaddedBase64(key.Replace('.', '+')) is { } keyBytes
            ? Import(new ImportedPasswordHash(algorithm, Convert.ToBase64String(keyBytes), Convert.ToBase64String(saltBytes), iterations))
            : (null, "rounds must be a number, salt and key adapted base64");

    /// <summary>
    /// A hash as Werkzeug's <c>generate_password_hash</c> writes it (Flask applications): <c>pbkdf2:sha256:iterations$salt$key</c>
    /// (or sha1, sha512) and <c>scrypt:N:r:p$salt$key</c>, the key in hex; the salt is text, taken as its UTF-8 bytes.
    /// </summary>
    private static (string?, string?) ImportWerkzeug(string? value)
    {
        const string Form = "value must be a Werkzeug hash: pbkdf2:sha256:iterations$salt$hash (or sha1, sha512) or scrypt:N:r:p$salt$hash";
        var parts = value is { Length: <= 1024 } ? value.Split('$') : [];
        if (parts is not [var method, { Length: > 0 } salt, var hex] || hex.Length % 2 != 0 || !hex.All(char.IsAsciiHexDigit))
        {
            return (null, Form);
        }

        var key = Convert.ToBase64String(Convert.FromHexString(hex));
        var (stored, problem) = method.Split(':') switch
        {
            ["pbkdf2", ("sha1" or "sha256" or "sha512") and var digest, var iterations] when Whole(iterations) is { } rounds =>
                Import(new ImportedPasswordHash("pbkdf2-" + digest, key, Utf8(salt), rounds)),
            ["scrypt", var n, var r, var p] when Whole(n) is { } cost && Whole(r) is { } blockSize && Whole(p) is { } parallelism =>
                Import(new ImportedPasswordHash("scrypt", key, Utf8(salt), null, Cost: cost, BlockSize: blockSize, Parallelism: parallelism)),
            _ => (null, Form),
        };
        return stored is null ? (null, problem == Form ? Form : $"{Form} ({problem})") : (stored, null);
    }

    private static readonly string CryptForms =
        $"a crypt(3) hash: SHA-crypt ($5$[rounds=N$]salt$hash or $6$…, 1,000 to {MaxShaCryptRounds.ToString("N0", CultureInfo.InvariantCulture)} rounds), " +
        "MD5-crypt ($1$…, Apache's $apr1$…), yescrypt ($y$…, as libxcrypt writes it, and its scrypt form $7$…, at most " +
        $"{MaxScryptMemory / 1024 / 1024} MiB and N·r·p·(t+1) ≤ 2^{BitOperations.Log2((ulong)MaxScryptWork)}) or bcrypt ($2b$…); DES crypt is not taken";

    /// <summary>A crypt(3) string as /etc/shadow, OpenLDAP's <c>{CRYPT}</c>, htpasswd or passlib hold it: SHA-crypt and MD5-crypt kept as they are, bcrypt as bcrypt.</summary>
    private static (string?, string?) ImportCrypt(string? value) => value switch
    {
        { Length: <= 200 } when ShaCryptForm().IsMatch(value) && ShaCrypt.Read(value) is { Rounds: <= MaxShaCryptRounds } => (value, null),
        { Length: <= 200 } when Md5CryptForm().IsMatch(value) => (value, null),
        { Length: <= 200 } when Yescrypt.Read(value) is { } yescrypt && yescrypt.Memory <= MaxScryptMemory
            && yescrypt.Cost * yescrypt.BlockSize * yescrypt.Parallelism * (yescrypt.Time + 1) <= MaxScryptWork => (value, null),
        { Length: 60 } when value.StartsWith("$2", StringComparison.Ordinal) => Import(new ImportedPasswordHash("bcrypt", value, null, null)),
        _ => (null, "value must be " + CryptForms),
    };

    /// <summary>phpass's portable hashes (<c>$P$</c>, WordPress before 6.8; <c>$H$</c>, phpBB) and Drupal 7's SHA-512 form (<c>$S$</c>), kept as they are.</summary>
    private static (string?, string?) ImportPhpass(string? value, bool drupal)
    {
        var form = drupal ? "value must be a phpass hash ($P$…, $H$… or Drupal 7's $S$…)" : "value must be WordPress's $wp$2y$… (bcrypt) or $P$… (phpass) hash";
        if (value is null || !PhpassForm().IsMatch(value) || (!drupal && !value.StartsWith("$P$", StringComparison.Ordinal)))
        {
            return (null, form);
        }

        return PhpassAlphabet.IndexOf(value[3], StringComparison.Ordinal) is >= 7 and <= MaxPhpassCountLog2
            ? (value, null)
            : (null, $"{form}, with 2^7 to 2^{MaxPhpassCountLog2} rounds");
    }

    /// <summary>phpass's crypt: the salted digest of the password, then the digest of that and the password again, 2^n times.</summary>
    private static string Phpass(string password, string setting)
    {
        var secret = Encoding.UTF8.GetBytes(password);
        Func<byte[], byte[]> digest = setting[1] == 'S' ? SHA512.HashData : MD5.HashData;
        var hash = digest([.. Encoding.ASCII.GetBytes(setting[4..12]), .. secret]);
        for (var round = 1 << PhpassAlphabet.IndexOf(setting[3], StringComparison.Ordinal); round > 0; round--)
        {
            hash = digest([.. hash, .. secret]);
        }

        // phpass's own base64: its alphabet, least significant bits first; Drupal keeps the first 55 characters.
        var output = new StringBuilder(setting[..12]);
        for (var i = 0; i < hash.Length; i += 3)
        {
            var value = hash[i] | (i + 1 < hash.Length ? hash[i + 1] << 8 : 0) | (i + 2 < hash.Length ? hash[i + 2] << 16 : 0);
            var characters = Math.Min(4, ((hash.Length - i) * 8 + 5) / 6);
            for (var c = 0; c < characters; c++)
            {
                output.Append(PhpassAlphabet[(value >> (6 * c)) & 0x3f]);
            }
        }

        return setting[1] == 'S' ? output.ToString()[..55] : output.ToString();
    }

    private static (string?, string?) ImportScrypt(ImportedPasswordHash hash)
    {
        var key = Base64(hash.Value);
        var salt = Base64(hash.Salt);
        if (key is not { Length: >= 16 and <= 128 })
        {
            return (null, "value must be the derived key in base64 (16 to 128 bytes)");
        }

        if (salt is not { Length: <= 128 })
        {
            return (null, "salt must be base64 (1 to 128 bytes)");
        }

        return hash is { Cost: { } n, BlockSize: { } r, Parallelism: { } p } && n >= 2 && (n & (n - 1)) == 0 && r >= 1 && p >= 1
            && 128L * n * r <= MaxScryptMemory && (long)n * r * p <= MaxScryptWork
            ? (Stored("scrypt", Text(n), Text(r), Text(p), Convert.ToBase64String(salt), Convert.ToBase64String(key)), null)
            : (null, $"cost (N, a power of two), blockSize (r) and parallelism (p) must be given, with 128·N·r ≤ {MaxScryptMemory} bytes and N·r·p ≤ {MaxScryptWork}");
    }

    /// <summary>
    /// Firebase Authentication's scrypt: the password and <c>salt + saltSeparator</c> through scrypt (N = 2^memoryCost,
    /// r = rounds, p = 1), whose key encrypts the project's signer key with AES-256-CTR; the hash is that cipher text. The
    /// project's parameters (<c>auth:export</c>'s hash config) come with each user.
    /// </summary>
    private static (string?, string?) ImportFirebaseScrypt(ImportedPasswordHash hash)
    {
        var signerKey = Base64(hash.SignerKey);
        var value = Base64(hash.Value);
        var salt = Base64(hash.Salt);
        var separator = hash.SaltSeparator == string.Empty ? [] : Base64(hash.SaltSeparator);
        return signerKey is not { Length: >= 16 and <= 128 } ? (null, "signerKey must be the project's base64 signer key (16 to 128 bytes)")
            : value is null || value.Length != signerKey.Length ? (null, "value must be the base64 hash, as long as the signer key")
            : salt is not { Length: <= 128 } ? (null, "salt must be base64 (1 to 128 bytes)")
            : separator is not { Length: <= 16 } ? (null, "saltSeparator must be base64 (at most 16 bytes)")
            : hash.Rounds is not (>= 1 and <= 8) ? (null, "rounds must be between 1 and 8")
            : hash.MemoryCost is not (>= 1 and <= 14) ? (null, "memoryCost must be between 1 and 14")
            : (Stored("firebase-scrypt", Text(hash.Rounds.Value), Text(hash.MemoryCost.Value), Convert.ToBase64String(salt),
                Convert.ToBase64String(separator), Convert.ToBase64String(signerKey), Convert.ToBase64String(value)), null);
    }

    private static byte[] FirebaseScrypt(byte[] password, int rounds, int memoryCost, byte[] salt, byte[] signerKey)
    {
        var derived = Scrypt.DeriveKey(password, salt, 1 << memoryCost, rounds, 1, 64);
        using var aes = Aes.Create();
        aes.Key = derived[..32];
        // CTR mode from a zero counter: .NET has no CTR, so the counter blocks are enciphered one by one and XORed in.
        var counter = new byte[16];
        var stream = new byte[16];
        var output = new byte[signerKey.Length];
        for (var offset = 0; offset < output.Length; offset += 16)
        {
            aes.EncryptEcb(counter, stream, PaddingMode.None);
            for (var i = offset; i < Math.Min(offset + 16, output.Length); i++)
            {
                output[i] = (byte)(signerKey[i] ^ stream[i - offset]);
            }

            for (var i = 15; i >= 0 && ++counter[i] == 0; i--)
            {
            }
        }

        return output;
    }

    private static bool VerifyBcrypt(string password, string stored)
    {
        try
        {
            return BCrypt.Net.BCrypt.Verify(password, stored);
        }
        catch (BCrypt.Net.SaltParseException)
        {
            return false;
        }
    }

    private static string Stored(params string[] parts) => string.Join('$', parts);

    /// <summary>A salt written as text (Django's, Werkzeug's), as the base64 of its UTF-8 bytes.</summary>
    private static string Utf8(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private static int? Whole(string text) =>
        text.Length <= 9 && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : null;

    /// <summary>Base64 as PHC strings write it, without padding (padding is taken too).</summary>
    private static byte[]? UnpaddedBase64(string text) => Base64(text.Length % 4 == 0 ? text : text + new string('=', 4 - (text.Length % 4)));

    private static string Text(int number) => number.ToString(CultureInfo.InvariantCulture);

    private static int Number(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    private static byte[]? Base64(string? text)
    {
        if (string.IsNullOrEmpty(text) || text.Length > 1024)
        {
            return null;
        }

        var bytes = new byte[text.Length];
        return Convert.TryFromBase64String(text, bytes, out var written) ? bytes[..written] : null;
    }

    /// <summary>A digest of a known length in hex or base64: the two spellings of one length never have the same number of characters.</summary>
    private static byte[]? HexOrBase64(string? text, int length)
    {
        if (text?.Length == 2 * length && text.All(char.IsAsciiHexDigit))
        {
            return Convert.FromHexString(text);
        }

        return Base64(text) is { } bytes && bytes.Length == length ? bytes : null;
    }

    /// <summary>An Argon2 hash in the PHC string format (version 1.3 only, as every current library writes).</summary>
    private sealed record Argon2Hash(string Variant, int Memory, int Passes, int Lanes, byte[] Salt, byte[] Hash)
    {
        public static Argon2Hash? TryRead(string stored)
        {
            var match = Argon2Form().Match(stored);
            if (!match.Success || !int.TryParse(match.Groups[2].Value, CultureInfo.InvariantCulture, out var memory)
                || !int.TryParse(match.Groups[3].Value, CultureInfo.InvariantCulture, out var passes) || !int.TryParse(match.Groups[4].Value, CultureInfo.InvariantCulture, out var lanes)
                || memory < 8 || passes < 1 || lanes < 1 || memory < 8 * lanes || UnpaddedBase64(match.Groups[5].Value) is not { } salt || UnpaddedBase64(match.Groups[6].Value) is not { } hash)
            {
                return null;
            }

            return new Argon2Hash(match.Groups[1].Value, memory, passes, lanes, salt, hash);
        }

        public byte[] Derive(string password)
        {
            using Konscious.Security.Cryptography.Argon2 argon2 = Variant switch
            {
                "argon2id" => new Konscious.Security.Cryptography.Argon2id(Encoding.UTF8.GetBytes(password)),
                "argon2i" => new Konscious.Security.Cryptography.Argon2i(Encoding.UTF8.GetBytes(password)),
                _ => new Konscious.Security.Cryptography.Argon2d(Encoding.UTF8.GetBytes(password)),
            };
            argon2.Salt = Salt;
            argon2.MemorySize = Memory;
            argon2.Iterations = Passes;
            argon2.DegreeOfParallelism = Lanes;
            return argon2.GetBytes(Hash.Length);
        }

    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\$(argon2id|argon2i|argon2d)\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$")]
    private static partial System.Text.RegularExpressions.Regex Argon2Form();

    [System.Text.RegularExpressions.GeneratedRegex(@"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")]
    private static partial System.Text.RegularExpressions.Regex BcryptForm();

    [System.Text.RegularExpressions.GeneratedRegex(@"^(\$[PH]\$[./0-9A-Za-z]{31}|\$S\$[./0-9A-Za-z]{52})$")]
    private static partial System.Text.RegularExpressions.Regex PhpassForm();

    [System.Text.RegularExpressions.GeneratedRegex(@"^\{PBKDF2(|-SHA1|-SHA256|-SHA512)\}(\d{1,9})\$([./A-Za-z0-9]+)\$([./A-Za-z0-9]+)$", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex LdapPbkdf2Form();

    [System.Text.RegularExpressions.GeneratedRegex(@"^(\$5\$(rounds=\d{1,9}\$)?[./0-9A-Za-z]{0,16}\$[./0-9A-Za-z]{43}|\$6\$(rounds=\d{1,9}\$)?[./0-9A-Za-z]{0,16}\$[./0-9A-Za-z]{86})\z")]
    private static partial System.Text.RegularExpressions.Regex ShaCryptForm();

    [System.Text.RegularExpressions.GeneratedRegex(@"^\$(1|apr1)\$[./0-9A-Za-z]{0,8}\$[./0-9A-Za-z]{22}\z")]
    private static partial System.Text.RegularExpressions.Regex Md5CryptForm();

    [System.Text.RegularExpressions.GeneratedRegex(@"^ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})$")]
    private static partial System.Text.RegularExpressions.Regex PasslibScryptSettings();

    [System.Text.RegularExpressions.GeneratedRegex(@"^\{([A-Za-z0-9]{2,8})\}([A-Za-z0-9+/]+={0,2})$")]
    private static partial System.Text.RegularExpressions.Regex LdapForm();
}
