using System.Globalization;
using System.Security.Cryptography;

namespace LumoAuth.Authorization.Consistency;

/// <summary>
/// A consistency token carries a store's revision after a write (opaque to callers), and names that store: the
/// tenant's relationship store and its RBAC store count revisions apart, so a token of one means nothing to the other
/// (nor to another tenant's). Tokens issued before stores were named (<c>zk_{revision}</c>) are still read.
/// </summary>
public static class ConsistencyToken
{
    private const string Prefix = "zk_";
    private const int TagLength = 8;

    // Every check's answer carries a token: each store's tag is hashed once (two stores per tenant).
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, string> Tags = new();
    private static readonly System.Buffers.SearchValues<char> LowerHex = System.Buffers.SearchValues.Create("0123456789abcdef");

    public static string For(Guid store, long revision) =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix}{Tag(store)}_{revision}");

    /// <summary>
    /// The short name of a store in its tokens: from a hash of its id, since ids are time-ordered (UUIDv7) and their first
    /// digits would name every tenant created in the same minute alike.
    /// </summary>
    public static string Tag(Guid store) => Tags.GetOrAdd(store, static id =>
    {
        Span<byte> bytes = stackalloc byte[16];
        Span<byte> hash = stackalloc byte[32];
        id.TryWriteBytes(bytes);
        SHA256.HashData(bytes, hash);
        return Convert.ToHexStringLower(hash[..(TagLength / 2)]);
    });

    /// <param name="store">The store's tag, or null for a token from before tags.</param>
    public static bool TryParse(string? token, out string? store, out long revision)
    {
        store = null;
        revision = 0;
        if (token is null || !token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = token.AsSpan(Prefix.Length);
        if (rest.Length > TagLength && rest[TagLength] == '_')
        {
            if (rest[..TagLength].ContainsAnyExcept(LowerHex))
            {
                return false;
            }

            store = rest[..TagLength].ToString();
            rest = rest[(TagLength + 1)..];
        }

        return long.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out revision) && revision >= 0;
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

/// <summary>
/// What a read asked for: a mode and, for <see cref="ConsistencyMode.AtLeastAsFresh"/>, the revision it must include and
/// the tag of the store that revision is of (null for a token from before tags).
/// </summary>
public readonly record struct ConsistencyRequirement(ConsistencyMode Mode, long MinRevision = 0, string? Store = null)
{
    public static ConsistencyRequirement Default => new(ConsistencyMode.MinimizeLatency);
}
