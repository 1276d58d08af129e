using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Client secrets are 256 random bits, so a single SHA-256 is as strong as a slow hash and costs
/// microseconds instead of PBKDF2's milliseconds on every token request (MACHINE-NOTES, the throughput trap).
/// </summary>
public static class ClientSecrets
{
    public const string Prefix = "cs_";
    private const string HashPrefix = "sha256:";

    public static string Generate() => Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string secret) => HashPrefix + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    public static bool Verify(string presented, string stored)
    {
        if (!stored.StartsWith(HashPrefix, StringComparison.Ordinal) || presented.Length > 512)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[32];
        if (!Convert.TryFromBase64String(stored[HashPrefix.Length..], expected, out var written) || written != 32)
        {
            return false;
        }

        Span<byte> actual = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(presented), actual);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}
