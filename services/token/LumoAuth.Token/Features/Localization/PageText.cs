using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;
using LumoAuth.ServiceDefaults.Localization;

namespace LumoAuth.Token.Features.Localization;

/// <summary>
/// The hosted pages' words in the language negotiated for this request (<see cref="PageLanguage"/>). The English text
/// is the key, as in gettext: a page reads as before in English, and a sentence missing from a language's catalogue
/// shows in English rather than not at all. Keys are always literals written first at the call (<c>t["…"]</c>,
/// <c>t.Format("…", …)</c>, <c>t.Html("…", …)</c>, <c>t.Link("…", …)</c>) on a <see cref="PageText"/> named <c>t</c>,
/// which is how the catalogue test finds them. Messages that go to applications (<c>error_description</c>) stay English.
/// </summary>
public sealed class PageText : Translation
{
    // Encodes only what HTML needs (<, >, &, quotes): accented letters stay readable in the page source.
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);

    private PageText(string language, IReadOnlyDictionary<string, string> catalogue)
        : base(language, catalogue)
    {
    }

    public static readonly PageText English = new(PageLanguage.Default, PageCatalogue.For(PageLanguage.Default));

    /// <summary>The text of this request's pages, negotiated once and kept on the request.</summary>
    public static PageText Of(HttpContext http)
    {
        if (http.Items.TryGetValue(typeof(PageText), out var known) && known is PageText text)
        {
            return text;
        }

        text = TenantLanguages.PolicyOf(http).TextOf(PageLanguage.Negotiate(http));
        http.Items[typeof(PageText)] = text;
        return text;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, PageText> Texts = new(StringComparer.Ordinal);

    /// <summary>The text of one of <see cref="PageCatalogue.Languages"/>, as we wrote it.</summary>
    internal static PageText ForLanguage(string language) =>
        language == PageLanguage.Default ? English : Texts.GetOrAdd(language, static l => new PageText(l, PageCatalogue.For(l)));

    /// <summary>A language's text from a catalogue of its own (one a tenant reworded; <see cref="LanguagePolicy.TextOf"/>).</summary>
    internal static PageText Create(string language, IReadOnlyDictionary<string, string> catalogue) => new(language, catalogue);

    /// <summary>
    /// Words the tenant wrote (a custom scope's description), in the wording it gave for this language in its
    /// <c>localization.texts</c> (keyed by the words as written, as Keycloak's <c>${…}</c> texts are), else as written.
    /// </summary>
    public string Own(string words) => this[words];

    /// <summary>
    /// A sentence as HTML: the words encoded, and each value in its place encoded too, except <see cref="Markup"/>
    /// (a link, a bold name), which is already HTML.
    /// </summary>
    public string Html(string english, params object?[] values)
    {
        var encoded = EncodeWords(this[english]);
        if (values.Length == 0)
        {
            return encoded;
        }

        var parts = new object?[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            parts[i] = values[i] switch
            {
                Markup markup => markup.Html,
                IFormattable formattable => Encoder.Encode(formattable.ToString(null, Culture)),
                { } other => Encoder.Encode(other.ToString() ?? string.Empty),
                null => string.Empty,
            };
        }

        return string.Format(Culture, encoded, parts);
    }

    // A sentence's own words need only what could end text or a quoted attribute: apostrophes and "+" stay as written.
    private static string EncodeWords(string words) =>
        words.AsSpan().IndexOfAny("&<>\"") < 0 ? words
            : words.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal)
                .Replace(">", "&gt;", StringComparison.Ordinal).Replace("\"", "&quot;", StringComparison.Ordinal);

    /// <summary>Text encoded for HTML with the pages' encoder.</summary>
    public static string Encode(string? value) => Encoder.Encode(value ?? string.Empty);

    /// <summary>A value in bold inside a sentence, encoded.</summary>
    public static Markup Strong(string? value) => new($"<strong>{Encode(value)}</strong>");

    /// <summary>A link inside a sentence (or alone): its words are translated; the address is encoded.</summary>
    /// <param name="attributes">Further attributes as HTML, written by us (<c>data-continue</c>).</param>
    public Markup Link(string english, string href, string? attributes = null) =>
        new(new StringBuilder("<a href=\"").Append(Encode(href)).Append('"')
            .Append(attributes is null ? string.Empty : " " + attributes).Append('>')
            .Append(Html(english)).Append("</a>").ToString());
}

/// <summary>HTML a sentence's value stands for as it is (already encoded by whoever made it).</summary>
public readonly record struct Markup(string Html);
