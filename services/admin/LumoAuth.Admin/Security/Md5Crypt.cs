using System.Security.Cryptography;
using System.Text;

namespace LumoAuth.Admin.Security;

/// <summary>
/// Poul-Henning Kamp's MD5-crypt, <c>$1$</c>, as old /etc/shadow files and OpenLDAP's <c>{CRYPT}</c> hold it, and Apache's
/// variant <c>$apr1$</c> (htpasswd), which differs only in its name. 1,000 rounds of MD5: weak, but no weaker than the salted
/// digests imports already take, and replaced by our own hash at the first sign-in.
/// </summary>
public static class Md5Crypt
{
    private const int MaxSaltLength = 8;

    /// <summary>crypt(3) of the password with a setting (a whole hash may stand for its setting); null when it is not MD5-crypt's.</summary>
    public static string? Crypt(string password, string setting)
    {
        var magic = setting.StartsWith("$1$", StringComparison.Ordinal) ? "$1$" : setting.StartsWith("$apr1$", StringComparison.Ordinal) ? "$apr1$" : null;
        if (magic is null)
        {
            return null;
        }

        var rest = setting[magic.Length..];
        var saltEnd = rest.IndexOf('$', StringComparison.Ordinal);
        var saltText = saltEnd < 0 ? rest : rest[..saltEnd];
        saltText = saltText.Length > MaxSaltLength ? saltText[..MaxSaltLength] : saltText;
        var key = Encoding.UTF8.GetBytes(password);
        var salt = Encoding.UTF8.GetBytes(saltText);
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);

        md5.AppendData(key);
        md5.AppendData(salt);
        md5.AppendData(key);
        var alternate = md5.GetHashAndReset();

        md5.AppendData(key);
        md5.AppendData(Encoding.ASCII.GetBytes(magic));
        md5.AppendData(salt);
        for (var left = key.Length; left > 0; left -= 16)
        {
            md5.AppendData(alternate, 0, Math.Min(left, 16));
        }

        // The length's bits choose between a zero byte and the key's first byte (the original's quirk, kept by everyone).
        for (var bits = key.Length; bits > 0; bits >>= 1)
        {
            md5.AppendData((bits & 1) != 0 ? [0] : key.AsSpan(0, 1));
        }

        var final = UnixCrypt.Rounds(md5, md5.GetHashAndReset(), key, salt, 1000);
        var output = new StringBuilder(magic).Append(saltText).Append('$');
        foreach (var (a, b, c) in new[] { (0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5) })
        {
            UnixCrypt.Append(output, (final[a] << 16) | (final[b] << 8) | final[c], 4);
        }

        UnixCrypt.Append(output, final[11], 2);
        return output.ToString();
    }
}
