using System.Net;

namespace LumoAuth.Agents.Features.Registry;

/// <summary>An agent's <c>allowedIps</c>: single addresses and CIDR ranges, IPv4 or IPv6.</summary>
public static class IpAllowList
{
    public static bool IsValidEntry(string? entry) =>
        entry is { Length: > 0 and <= 64 } && (IPAddress.TryParse(entry, out _) || IPNetwork.TryParse(entry, out _));

    /// <summary>One spelling per entry (a range's base address masked, an address as a one-address range).</summary>
    public static string Normalize(string entry) =>
        IPAddress.TryParse(entry, out var address) ? address.ToString() : IPNetwork.Parse(entry).ToString();

    /// <summary>
    /// Whether <paramref name="caller"/> is among <paramref name="allowed"/>. An unknown address is never allowed, and an
    /// IPv4 caller seen as IPv6 (::ffff:a.b.c.d) is compared as IPv4.
    /// </summary>
    public static bool Allows(IReadOnlyList<string> allowed, IPAddress? caller)
    {
        if (caller is null)
        {
            return false;
        }

        if (caller.IsIPv4MappedToIPv6)
        {
            caller = caller.MapToIPv4();
        }

        foreach (var entry in allowed)
        {
            if (IPAddress.TryParse(entry, out var address) ? address.Equals(caller) : IPNetwork.TryParse(entry, out var network) && network.Contains(caller))
            {
                return true;
            }
        }

        return false;
    }
}
