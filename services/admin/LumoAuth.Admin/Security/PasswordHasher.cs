using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Security;

/// <summary>How passwords are stretched (<c>Admin:PasswordHashing</c>).</summary>
public sealed class PasswordHashingOptions
{
    public const string SectionName = "Admin:PasswordHashing";

    /// <summary>OWASP's figure for PBKDF2-HMAC-SHA256 (DESIGN §9).</summary>
    public const int RecommendedIterations = 600_000;

    /// <summary>
    /// PBKDF2 iterations for new hashes. Raise it as hardware gets faster: a stored hash keeps the count it was made with,
    /// verifies with it, and is made again with this one at its owner's next sign-in. The test suites lower it, since most
    /// of their CPU otherwise went to stretching throwaway passwords.
    /// </summary>
    public int Iterations { get; set; } = RecommendedIterations;
}

/// <summary>
/// PBKDF2-HMAC-SHA256. The stored form carries the algorithm and the iteration count, so the count can rise later and
/// old hashes still verify (<see cref="NeedsRehash"/> tells the sign-in to store a stronger one). Hashes imported from
/// another identity provider (<see cref="Import"/>: bcrypt, as Auth0 and Okta export them; PBKDF2 with SHA-1, SHA-256 or
/// SHA-512, and Argon2, as Keycloak does) verify as they are, and are replaced by our own at their owner's first sign-in.
/// </summary>
public sealed partial class PasswordHasher
{
    private const int SaltBytes = 16;
    private const int HashBytes = 32;
    private const string Algorithm = "pbkdf2-sha256";

    /// <summary>The algorithms <see cref="Import"/> takes.</summary>
    public static readonly string[] ImportedAlgorithms = ["argon2", "bcrypt", "pbkdf2-sha1", Algorithm, "pbkdf2-sha512"];

    /// <summary>Bounds on what an imported hash may cost at each sign-in until it is replaced.</summary>
    public const int MaxImportedIterations = 2_000_000;

    public const int MaxBcryptCost = 15;

    /// <summary>Argon2's memory (KiB), passes and lanes at most: OWASP's settings use 19–64 MiB, Keycloak's default 7 MiB.</summary>
    public const int MaxArgon2Memory = 131_072;

    public const int MaxArgon2Passes = 10;

    public const int MaxArgon2Lanes = 8;

    private readonly int _iterations;
    private readonly Lazy<string> _dummyHash;

    public PasswordHasher(IOptions<PasswordHashingOptions> options, ILogger<PasswordHasher> logger)
    {
        _iterations = options.Value.Iterations;
        if (_iterations < 1)
        {
            throw new OptionsValidationException(PasswordHashingOptions.SectionName, typeof(PasswordHashingOptions), ["Iterations must be at least 1"]);
        }

        if (_iterations < PasswordHashingOptions.RecommendedIterations)
        {
            LogWeak(logger, _iterations, PasswordHashingOptions.RecommendedIterations);
        }

        _dummyHash = new Lazy<string>(() => Hash(Guid.NewGuid().ToString("N")));
    }

    /// <summary>
    /// A hash of a password nobody has, for a sign-in with an unknown address: verifying against it costs what a real
    /// check costs, so the answer's timing does not tell which addresses have accounts.
    /// </summary>
    public string DummyHash => _dummyHash.Value;

    public string Hash(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, _iterations, HashAlgorithmName.SHA256, HashBytes);
        return string.Join('$', Algorithm, _iterations.ToString(CultureInfo.InvariantCulture), Convert.ToBase64String(salt), Convert.ToBase64String(hash));
    }

    public bool Verify(string password, string stored)
    {
        if (IsBcrypt(stored))
        {
            return VerifyBcrypt(password, stored);
        }

        if (Argon2Hash.TryRead(stored) is { } argon2)
        {
            return CryptographicOperations.FixedTimeEquals(argon2.Derive(password), argon2.Hash);
        }

        if (!TryRead(stored, out var algorithm, out var iterations, out var salt, out var expected))
        {
            return false;
        }

        var actual = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, algorithm, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>Whether a hash that verified is not one we would make now: imported, or made with fewer iterations.</summary>
    public bool NeedsRehash(string stored) =>
        IsBcrypt(stored) || Argon2Hash.TryRead(stored) is not null || (TryRead(stored, out var algorithm, out var iterations, out _, out _) && (algorithm != HashAlgorithmName.SHA256 || iterations < _iterations));

    /// <summary>
    /// The stored form of a hash made by another identity provider, or what is wrong with it. bcrypt takes the whole modular
    /// crypt string (<c>$2a$</c>, <c>$2b$</c>, <c>$2y$</c>; cost 4 to <see cref="MaxBcryptCost"/>); PBKDF2 takes the derived key
    /// and the salt in base64 and the iteration count (Keycloak's <c>secretData</c> and <c>credentialData</c>); Argon2 takes
    /// the PHC string (<c>$argon2id$v=19$m=…,t=…,p=…$salt$hash</c>; Argon2i and Argon2d too), which Keycloak's Argon2
    /// credentials and Auth0's import both write.
    /// </summary>
    public static (string? Stored, string? Problem) Import(string? algorithm, string? value, string? salt, int? iterations)
    {
        if (algorithm is null || !ImportedAlgorithms.Contains(algorithm))
        {
            return (null, $"algorithm must be one of {string.Join(", ", ImportedAlgorithms)}");
        }

        if (algorithm == "argon2")
        {
            return salt is not null || iterations is not null ? (null, "an Argon2 hash carries its own salt and costs: give value only")
                : value is { Length: <= 1024 } && Argon2Hash.TryRead(value) is { } read
                    && read.Memory <= MaxArgon2Memory && read.Passes <= MaxArgon2Passes && read.Lanes <= MaxArgon2Lanes
                    && read.Salt.Length is >= 8 and <= 128 && read.Hash.Length is >= 16 and <= 128 ? (value, null)
                : (null, $"value must be an Argon2 PHC string, $argon2id$v=19$m=…,t=…,p=…$salt$hash, with m ≤ {MaxArgon2Memory}, t ≤ {MaxArgon2Passes}, p ≤ {MaxArgon2Lanes}");
        }

        if (algorithm == "bcrypt")
        {
            return salt is not null || iterations is not null ? (null, "a bcrypt hash carries its own salt and cost: give value only")
                : value is { Length: 60 } && BcryptForm().Match(value) is { Success: true } form
                    && int.Parse(form.Groups[1].Value, CultureInfo.InvariantCulture) is >= 4 and <= MaxBcryptCost ? (value, null)
                : (null, $"value must be a bcrypt hash ($2a$, $2b$ or $2y$, cost 4 to {MaxBcryptCost})");
        }

        if (iterations is not (>= 1 and <= MaxImportedIterations))
        {
            return (null, $"iterations must be between 1 and {MaxImportedIterations}");
        }

        var key = Base64(value);
        var saltBytes = Base64(salt);
        return key is not { Length: >= 16 and <= 128 } ? (null, "value must be the derived key in base64 (16 to 128 bytes)")
            : saltBytes is not { Length: >= 8 and <= 128 } ? (null, "salt must be base64 (8 to 128 bytes)")
            : (string.Join('$', algorithm, iterations.Value.ToString(CultureInfo.InvariantCulture), Convert.ToBase64String(saltBytes), Convert.ToBase64String(key)), null);
    }

    private static byte[]? Base64(string? text)
    {
        if (string.IsNullOrEmpty(text) || text.Length > 1024)
        {
            return null;
        }

        var bytes = new byte[text.Length];
        return Convert.TryFromBase64String(text, bytes, out var written) ? bytes[..written] : null;
    }

    private static bool IsBcrypt(string stored) => stored.StartsWith("$2", StringComparison.Ordinal);

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

    private static bool TryRead(string stored, out HashAlgorithmName algorithm, out int iterations, out byte[] salt, out byte[] hash)
    {
        (algorithm, iterations, salt, hash) = (default, 0, [], []);
        var parts = stored.Split('$');
        if (parts.Length != 4 || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out iterations) || iterations < 1)
        {
            return false;
        }

        algorithm = parts[0] switch
        {
            Algorithm => HashAlgorithmName.SHA256,
            "pbkdf2-sha512" => HashAlgorithmName.SHA512,
            "pbkdf2-sha1" => HashAlgorithmName.SHA1,
            _ => default,
        };
        if (algorithm == default)
        {
            return false;
        }

        salt = Convert.FromBase64String(parts[2]);
        hash = Convert.FromBase64String(parts[3]);
        return true;
    }

    /// <summary>An Argon2 hash in the PHC string format (version 1.3 only, as every current library writes).</summary>
    private sealed record Argon2Hash(string Variant, int Memory, int Passes, int Lanes, byte[] Salt, byte[] Hash)
    {
        public static Argon2Hash? TryRead(string stored)
        {
            var match = Argon2Form().Match(stored);
            if (!match.Success || !int.TryParse(match.Groups[2].Value, CultureInfo.InvariantCulture, out var memory)
                || !int.TryParse(match.Groups[3].Value, CultureInfo.InvariantCulture, out var passes) || !int.TryParse(match.Groups[4].Value, CultureInfo.InvariantCulture, out var lanes)
                || memory < 8 || passes < 1 || lanes < 1 || memory < 8 * lanes || Unpadded(match.Groups[5].Value) is not { } salt || Unpadded(match.Groups[6].Value) is not { } hash)
            {
                return null;
            }

            return new Argon2Hash(match.Groups[1].Value, memory, passes, lanes, salt, hash);
        }

        public byte[] Derive(string password)
        {
            using Konscious.Security.Cryptography.Argon2 argon2 = Variant switch
            {
                "argon2id" => new Konscious.Security.Cryptography.Argon2id(System.Text.Encoding.UTF8.GetBytes(password)),
                "argon2i" => new Konscious.Security.Cryptography.Argon2i(System.Text.Encoding.UTF8.GetBytes(password)),
                _ => new Konscious.Security.Cryptography.Argon2d(System.Text.Encoding.UTF8.GetBytes(password)),
            };
            argon2.Salt = Salt;
            argon2.MemorySize = Memory;
            argon2.Iterations = Passes;
            argon2.DegreeOfParallelism = Lanes;
            return argon2.GetBytes(Hash.Length);
        }

        // PHC strings write base64 without padding.
        private static byte[]? Unpadded(string text) => Base64(text.Length % 4 == 0 ? text : text + new string('=', 4 - (text.Length % 4)));
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\$(argon2id|argon2i|argon2d)\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$")]
    private static partial System.Text.RegularExpressions.Regex Argon2Form();

    [System.Text.RegularExpressions.GeneratedRegex(@"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")]
    private static partial System.Text.RegularExpressions.Regex BcryptForm();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Passwords are hashed with {Iterations} PBKDF2 iterations, fewer than the {Recommended} recommended")]
    private static partial void LogWeak(ILogger logger, int iterations, int recommended);
}
