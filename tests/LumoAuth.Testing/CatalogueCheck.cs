using System.Text.RegularExpressions;
using LumoAuth.ServiceDefaults.Localization;

namespace LumoAuth.Testing;

/// <summary>
/// A service's translations (<see cref="TextCatalogue"/>) against the code that uses them: every sentence looked up has a
/// translation in every language, none is left over from a sentence that changed, each keeps its placeholders, and keys
/// are literals. Keys are found as the literals after <c>t[</c>, <c>t.Format(</c>, <c>t.Html(</c> and <c>t.Link(</c>.
/// </summary>
public sealed partial class CatalogueCheck(string sourceFolder, TextCatalogue catalogue)
{
    private readonly string _root = Path.Combine(TestInfrastructure.RepositoryRoot(), sourceFolder);

    private IEnumerable<(string File, string Source)> Sources() =>
        Directory.EnumerateFiles(_root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (Path.GetRelativePath(_root, f), CommentLine().Replace(File.ReadAllText(f), string.Empty)));

    /// <summary>Each sentence the code looks up, with the files it is in.</summary>
    public Dictionary<string, List<string>> KeysInCode()
    {
        var keys = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (file, source) in Sources())
        {
            foreach (Match match in Key().Matches(source))
            {
                var key = Regex.Unescape(match.Groups[1].Value);
                if (!keys.TryGetValue(key, out var files))
                {
                    keys[key] = files = [];
                }

                files.Add(file);
            }
        }

        return keys;
    }

    /// <summary>Sentences of the code that a language lacks.</summary>
    public List<string> Untranslated()
    {
        var keys = KeysInCode();
        return catalogue.Languages.Where(l => l != TextCatalogue.English)
            .SelectMany(language => keys.Keys.Where(k => !catalogue.For(language).ContainsKey(k)).Select(k => $"{language}: \"{k}\" ({string.Join(", ", keys[k])})"))
            .ToList();
    }

    /// <summary>Translations of sentences no longer used, that lose a placeholder, are empty, or read differently in two areas.</summary>
    public List<string> WrongTranslations()
    {
        var keys = KeysInCode();
        var problems = new List<string>();
        var seen = new Dictionary<(string Language, string Key), (string Area, string Text)>();
        foreach (var (area, language, entries) in catalogue.Files())
        {
            foreach (var (english, translated) in entries)
            {
                if (!keys.ContainsKey(english))
                {
                    problems.Add($"{language}/{area}: \"{english}\" is no longer used");
                }

                if (Placeholders(english) != Placeholders(translated))
                {
                    problems.Add($"{language}/{area}: \"{translated}\" does not keep the placeholders of \"{english}\"");
                }

                if (string.IsNullOrWhiteSpace(translated))
                {
                    problems.Add($"{language}/{area}: \"{english}\" is empty");
                }

                if (seen.TryGetValue((language, english), out var earlier) && earlier.Text != translated)
                {
                    problems.Add($"{language}: \"{english}\" reads differently in {earlier.Area} and {area}");
                }

                seen.TryAdd((language, english), (area, translated));
            }
        }

        return problems;
    }

    /// <summary>Interpolated or verbatim keys, which the catalogue could never hold.</summary>
    public List<string> ComputedKeys() =>
        Sources().SelectMany(s => ComputedKey().Matches(s.Source).Select(m => $"{s.File}: {m.Value}")).ToList();

    private static string Placeholders(string text) =>
        string.Join(' ', Placeholder().Matches(text).Select(m => m.Value).Order(StringComparer.Ordinal));

    [GeneratedRegex("""\bt(?:\[|\.(?:Html|Format|Link)\()\s*"((?:[^"\\]|\\.)*)""")]
    private static partial Regex Key();

    [GeneratedRegex("""\bt(?:\[|\.(?:Html|Format|Link)\()\s*[$@]""")]
    private static partial Regex ComputedKey();

    [GeneratedRegex("""\{\d+(?::[^}]*)?\}""")]
    private static partial Regex Placeholder();

    [GeneratedRegex("""^\s*//.*$""", RegexOptions.Multiline)]
    private static partial Regex CommentLine();
}
