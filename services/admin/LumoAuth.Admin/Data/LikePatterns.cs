namespace LumoAuth.Admin.Data;

/// <summary>ILIKE patterns from user input: its own <c>%</c>, <c>_</c> and <c>\</c> match literally.</summary>
public static class LikePatterns
{
    public static string Exactly(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    public static string Containing(string value) => "%" + Exactly(value.Trim()) + "%";
}
