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
