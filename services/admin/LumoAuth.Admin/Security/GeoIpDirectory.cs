using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Security;

/// <summary>Where client addresses are located (section <c>GeoIp</c>); no files, no locations.</summary>
public sealed class GeoIpOptions
{
    public const string SectionName = "GeoIp";

    /// <summary>
    /// CSV files of network blocks with coordinates, as MaxMind's GeoLite2/GeoIP2 City "Blocks" files (columns
    /// <c>network</c>, <c>latitude</c>, <c>longitude</c>, others ignored); IPv4 and IPv6 files may both be named.
    /// </summary>
    public List<string> BlocksCsvPaths { get; set; } = [];
}

public readonly record struct GeoPoint(double Latitude, double Longitude);

/// <summary>
/// An in-memory table of network blocks and their coordinates, loaded once at start, for adaptive authentication's
/// impossible-travel signal. Lookups are a binary search over ranges in the IPv6 space (IPv4 mapped into it).
/// </summary>
public sealed partial class GeoIpDirectory
{
    private readonly (UInt128 First, UInt128 Last, GeoPoint Point)[] _ranges;

    public GeoIpDirectory(IOptions<GeoIpOptions> options, ILogger<GeoIpDirectory> logger)
    {
        var ranges = new List<(UInt128, UInt128, GeoPoint)>();
        foreach (var path in options.Value.BlocksCsvPaths)
        {
            var before = ranges.Count;
            Load(path, ranges);
            LogLoaded(logger, ranges.Count - before, path);
        }

        _ranges = [.. ranges.OrderBy(r => r.Item1)];
    }

    public bool IsEnabled => _ranges.Length > 0;

    public GeoPoint? Locate(string? ipAddress)
    {
        if (_ranges.Length == 0 || !IPAddress.TryParse(ipAddress, out var address))
        {
            return null;
        }

        var value = ToNumber(address);
        int low = 0, high = _ranges.Length - 1, found = -1;
        while (low <= high)
        {
            var middle = low + ((high - low) / 2);
            if (_ranges[middle].First <= value)
            {
                found = middle;
                low = middle + 1;
            }
            else
            {
                high = middle - 1;
            }
        }

        return found >= 0 && value <= _ranges[found].Last ? _ranges[found].Point : null;
    }

    /// <summary>Great-circle distance in kilometres (haversine, mean Earth radius).</summary>
    public static double DistanceKm(GeoPoint a, GeoPoint b)
    {
        static double Radians(double degrees) => degrees * Math.PI / 180;
        var dLat = Radians(b.Latitude - a.Latitude);
        var dLon = Radians(b.Longitude - a.Longitude);
        var h = (Math.Sin(dLat / 2) * Math.Sin(dLat / 2))
                + (Math.Cos(Radians(a.Latitude)) * Math.Cos(Radians(b.Latitude)) * Math.Sin(dLon / 2) * Math.Sin(dLon / 2));
        return 2 * 6371.0 * Math.Asin(Math.Min(1, Math.Sqrt(h)));
    }

    private static void Load(string path, List<(UInt128, UInt128, GeoPoint)> ranges)
    {
        using var reader = new StreamReader(path);
        var header = (reader.ReadLine() ?? string.Empty).Split(',');
        var (network, latitude, longitude) = (Array.IndexOf(header, "network"), Array.IndexOf(header, "latitude"), Array.IndexOf(header, "longitude"));
        if (network < 0 || latitude < 0 || longitude < 0)
        {
            throw new InvalidDataException($"{path}: expected the columns network, latitude and longitude");
        }

        while (reader.ReadLine() is { } line)
        {
            var fields = line.Split(',');
            if (fields.Length <= Math.Max(network, Math.Max(latitude, longitude))
                || !IPNetwork.TryParse(fields[network], out var block)
                || !double.TryParse(fields[latitude], NumberStyles.Float, CultureInfo.InvariantCulture, out var lat)
                || !double.TryParse(fields[longitude], NumberStyles.Float, CultureInfo.InvariantCulture, out var lon))
            {
                continue;
            }

            var first = ToNumber(block.BaseAddress);
            var hostBits = 128 - (block.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? block.PrefixLength + 96 : block.PrefixLength);
            var last = hostBits >= 128 ? UInt128.MaxValue : first | ((UInt128.One << hostBits) - 1);
            ranges.Add((first, last, new GeoPoint(lat, lon)));
        }
    }

    private static UInt128 ToNumber(IPAddress address)
    {
        var bytes = address.MapToIPv6().GetAddressBytes();
        UInt128 value = 0;
        foreach (var b in bytes)
        {
            value = (value << 8) | b;
        }

        return value;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "GeoIP: {Count} network blocks loaded from {Path}")]
    private static partial void LogLoaded(ILogger logger, int count, string path);
}
