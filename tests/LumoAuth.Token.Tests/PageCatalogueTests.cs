using System.Text.RegularExpressions;
using LumoAuth.Token.Features.Localization;

namespace LumoAuth.Token.Tests;

/// <summary>
/// The hosted pages' translations against the code that uses them: every sentence the token service looks up has a
/// translation in every language, no translation is left over from a sentence that changed, and each keeps its
/// placeholders. Keys are found as the literals after <c>t[</c>, <c>t.Format(</c>, <c>t.Html(</c> and <c>t.Link(</c>.
/// </summary>
public sealed partial class PageCatalogueTests
{
    private static readonly string SourceRoot = FindSourceRoot();

    private static string FindSourceRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "LumoAuth.sln")))
            {
                return Path.Combine(directory.FullName, "services", "token", "LumoAuth.Token");
            }
        }

        throw new InvalidOperationException("The tests run outside the repository: the token service's source is not found.");
    }

    private static IEnumerable<(string File, string Source)> Sources() =>
        System.IO.Directory.EnumerateFiles(SourceRoot, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (Path.GetRelativePath(SourceRoot, f), CommentLine().Replace(File.ReadAllText(f), string.Empty)));

    private static Dictionary<string, List<string>> KeysInCode()
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

    private static string Placeholders(string text) =>
        string.Join(' ', Placeholder().Matches(text).Select(m => m.Value).Order(StringComparer.Ordinal));

    [Fact]
    public void EverySentenceOfThePages_IsTranslatedInEveryLanguage()
    {
        var keys = KeysInCode();
        Assert.True(keys.Count > 100, $"only {keys.Count} sentences found: is the key pattern still the one the code uses?");
        // Admin offers tenants the languages of its own list: the two must name the same.
        Assert.Equal(LumoAuth.Contracts.Internal.HostedPageLanguages.All.Order(StringComparer.Ordinal), PageCatalogue.Languages.Order(StringComparer.Ordinal));

        var missing = PageCatalogue.Languages.Where(l => l != PageLanguage.Default)
            .SelectMany(language => keys.Keys.Where(k => !PageCatalogue.For(language).ContainsKey(k)).Select(k => $"{language}: \"{k}\" ({string.Join(", ", keys[k])})"))
            .ToList();
        Assert.True(missing.Count == 0, "Not translated:\n" + string.Join('\n', missing));
    }

    [Fact]
    public void EveryTranslation_BelongsToASentenceOfThePages_AndKeepsItsPlaceholders()
    {
        var keys = KeysInCode();
        var problems = new List<string>();
        var seen = new Dictionary<(string Language, string Key), (string Area, string Text)>();
        foreach (var (area, language, entries) in PageCatalogue.Files())
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

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    [Fact]
    public void Keys_AreLiterals_SoTheCatalogueCanFindThem()
    {
        var computed = Sources().SelectMany(s => ComputedKey().Matches(s.Source).Select(m => $"{s.File}: {m.Value}")).ToList();
        Assert.True(computed.Count == 0, "Interpolated or verbatim keys:\n" + string.Join('\n', computed));
    }

    [GeneratedRegex("""\bt(?:\[|\.(?:Html|Format|Link)\()\s*"((?:[^"\\]|\\.)*)""")]
    private static partial Regex Key();

    [GeneratedRegex("""\bt(?:\[|\.(?:Html|Format|Link)\()\s*[$@]""")]
    private static partial Regex ComputedKey();

    [GeneratedRegex("""\{\d+(?::[^}]*)?\}""")]
    private static partial Regex Placeholder();

    [GeneratedRegex("""^\s*//.*$""", RegexOptions.Multiline)]
    private static partial Regex CommentLine();
}
