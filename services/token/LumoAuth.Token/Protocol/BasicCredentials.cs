using System.Text;
using System.Text.Unicode;
using Microsoft.Extensions.Primitives;

namespace LumoAuth.Token.Protocol;

/// <summary><c>Authorization: Basic base64(id:secret)</c>, as clients authenticate with <c>client_secret_basic</c>.</summary>
public static class BasicCredentials
{
    private const string Scheme = "Basic ";

    public static bool IsBasic(StringValues header) =>
        header.Count == 1 && header[0] is { } value && value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The id and secret exactly as encoded, before RFC 6749 §2.3.1's form-decoding (see <see cref="FormDecode"/>); false
    /// for anything but one well-formed header of at most 512 decoded bytes.
    /// </summary>
    public static bool TryRead(StringValues header, out string clientId, out string secret)
    {
        clientId = secret = string.Empty;
        if (!IsBasic(header))
        {
            return false;
        }

        var encoded = header[0].AsSpan(Scheme.Length).Trim();
        Span<byte> decoded = stackalloc byte[512];
        if (encoded.Length > 680 || !Convert.TryFromBase64Chars(encoded, decoded, out var written))
        {
            return false;
        }

        var text = decoded[..written];
        var colon = text.IndexOf((byte)':');
        if (colon <= 0 || !Utf8.IsValid(text))
        {
            return false;
        }

        clientId = Encoding.UTF8.GetString(text[..colon]);
        secret = Encoding.UTF8.GetString(text[(colon + 1)..]);
        return true;
    }

    /// <summary>RFC 6749 §2.3.1: the id and secret are form-encoded before they are joined and base64-encoded.</summary>
    public static string FormDecode(string value) => Uri.UnescapeDataString(value.Replace('+', ' '));
}
