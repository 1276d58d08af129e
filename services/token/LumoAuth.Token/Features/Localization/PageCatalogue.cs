using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json;

namespace LumoAuth.Token.Features.Localization;

/// <summary>
/// The translations of the hosted pages, built into the service: <c>Catalogue/{language}/{area}.json</c>, each an object
/// from the English sentence to its translation. An area (login, account, consent…) keeps each file small enough to
/// review; a language is the union of its areas. English has no file: its sentences are the keys.
/// </summary>
public static class PageCatalogue
{
    private const string Prefix = "LumoAuth.Token.Features.Localization.Catalogue.";

    private static readonly FrozenDictionary<string, FrozenDictionary<string, string>> Catalogues = Load();

    /// <summary>English first, then the languages that have a catalogue, in alphabetical order.</summary>
    public static IReadOnlyList<string> Languages { get; } = [PageLanguage.Default, .. Catalogues.Keys.Order(StringComparer.Ordinal)];

    public static IReadOnlyDictionary<string, string> For(string language) =>
        Catalogues.TryGetValue(language, out var catalogue) ? catalogue : FrozenDictionary<string, string>.Empty;

    /// <summary>Every file's entries as written, by file name (for the catalogue test, which checks them against the code).</summary>
    public static IEnumerable<(string Area, string Language, IReadOnlyDictionary<string, string> Entries)> Files()
    {
        var assembly = typeof(PageCatalogue).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".json", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            var parts = name[Prefix.Length..^".json".Length].Split('.');
            if (parts.Length != 2)
            {
                throw new InvalidOperationException($"A page catalogue is Catalogue/{{language}}/{{area}}.json: {name}");
            }

            using var stream = assembly.GetManifestResourceStream(name)!;
            var entries = JsonSerializer.Deserialize<Dictionary<string, string>>(stream)
                ?? throw new InvalidOperationException($"The page catalogue {name} is empty");
            yield return (parts[1], parts[0], entries);
        }
    }

    private static FrozenDictionary<string, FrozenDictionary<string, string>> Load() =>
        Files()
            .GroupBy(f => f.Language, StringComparer.Ordinal)
            .ToFrozenDictionary(
                language => language.Key,
                language =>
                {
                    // The same sentence in two areas reads the same (the catalogue test insists); the first is kept.
                    var merged = new Dictionary<string, string>(StringComparer.Ordinal);
                    foreach (var (_, _, entries) in language)
                    {
                        foreach (var (english, translated) in entries)
                        {
                            merged.TryAdd(english, translated);
                        }
                    }

                    return merged.ToFrozenDictionary(StringComparer.Ordinal);
                },
                StringComparer.Ordinal);
}
