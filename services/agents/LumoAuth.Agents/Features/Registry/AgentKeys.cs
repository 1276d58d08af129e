using System.Security.Cryptography;
using System.Text;

namespace LumoAuth.Agents.Features.Registry;

/// <summary>Agent keys: <c>sk_agent_live_</c> + 32 random bytes (base64url). Only the SHA-256 is stored.</summary>
public static class AgentKeys
{
    public const string Prefix = "sk_agent_live_";

    /// <summary>Longer than any key we mint; anything longer is refused before it is hashed.</summary>
    public const int MaxLength = 128;

    public static string NewKey() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static byte[] HashOf(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Enough of the key to tell it apart in a list, never enough to guess it.</summary>
    public static string DisplayPrefix(string key) => key[..(Prefix.Length + 4)];

    /// <summary>The key a request carries as <c>Authorization: Bearer sk_agent_…</c>, or null.</summary>
    public static string? Read(Microsoft.AspNetCore.Http.HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString().AsSpan().Trim();
        if (!authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var bearer = authorization["Bearer ".Length..].Trim();
        return bearer.StartsWith("sk_agent_", StringComparison.Ordinal) ? bearer.ToString() : null;
    }
}
