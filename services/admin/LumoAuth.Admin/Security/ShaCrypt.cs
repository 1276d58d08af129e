using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace LumoAuth.Admin.Security;

/// <summary>
/// Ulrich Drepper's SHA-crypt, <c>$5$</c> (SHA-256) and <c>$6$</c> (SHA-512), as glibc's crypt(3) writes it for
/// /etc/shadow and OpenLDAP's <c>{CRYPT}</c>, and passlib's sha256_crypt and sha512_crypt. Our own code: .NET has no crypt(3).
/// </summary>
public static class ShaCrypt
{
    public const int DefaultRounds = 5000;

    private const int MinRounds = 1000;
    private const int MaxRounds = 999_999_999;
    private const int MaxSaltLength = 16;

    // The order in which the final digest's bytes are written, three at a time (the spec's permutation).
    private static readonly int[] Sha256Order = [0, 10, 20, 21, 1, 11, 12, 22, 2, 3, 13, 23, 24, 4, 14, 15, 25, 5, 6, 16, 26, 27, 7, 17, 18, 28, 8, 9, 19, 29];

    private static readonly int[] Sha512Order =
    [
        0, 21, 42, 22, 43, 1, 44, 2, 23, 3, 24, 45, 25, 46, 4, 47, 5, 26, 6, 27, 48, 28, 49, 7, 50, 8, 29, 9, 30, 51, 31, 52, 10,
        53, 11, 32, 12, 33, 54, 34, 55, 13, 56, 14, 35, 15, 36, 57, 37, 58, 16, 59, 17, 38, 18, 39, 60, 40, 61, 19, 62, 20, 41,
    ];

    /// <summary>The setting's parts (<c>$5$[rounds=N$]salt[$…]</c>), or null when it is not one.</summary>
    public static (bool Sha512, int Rounds, bool RoundsGiven, string Salt)? Read(string setting)
    {
        if (!setting.StartsWith("$5$", StringComparison.Ordinal) && !setting.StartsWith("$6$", StringComparison.Ordinal))
        {
            return null;
        }

        var rest = setting[3..];
        var (rounds, given) = (DefaultRounds, false);
        if (rest.StartsWith("rounds=", StringComparison.Ordinal))
        {
            var end = rest.IndexOf('$', StringComparison.Ordinal);
            if (end < 0 || !long.TryParse(rest[7..end], NumberStyles.None, CultureInfo.InvariantCulture, out var asked))
            {
                return null;
            }

            // Out of range is refused, as libxcrypt (Debian's crypt(3)) refuses it; the spec's clamping would hide a typo.
            if (asked is < MinRounds or > MaxRounds)
            {
                return null;
            }

            (rounds, given, rest) = ((int)asked, true, rest[(end + 1)..]);
        }

        var saltEnd = rest.IndexOf('$', StringComparison.Ordinal);
        var salt = saltEnd < 0 ? rest : rest[..saltEnd];
        return (setting[1] == '6', rounds, given, salt.Length > MaxSaltLength ? salt[..MaxSaltLength] : salt);
    }

    /// <summary>crypt(3) of the password with a setting (a whole hash may stand for its setting); null when it is not SHA-crypt's.</summary>
    public static string? Crypt(string password, string setting)
    {
        if (Read(setting) is not { } read)
        {
            return null;
        }

        var name = read.Sha512 ? HashAlgorithmName.SHA512 : HashAlgorithmName.SHA256;
        var length = read.Sha512 ? 64 : 32;
        var key = Encoding.UTF8.GetBytes(password);
        var salt = Encoding.UTF8.GetBytes(read.Salt);
        using var hash = IncrementalHash.CreateHash(name);

        // B = H(key salt key); A = H(key salt, B for each block of the key's length, then B or the key by the length's bits).
        hash.AppendData(key);
        hash.AppendData(salt);
        hash.AppendData(key);
        var b = hash.GetHashAndReset();
        hash.AppendData(key);
        hash.AppendData(salt);
        int left;
        for (left = key.Length; left > length; left -= length)
        {
            hash.AppendData(b);
        }

        hash.AppendData(b, 0, left);
        for (var bits = key.Length; bits > 0; bits >>= 1)
        {
            hash.AppendData((bits & 1) != 0 ? b : key);
        }

        var a = hash.GetHashAndReset();

        // The key's and the salt's sequences: digests of them repeated, cut to their lengths.
        for (var i = 0; i < key.Length; i++)
        {
            hash.AppendData(key);
        }

        var keyDigest = hash.GetHashAndReset();
        var keySequence = new byte[key.Length];
        for (var i = 0; i < keySequence.Length; i++)
        {
            keySequence[i] = keyDigest[i % length];
        }

        for (var i = 0; i < 16 + a[0]; i++)
        {
            hash.AppendData(salt);
        }

        var saltSequence = hash.GetHashAndReset()[..salt.Length];

        var c = UnixCrypt.Rounds(hash, a, keySequence, saltSequence, read.Rounds);
        var output = new StringBuilder(read.Sha512 ? "$6$" : "$5$");
        if (read.RoundsGiven)
        {
            output.Append("rounds=").Append(read.Rounds.ToString(CultureInfo.InvariantCulture)).Append('$');
        }

        output.Append(read.Salt).Append('$');
        var order = read.Sha512 ? Sha512Order : Sha256Order;
        for (var i = 0; i < order.Length; i += 3)
        {
            UnixCrypt.Append(output, (c[order[i]] << 16) | (c[order[i + 1]] << 8) | c[order[i + 2]], 4);
        }

        // The bytes the triples leave: SHA-256's last two, SHA-512's last one.
        UnixCrypt.Append(output, read.Sha512 ? c[63] : (c[31] << 8) | c[30], read.Sha512 ? 2 : 3);
        return output.ToString();
    }
}
