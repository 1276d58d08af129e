using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace LumoAuth.Authorization.Engine.Conditions;

/// <summary>
/// CEL's <c>matches</c> for conditions. The Cel package runs it on a backtracking <see cref="Regex"/> without a timeout,
/// so a pattern such as <c>^(a+)+$</c> over a caller's context value could hold a thread for minutes. CEL specifies RE2,
/// which never backtracks: <see cref="RegexOptions.NonBacktracking"/> has the same linear-time guarantee (and likewise
/// no back-references or look-arounds), and a match timeout bounds what is left.
/// </summary>
public static class ConditionPatterns
{
    public const int MaxPatternLength = 1_000;

    private const int MaxCachedPatterns = 1_000;
    private static readonly TimeSpan MatchTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly ConcurrentDictionary<string, Regex> Cache = new(StringComparer.Ordinal);

    /// <summary>Whether <paramref name="text"/> contains a match of <paramref name="pattern"/> (CEL: unanchored).</summary>
    /// <exception cref="FormatException">The pattern is too long or not supported.</exception>
    /// <exception cref="RegexMatchTimeoutException">The match ran out of time.</exception>
    public static bool IsMatch(string text, string pattern) => RegexFor(pattern).IsMatch(text);

    private static Regex RegexFor(string pattern)
    {
        if (Cache.TryGetValue(pattern, out var cached))
        {
            return cached;
        }

        if (pattern.Length > MaxPatternLength)
        {
            throw new FormatException($"matches: the pattern is longer than {MaxPatternLength} characters.");
        }

        Regex regex;
        try
        {
            regex = new Regex(pattern, RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, MatchTimeout);
        }
        catch (Exception exception) when (exception is ArgumentException or NotSupportedException)
        {
            throw new FormatException($"matches: '{pattern}' is not a supported pattern: {exception.Message}");
        }

        // Patterns usually come from schemas (a handful); ones sent in request contexts are not kept past the bound.
        if (Cache.Count < MaxCachedPatterns)
        {
            Cache.TryAdd(pattern, regex);
        }

        return regex;
    }
}
