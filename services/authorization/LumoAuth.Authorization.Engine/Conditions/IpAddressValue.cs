using System.Net;
using System.Net.Sockets;

namespace LumoAuth.Authorization.Engine.Conditions;

/// <summary>OpenFGA's <c>ipaddress</c> CEL type: <c>ipaddress("10.0.0.1")</c> and <c>addr.in_cidr("10.0.0.0/8")</c>.</summary>
public sealed class IpAddressValue(IPAddress address) : IEquatable<IpAddressValue>
{
    public IPAddress Address { get; } = address;

    public static bool TryParse(string text, out IpAddressValue? value)
    {
        value = IPAddress.TryParse(text, out var address) && !text.Contains('/', StringComparison.Ordinal) ? new IpAddressValue(address) : null;
        return value is not null;
    }

    /// <summary>Whether the address lies in <paramref name="cidr"/>; a malformed CIDR is an error, not a "no".</summary>
    public bool InCidr(string cidr)
    {
        var slash = cidr.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !IPAddress.TryParse(cidr[..slash], out var network)
            || !int.TryParse(cidr[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix))
        {
            throw new FormatException($"'{cidr}' is not a CIDR block.");
        }

        var candidate = Address.IsIPv4MappedToIPv6 ? Address.MapToIPv4() : Address;
        if (network.AddressFamily != candidate.AddressFamily)
        {
            return false;
        }

        var maxPrefix = network.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (prefix > maxPrefix)
        {
            throw new FormatException($"'{cidr}' has a prefix longer than {maxPrefix} bits.");
        }

        return new IPNetwork(MaskTo(network, prefix), prefix).Contains(candidate);
    }

    public bool Equals(IpAddressValue? other) => other is not null && Address.Equals(other.Address);

    public override bool Equals(object? obj) => Equals(obj as IpAddressValue);

    public override int GetHashCode() => Address.GetHashCode();

    public override string ToString() => Address.ToString();

    // IPNetwork insists on a network address without host bits; CIDR text often carries them.
    private static IPAddress MaskTo(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var bit = prefix; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return new IPAddress(bytes);
    }
}
