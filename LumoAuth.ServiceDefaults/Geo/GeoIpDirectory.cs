using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LumoAuth.ServiceDefaults.Geo;

/// <summary>Where client addresses are located (section <c>GeoIp</c>); no files, no locations.</summary>
public sealed class GeoIpOptions
{
    public const string SectionName = "GeoIp";

    /// <summary>
    /// CSV files of network blocks, as MaxMind's GeoLite2/GeoIP2 City or Country "Blocks" files (columns <c>network</c>
    /// and, when present, <c>geoname_id</c>, <c>registered_country_geoname_id</c>, <c>latitude</c>, <c>longitude</c>;
    /// others ignored); IPv4 and IPv6 files may both be named.
    /// </summary>
    public List<string> BlocksCsvPaths { get; set; } = [];

    /// <summary>
    /// CSV files naming the blocks' places, as MaxMind's "Locations" files (columns <c>geoname_id</c>,
    /// <c>country_iso_code</c>, <c>city_name</c>); without them addresses have coordinates but no city or country.
    /// </summary>
    public List<string> LocationsCsvPaths { get; set; } = [];
}

public readonly record struct GeoPoint(double Latitude, double Longitude);

/// <summary>A place as sessions show it: the city's name and the country's ISO 3166 code, either possibly unknown.</summary>
public sealed record GeoPlace(string? City, string? Country);

/// <summary>
/// An in-memory table of network blocks, their coordinates and places, loaded once at start: adaptive authentication's
/// impossible-travel signal uses the coordinates, the session lists the places. Lookups are a binary search over
/// ranges in the IPv6 space (IPv4 mapped into it).
/// </summary>
public sealed partial class GeoIpDirectory
{
    private readonly (UInt128 First, UInt128 Last, GeoPoint? Point, GeoPlace? Place)[] _ranges;

    public GeoIpDirectory(IOptions<GeoIpOptions> options, ILogger<GeoIpDirectory> logger)
    {
        var places = new Dictionary<string, GeoPlace>(StringComparer.Ordinal);
        foreach (var path in options.Value.LocationsCsvPaths)
        {
            var before = places.Count;
            LoadPlaces(path, places);
            LogLoaded(logger, places.Count - before, "places", path);
        }

        var ranges = new List<(UInt128, UInt128, GeoPoint?, GeoPlace?)>();
        foreach (var path in options.Value.BlocksCsvPaths)
        {
            var before = ranges.Count;
            LoadBlocks(path, places, ranges);
            LogLoaded(logger, ranges.Count - before, "network blocks", path);
        }

        _ranges = [.. ranges.OrderBy(r => r.Item1)];
    }

    public bool IsEnabled => _ranges.Length > 0;

    /// <summary>The address's coordinates; null when unknown or not an address.</summary>
    public GeoPoint? Locate(string? ipAddress) => Find(ipAddress) is { } i ? _ranges[i].Point : null;

    /// <summary>The address's city and country; null when unknown or not an address.</summary>
    public GeoPlace? Place(string? ipAddress) => Find(ipAddress) is { } i ? _ranges[i].Place : null;

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

    private int? Find(string? ipAddress)
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

        return found >= 0 && value <= _ranges[found].Last ? found : null;
    }

    private static void LoadPlaces(string path, Dictionary<string, GeoPlace> places)
    {
        using var reader = new StreamReader(path);
        var header = SplitCsv(reader.ReadLine() ?? string.Empty);
        var (id, country, city) = (Array.IndexOf(header, "geoname_id"), Array.IndexOf(header, "country_iso_code"), Array.IndexOf(header, "city_name"));
        if (id < 0 || country < 0)
        {
            throw new InvalidDataException($"{path}: expected the columns geoname_id and country_iso_code");
        }

        while (reader.ReadLine() is { } line)
        {
            var fields = SplitCsv(line);
            if (fields.Length > Math.Max(id, Math.Max(country, city)) && fields[id].Length > 0)
            {
                places[fields[id]] = new GeoPlace(city >= 0 ? NullIfEmpty(fields[city]) : null, NullIfEmpty(fields[country]));
            }
        }
    }

    private static void LoadBlocks(string path, Dictionary<string, GeoPlace> places, List<(UInt128, UInt128, GeoPoint?, GeoPlace?)> ranges)
    {
        using var reader = new StreamReader(path);
        var header = SplitCsv(reader.ReadLine() ?? string.Empty);
        int Column(string name) => Array.IndexOf(header, name);
        var (network, latitude, longitude, place, country) =
            (Column("network"), Column("latitude"), Column("longitude"), Column("geoname_id"), Column("registered_country_geoname_id"));
        if (network < 0)
        {
            throw new InvalidDataException($"{path}: expected the column network");
        }

        while (reader.ReadLine() is { } line)
        {
            var fields = SplitCsv(line);
            string Field(int column) => column >= 0 && column < fields.Length ? fields[column] : string.Empty;
            if (!IPNetwork.TryParse(Field(network), out var block))
            {
                continue;
            }

            GeoPoint? point = double.TryParse(Field(latitude), NumberStyles.Float, CultureInfo.InvariantCulture, out var lat)
                              && double.TryParse(Field(longitude), NumberStyles.Float, CultureInfo.InvariantCulture, out var lon)
                ? new GeoPoint(lat, lon)
                : null;
            // A block with no place of its own is still in the country it is registered to (whose row names no city).
            var named = places.GetValueOrDefault(Field(place)) ?? places.GetValueOrDefault(Field(country));
            if (point is null && named is null)
            {
                continue;
            }

            var first = ToNumber(block.BaseAddress);
            var hostBits = 128 - (block.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? block.PrefixLength + 96 : block.PrefixLength);
            var last = hostBits >= 128 ? UInt128.MaxValue : first | ((UInt128.One << hostBits) - 1);
            ranges.Add((first, last, point, named));
        }
    }

    /// <summary>One CSV line's fields (RFC 4180 quoting: place names may hold commas).</summary>
    private static string[] SplitCsv(string line)
    {
        if (!line.Contains('"', StringComparison.Ordinal))
        {
            return line.Split(',');
        }

        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted && c == '"' && i + 1 < line.Length && line[i + 1] == '"')
            {
                field.Append('"');
                i++;
            }
            else if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        fields.Add(field.ToString());
        return [.. fields];
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

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

    [LoggerMessage(Level = LogLevel.Information, Message = "GeoIP: {Count} {What} loaded from {Path}")]
    private static partial void LogLoaded(ILogger logger, int count, string what, string path);
}

public static class GeoIpServiceCollectionExtensions
{
    /// <summary>The GeoIP table from the <c>GeoIp</c> section (empty when no file is named).</summary>
    public static IServiceCollection AddGeoIp(this IServiceCollection services)
    {
        services.AddOptions<GeoIpOptions>().BindConfiguration(GeoIpOptions.SectionName);
        services.AddSingleton<GeoIpDirectory>();
        services.AddHostedService<GeoIpLoader>();
        return services;
    }

    /// <summary>Loads the table while the service starts, not in the first request that needs it (a full table takes seconds).</summary>
    private sealed class GeoIpLoader(IServiceProvider services) : Microsoft.Extensions.Hosting.IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            services.GetRequiredService<GeoIpDirectory>();
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
