using System.Text;

namespace LumoAuth.Admin.Security;

/// <summary>crypt(3)'s base64: its own alphabet, least significant six bits first.</summary>
internal static class CryptBase64
{
    public const string Alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    public static void Append(StringBuilder output, int bits, int characters)
    {
        for (var i = 0; i < characters; i++, bits >>= 6)
        {
            output.Append(Alphabet[bits & 0x3f]);
        }
    }
}
