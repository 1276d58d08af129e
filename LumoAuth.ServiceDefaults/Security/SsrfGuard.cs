using System.Net;
using System.Net.Sockets;

namespace LumoAuth.ServiceDefaults.Security;

/// <summary>
/// Keeps calls to URLs that tenants configure (webhooks, back-channel logout) away from the deployment's own network:
/// loopback, private, link-local (cloud metadata), CGNAT, multicast and reserved ranges are refused. Checked on the
/// URL when it is configured and again on the address actually connected to (<see cref="Handler"/>), so DNS answers
/// that change later (rebinding) cannot sneak past.
/// </summary>
public static class SsrfGuard
{
    private static readonly (IPAddress Network, int Prefix)[] ForbiddenV4 =
    [
        (IPAddress.Parse("0.0.0.0"), 8), (IPAddress.Parse("10.0.0.0"), 8), (IPAddress.Parse("100.64.0.0"), 10),
        (IPAddress.Parse("127.0.0.0"), 8), (IPAddress.Parse("169.254.0.0"), 16), (IPAddress.Parse("172.16.0.0"), 12),
        (IPAddress.Parse("192.0.0.0"), 24), (IPAddress.Parse("192.0.2.0"), 24), (IPAddress.Parse("192.168.0.0"), 16),
        (IPAddress.Parse("198.18.0.0"), 15), (IPAddress.Parse("198.51.100.0"), 24), (IPAddress.Parse("203.0.113.0"), 24),
        (IPAddress.Parse("224.0.0.0"), 4), (IPAddress.Parse("240.0.0.0"), 4),
    ];

    private static readonly (IPAddress Network, int Prefix)[] ForbiddenV6 =
    [
        (IPAddress.Parse("::"), 128), (IPAddress.Parse("::1"), 128), (IPAddress.Parse("fc00::"), 7), (IPAddress.Parse("fe80::"), 10),
        (IPAddress.Parse("fec0::"), 10), (IPAddress.Parse("ff00::"), 8), (IPAddress.Parse("2001:db8::"), 32), (IPAddress.Parse("100::"), 64),
    ];

    private static readonly IPAddress Nat64 = IPAddress.Parse("64:ff9b::");
    private static readonly IPAddress LocalNat64 = IPAddress.Parse("64:ff9b:1::");
    private static readonly IPAddress IPv4Compatible = IPAddress.Parse("::");
    private static readonly IPAddress SixToFour = IPAddress.Parse("2002::");

    /// <summary>
    /// A handler that connects only to permitted addresses, follows no redirects and uses no proxy (a proxy would be
    /// the address connected to, and the guard would vet the proxy instead of the target).
    /// </summary>
    public static SocketsHttpHandler Handler(bool allowPrivateTargets) => new()
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
        ConnectCallback = async (context, cancellationToken) =>
        {
            var addresses = await Dns.GetHostAddressesAsync(context.DnsEndPoint.Host, cancellationToken);
            var allowed = addresses.Where(a => allowPrivateTargets || !IsForbidden(a)).ToArray();
            if (allowed.Length == 0)
            {
                throw new HttpRequestException($"Target {context.DnsEndPoint.Host} resolves only to forbidden addresses");
            }

            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    public static bool IsForbidden(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        // Forms that embed an IPv4 address, which is the one reached: NAT64 (64:ff9b::/96, the local-use 64:ff9b:1::/48),
        // IPv4-compatible (::/96) in its last four bytes, 6to4 (2002::/16) in bytes 2 to 5.
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var bytes = address.GetAddressBytes();
            if (InNetwork(address, Nat64, 96) || InNetwork(address, LocalNat64, 48)
                || (InNetwork(address, IPv4Compatible, 96) && !address.Equals(IPAddress.IPv6Any) && !address.Equals(IPAddress.IPv6Loopback)))
            {
                address = new IPAddress(bytes[12..]);
            }
            else if (InNetwork(address, SixToFour, 16))
            {
                address = new IPAddress(bytes[2..6]);
            }
        }

        var ranges = address.AddressFamily == AddressFamily.InterNetwork ? ForbiddenV4 : ForbiddenV6;
        return ranges.Any(r => InNetwork(address, r.Network, r.Prefix));
    }

    /// <summary>Checks a target URL as configured: scheme, credentials, and a literal address's range.</summary>
    public static string? ProblemWith(string? url, bool allowPrivateTargets)
    {
        if (string.IsNullOrWhiteSpace(url) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return "must be an absolute URL";
        }

        if (url.Length > 2048)
        {
            return "must be at most 2048 characters";
        }

        if (uri.Scheme != Uri.UriSchemeHttps && !(allowPrivateTargets && uri.Scheme == Uri.UriSchemeHttp))
        {
            return "must use https";
        }

        if (uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
        {
            return "must not contain credentials or a fragment";
        }

        if (allowPrivateTargets)
        {
            return null;
        }

        var host = uri.IdnHost;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || host.EndsWith(".internal", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".local", StringComparison.OrdinalIgnoreCase))
        {
            return "must not target a local or internal host";
        }

        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal))
        {
            return IsForbidden(literal) ? "must not target a loopback, private or link-local address" : null;
        }

        // A name without a dot is resolved within the deployment (a service, a search domain), never on the internet.
        return host.TrimEnd('.').Contains('.', StringComparison.Ordinal) ? null : "must name its host by a full domain name";
    }

    private static bool InNetwork(IPAddress address, IPAddress network, int prefix)
    {
        if (address.AddressFamily != network.AddressFamily)
        {
            return false;
        }

        var a = address.GetAddressBytes();
        var n = network.GetAddressBytes();
        var full = prefix / 8;
        for (var i = 0; i < full; i++)
        {
            if (a[i] != n[i])
            {
                return false;
            }
        }

        var rest = prefix % 8;
        return rest == 0 || (a[full] & (0xFF << (8 - rest))) == (n[full] & (0xFF << (8 - rest)));
    }
}
