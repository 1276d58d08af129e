using System.Security.Cryptography;
using System.Text;

namespace LumoAuth.Admin.Security;

/// <summary>What MD5-crypt and SHA-crypt share: their rounds and crypt(3)'s base64.</summary>
internal static class UnixCrypt
{
    public const string Alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>
    /// The rounds both schemes run over their first digest: each round hashes the key or the last digest, the salt every
    /// round not a multiple of 3, the key every round not a multiple of 7, then the other of key and digest.
    /// </summary>
    public static byte[] Rounds(IncrementalHash hash, byte[] digest, byte[] key, byte[] salt, int rounds)
    {
        for (var round = 0; round < rounds; round++)
        {
            hash.AppendData(round % 2 != 0 ? key : digest);
            if (round % 3 != 0)
            {
                hash.AppendData(salt);
            }

            if (round % 7 != 0)
            {
                hash.AppendData(key);
            }

            hash.AppendData(round % 2 != 0 ? digest : key);
            digest = hash.GetHashAndReset();
        }

        return digest;
    }

    /// <summary>Appends crypt(3)'s base64 of <paramref name="bits"/>: its own alphabet, least significant six bits first.</summary>
    public static void Append(StringBuilder output, int bits, int characters)
    {
        for (var i = 0; i < characters; i++, bits >>= 6)
        {
            output.Append(Alphabet[bits & 0x3f]);
        }
    }
}
