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

    /// <summary>
    /// Lets a production deployment run with fewer than <see cref="RecommendedIterations"/> (refused otherwise at start):
    /// a choice to make on purpose, e.g. on small machines where sign-ins must be cheaper, never by a leftover setting.
    /// </summary>
    public bool AllowBelowRecommended { get; set; }

    /// <summary>Why these options may not run in <paramref name="environment"/>, or null.</summary>
    public string? Problem(Microsoft.Extensions.Hosting.IHostEnvironment environment) =>
        Iterations < 1 ? "Iterations must be at least 1"
        : Iterations < RecommendedIterations && environment.IsProduction() && !AllowBelowRecommended
            ? $"Iterations ({Iterations}) is below the {RecommendedIterations} recommended for PBKDF2-HMAC-SHA256; in production set AllowBelowRecommended to run so on purpose"
            : null;
}

/// <summary>Checks <see cref="PasswordHashingOptions"/> at start for the environment the host runs in, in <see cref="PasswordHashingOptions.Problem"/>'s words.</summary>
internal sealed class PasswordHashingOptionsValidation(Microsoft.Extensions.Hosting.IHostEnvironment environment) : IValidateOptions<PasswordHashingOptions>
{
    public ValidateOptionsResult Validate(string? name, PasswordHashingOptions options) =>
        options.Problem(environment) is { } problem ? ValidateOptionsResult.Fail($"{PasswordHashingOptions.SectionName}: {problem}") : ValidateOptionsResult.Success;
}

/// <summary>
/// PBKDF2-HMAC-SHA256. The stored form carries the algorithm and the iteration count, so the count can rise later and
/// old hashes still verify (<see cref="NeedsRehash"/> tells the sign-in to store a stronger one). Hashes imported from
/// another identity provider (<see cref="ImportedPasswordHashes"/>) verify as they are, and are replaced by our own at
/// their owner's first sign-in; PBKDF2 ones share our stored form.
/// </summary>
public sealed partial class PasswordHasher
{
    private const int SaltBytes = 16;
    private const int HashBytes = 32;
    private const string Algorithm = "pbkdf2-sha256";

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
        if (!TryRead(stored, out var algorithm, out var iterations, out var salt, out var expected))
        {
            return ImportedPasswordHashes.Verify(password, stored) ?? false;
        }

        var actual = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, algorithm, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>Whether a hash that verified is not one we would make now: imported, or made with fewer iterations.</summary>
    public bool NeedsRehash(string stored) =>
        !TryRead(stored, out var algorithm, out var iterations, out _, out _) || algorithm != HashAlgorithmName.SHA256 || iterations < _iterations;

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Passwords are hashed with {Iterations} PBKDF2 iterations, fewer than the {Recommended} recommended")]
    private static partial void LogWeak(ILogger logger, int iterations, int recommended);
}
