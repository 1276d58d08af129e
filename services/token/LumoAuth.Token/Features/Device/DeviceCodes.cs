namespace LumoAuth.Token.Features.Device;

/// <summary>The device flow's user codes (RFC 8628 §6.1): what they are made of and how typed input is read.</summary>
public static class DeviceCodes
{
    /// <summary>The docs' base-20 set: consonants only, so no code spells a word and none is mistaken for a digit.</summary>
    public const string UserCodeCharset = "BCDFGHJKLMNPQRSTVWXZ";

    /// <summary>
    /// A code as the user typed it, in the form it was issued in (XXXX-XXXX): case, spaces and dashes do not matter.
    /// Null when it cannot be a code of ours, so nothing else is looked up.
    /// </summary>
    public static string? Normalize(string? typed)
    {
        if (string.IsNullOrWhiteSpace(typed) || typed.Length > 32)
        {
            return null;
        }

        var letters = typed.Where(c => c is not (' ' or '-')).Select(char.ToUpperInvariant).ToArray();
        return letters.Length == 8 && letters.All(c => UserCodeCharset.Contains(c, StringComparison.Ordinal))
            ? $"{new string(letters, 0, 4)}-{new string(letters, 4, 4)}"
            : null;
    }
}
