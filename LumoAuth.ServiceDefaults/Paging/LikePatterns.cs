namespace LumoAuth.ServiceDefaults.Paging;

/// <summary>
/// ILIKE patterns from user input: its own <c>%</c>, <c>_</c> and <c>\</c> match literally. Pass <see cref="Escape"/> with
/// them: without an escape character Npgsql's <c>ILike</c> says <c>ESCAPE ''</c>, and the backslashes would match themselves.
/// </summary>
public static class LikePatterns
{
    public const string Escape = "\\";

    public static string Exactly(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    public static string Containing(string value) => "%" + Exactly(value.Trim()) + "%";
}
