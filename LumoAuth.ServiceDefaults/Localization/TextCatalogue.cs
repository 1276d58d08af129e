using System.Collections.Frozen;
using System.Globalization;
using System.Reflection;
using System.Text.Json;

namespace LumoAuth.ServiceDefaults.Localization;

/// <summary>
/// Translations built into a service as embedded files <c>Catalogue/{language}/{area}.json</c>, each an object from the
/// English sentence to its translation (gettext's way: English is the key, so a missing translation shows in English
/// rather than not at all). An area keeps each file small enough to review; a language is the union of its areas.
/// Keys are literals at the call (<c>t["…"]</c>, <c>t.Format("…", …)</c>), which is how the catalogue tests find them.
/// </summary>
public sealed class TextCatalogue
{
    public const string English = "en";

    private readonly Assembly _assembly;
    private readonly string _prefix;
    private readonly FrozenDictionary<string, FrozenDictionary<string, string>> _languages;

    /// <param name="assembly">The assembly the files are embedded in.</param>
    /// <param name="resourcePrefix">Their resource names' beginning, up to the language (<c>Service.Folder.Catalogue.</c>).</param>
    public TextCatalogue(Assembly assembly, string resourcePrefix)
    {
        _assembly = assembly;
        _prefix = resourcePrefix;
        _languages = Files()
            .GroupBy(f => f.Language, StringComparer.Ordinal)
            .ToFrozenDictionary(language => language.Key, Merge, StringComparer.Ordinal);
        Languages = [English, .. _languages.Keys.Order(StringComparer.Ordinal)];
        Sentences = [.. _languages.Values.SelectMany(l => l.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    /// <summary>Every English sentence the catalogue translates, in ordinal order: what a tenant may word its own way.</summary>
    public IReadOnlyList<string> Sentences { get; }

    /// <summary>English first, then the languages that have files, in alphabetical order.</summary>
    public IReadOnlyList<string> Languages { get; }

    /// <summary>A language's translations; empty for English and for a language without files.</summary>
    public IReadOnlyDictionary<string, string> For(string language) =>
        _languages.TryGetValue(language, out var catalogue) ? catalogue : FrozenDictionary<string, string>.Empty;

    /// <summary>Every file's entries as written (for the catalogue tests, which check them against the code).</summary>
    public IEnumerable<(string Area, string Language, IReadOnlyDictionary<string, string> Entries)> Files()
    {
        foreach (var name in _assembly.GetManifestResourceNames()
                     .Where(n => n.StartsWith(_prefix, StringComparison.Ordinal) && n.EndsWith(".json", StringComparison.Ordinal))
                     .Order(StringComparer.Ordinal))
        {
            var parts = name[_prefix.Length..^".json".Length].Split('.');
            if (parts.Length != 2)
            {
                throw new InvalidOperationException($"A catalogue file is Catalogue/{{language}}/{{area}}.json: {name}");
            }

            using var stream = _assembly.GetManifestResourceStream(name)!;
            var entries = JsonSerializer.Deserialize<Dictionary<string, string>>(stream)
                ?? throw new InvalidOperationException($"The catalogue file {name} is empty");
            yield return (parts[1], parts[0], entries);
        }
    }

    /// <summary>
    /// Whether <paramref name="text"/> may stand for <paramref name="english"/>: it has the same brace groups (<c>{0}</c>,
    /// and literal ones such as <c>{id}</c>) and no other brace, so formatting it can neither lose a value nor fail.
    /// </summary>
    public static bool KeepsPlaceholdersOf(string english, string text) =>
        text.Count(c => c == '{') == english.Count(c => c == '{') && text.Count(c => c == '}') == english.Count(c => c == '}')
        && BraceGroups(text).SequenceEqual(BraceGroups(english), StringComparer.Ordinal);

    /// <summary>
    /// A tenant's own wording laid over a language's catalogue (Keycloak's realm overrides): each entry replaces the
    /// sentence it is keyed by; one that would not keep the sentence's placeholders is left out.
    /// </summary>
    public static IReadOnlyDictionary<string, string> WithOverrides(IReadOnlyDictionary<string, string> catalogue, IReadOnlyDictionary<string, string>? overrides)
    {
        if (overrides is not { Count: > 0 })
        {
            return catalogue;
        }

        var merged = new Dictionary<string, string>(catalogue, StringComparer.Ordinal);
        foreach (var (english, text) in overrides)
        {
            if (!string.IsNullOrEmpty(text) && KeepsPlaceholdersOf(english, text))
            {
                merged[english] = text;
            }
        }

        return merged;
    }

    private static IEnumerable<string> BraceGroups(string text)
    {
        var groups = new List<string>();
        for (var start = text.IndexOf('{', StringComparison.Ordinal); start >= 0; start = text.IndexOf('{', start + 1))
        {
            var end = text.IndexOf('}', start);
            if (end > start)
            {
                groups.Add(text[start..(end + 1)]);
            }
        }

        return groups.Order(StringComparer.Ordinal);
    }

    // The same sentence in two areas reads the same (the catalogue tests insist); the first is kept.
    private static FrozenDictionary<string, string> Merge(IEnumerable<(string Area, string Language, IReadOnlyDictionary<string, string> Entries)> files)
    {
        var merged = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (_, _, entries) in files)
        {
            foreach (var (english, translated) in entries)
            {
                merged.TryAdd(english, translated);
            }
        }

        return merged.ToFrozenDictionary(StringComparer.Ordinal);
    }
}

/// <summary>One language's words from a <see cref="TextCatalogue"/>: plain sentences, and sentences with values in place.</summary>
public class Translation(string language, IReadOnlyDictionary<string, string> catalogue)
{
    /// <summary>The language tag (<c>html lang</c>, <c>Content-Language</c>).</summary>
    public string Language { get; } = language;

    /// <summary>Numbers and dates in this language's conventions.</summary>
    public CultureInfo Culture { get; } = CultureInfo.GetCultureInfo(language);

    /// <summary>The sentence in this language, or as written when it has no translation.</summary>
    public string this[string english] => catalogue.TryGetValue(english, out var translated) ? translated : english;

    /// <summary>A sentence with values in its numbered places (<c>{0}</c>), formatted in this language.</summary>
    public string Format(string english, params object?[] values) => string.Format(Culture, this[english], values);
}
