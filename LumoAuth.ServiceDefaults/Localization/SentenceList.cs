using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;

namespace LumoAuth.ServiceDefaults.Localization;

/// <summary>
/// One of our sentences as a wording editor needs it: the English key, our text in the language asked for, and the
/// tenant's own wording of it (<c>localization.texts</c>), if any.
/// </summary>
public sealed record SentenceView(string Sentence, string Text, string? TenantText);

/// <summary>The sentences of a catalogue, searched and paged, for <c>GET admin/localization/{pages|mails}</c>.</summary>
public static class SentenceList
{
    public const int MaxSearchLength = 200;

    /// <summary>The query's problems: a language that is one of <paramref name="languages"/>, and a bounded search.</summary>
    public static RequestValidator Check(string? language, string? search, IReadOnlyCollection<string> languages)
    {
        var validation = new RequestValidator().Required("language", language, 8).Optional("search", search, MaxSearchLength);
        return validation.Check(language is null || languages.Contains(language), "language", $"must be one of {string.Join(", ", languages)}");
    }

    public static PagedResponse<SentenceView> Page(
        TextCatalogue catalogue, string language, IReadOnlyDictionary<string, string>? tenantTexts, string? search, PageRequest paging)
    {
        var ours = catalogue.For(language);
        var term = search?.Trim();
        var matching = catalogue.Sentences
            .Select(s => new SentenceView(s, ours.GetValueOrDefault(s) ?? s, tenantTexts?.GetValueOrDefault(s)))
            .Where(v => string.IsNullOrEmpty(term)
                || v.Sentence.Contains(term, StringComparison.OrdinalIgnoreCase)
                || v.Text.Contains(term, StringComparison.OrdinalIgnoreCase)
                || (v.TenantText?.Contains(term, StringComparison.OrdinalIgnoreCase) ?? false))
            .ToList();
        return new PagedResponse<SentenceView>([.. matching.Skip(paging.Skip).Take(paging.Limit)], PageMeta.For(paging, matching.Count));
    }
}
