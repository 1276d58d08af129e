namespace LumoAuth.ServiceDefaults.Localization;

/// <summary>
/// Language tags (BCP 47) as our texts use them: a person's or an application's tag (<c>de-AT</c>) is matched to one of the
/// languages a tenant offers (<c>de</c>) by its primary language. The hosted pages and the mails choose the same way.
/// </summary>
public static class LanguageTags
{
    /// <summary>Longer than any tag a person would keep (RFC 5646 §4.4.1 suggests 35 characters).</summary>
    public const int MaxLength = 35;

    /// <summary>A language (2–3 letters) and optional subtags (1–8 letters or digits each), as a user's <c>locale</c> may be.</summary>
    public static bool IsWellFormed(string? tag)
    {
        if (tag is not { Length: >= 2 and <= MaxLength })
        {
            return false;
        }

        var parts = tag.Split('-');
        return parts[0].Length is 2 or 3 && parts[0].All(char.IsAsciiLetter)
            && parts.Skip(1).All(p => p.Length is >= 1 and <= 8 && p.All(char.IsAsciiLetterOrDigit));
    }

    /// <summary>The offered language whose name is the tag's primary language (<c>de-AT</c> gives <c>de</c>), or null.</summary>
    public static string? Match(string? tag, IReadOnlyList<string> offered)
    {
        if (string.IsNullOrEmpty(tag))
        {
            return null;
        }

        var primary = tag.AsSpan();
        var dash = primary.IndexOfAny('-', '_');
        if (dash >= 0)
        {
            primary = primary[..dash];
        }

        foreach (var language in offered)
        {
            if (primary.Equals(language, StringComparison.OrdinalIgnoreCase))
            {
                return language;
            }
        }

        return null;
    }

    /// <summary>The first of space-separated tags (OIDC's <c>ui_locales</c>) that is offered.</summary>
    public static string? FirstOffered(string? tags, IReadOnlyList<string> offered)
    {
        if (string.IsNullOrWhiteSpace(tags) || tags.Length > 256)
        {
            return null;
        }

        foreach (var tag in tags.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (Match(tag, offered) is { } language)
            {
                return language;
            }
        }

        return null;
    }

    /// <summary>Each language's name in itself, as a list of languages shows it.</summary>
    public static string NameOf(string language) => language switch
    {
        "en" => "English",
        "ar" => "العربية",
        "de" => "Deutsch",
        "es" => "Español",
        "fr" => "Français",
        "it" => "Italiano",
        "nl" => "Nederlands",
        "pt" => "Português",
        _ => language,
    };

    /// <summary>Whether the language is written right to left (a page or mail in it says <c>dir="rtl"</c>).</summary>
    public static bool IsRightToLeft(string language) => language is "ar" or "fa" or "he" or "ur";

    /// <summary>The attribute a page or mail in the language needs beside <c>lang</c>: <c> dir="rtl"</c>, or nothing.</summary>
    public static string DirectionAttribute(string language) => IsRightToLeft(language) ? " dir=\"rtl\"" : string.Empty;
}
