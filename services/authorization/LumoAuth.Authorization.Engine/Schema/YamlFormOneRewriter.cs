using System.Text.RegularExpressions;

namespace LumoAuth.Authorization.Engine.Schema;

/// <summary>
/// The product documents Form 1 as <c>namespace: document</c> followed by an indented block, which is not
/// valid YAML. This rewrites each such block into a sequence item (<c>- namespace: document</c>, children
/// re-indented under it) without moving any line, and remembers how far each line's columns moved so
/// errors still point at the original text.
/// </summary>
internal static partial class YamlFormOneRewriter
{
    [GeneratedRegex(@"^(?<indent>[ ]*)namespace:[ ]*(?<name>[^\s#]+)[ ]*(#.*)?$")]
    private static partial Regex NamespaceLine();

    public static (string Text, Dictionary<int, int> ColumnShifts) Rewrite(string text)
    {
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var shifts = new Dictionary<int, int>();
        for (var i = 0; i < lines.Length; i++)
        {
            var match = NamespaceLine().Match(lines[i]);
            if (!match.Success || match.Groups["indent"].Length != 0)
            {
                continue;
            }

            var next = NextContentLine(lines, i + 1);
            if (next < 0 || Indent(lines[next]) == 0)
            {
                continue;
            }

            var childIndent = Indent(lines[next]);
            lines[i] = "- " + lines[i];
            shifts[i + 1] = 2;
            var j = i + 1;
            for (; j < lines.Length && (IsBlank(lines[j]) || Indent(lines[j]) >= childIndent); j++)
            {
                if (!IsBlank(lines[j]))
                {
                    lines[j] = new string(' ', 2) + lines[j][childIndent..];
                    shifts[j + 1] = 2 - childIndent;
                }
            }

            i = j - 1;
        }

        return (string.Join('\n', lines), shifts);
    }

    private static int NextContentLine(string[] lines, int from)
    {
        for (var i = from; i < lines.Length; i++)
        {
            if (!IsBlank(lines[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsBlank(string line) => line.Trim().Length == 0 || line.TrimStart().StartsWith('#');

    private static int Indent(string line) => line.Length - line.TrimStart(' ').Length;
}
