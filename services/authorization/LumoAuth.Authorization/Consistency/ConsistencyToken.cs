using System.Globalization;

namespace LumoAuth.Authorization.Consistency;

/// <summary>A consistency token carries the tenant's revision after a write (opaque to callers).</summary>
public static class ConsistencyToken
{
    private const string Prefix = "zk_";

    public static string For(long revision) => Prefix + revision.ToString(CultureInfo.InvariantCulture);

    public static bool TryParse(string? token, out long revision)
    {
        revision = 0;
        return token is not null && token.StartsWith(Prefix, StringComparison.Ordinal)
               && long.TryParse(token.AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out revision)
               && revision >= 0;
    }
}

public enum ConsistencyMode
{
    /// <summary>Answer from the local index as it is, caught up at most <c>StalenessBudget</c> ago.</summary>
    MinimizeLatency,

    /// <summary>Answer from state that includes at least the write that produced the token.</summary>
    AtLeastAsFresh,

    /// <summary>Answer from the latest committed state.</summary>
    FullyConsistent,
}

/// <summary>What a read asked for: a mode and, for <see cref="ConsistencyMode.AtLeastAsFresh"/>, the revision it must include.</summary>
public readonly record struct ConsistencyRequirement(ConsistencyMode Mode, long MinRevision = 0)
{
    public static ConsistencyRequirement Default => new(ConsistencyMode.MinimizeLatency);
}
