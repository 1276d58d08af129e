using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Admin.Security;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Geo;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

public static class RiskLevels
{
    public const string Low = "low";
    public const string Medium = "medium";
    public const string High = "high";
}

/// <param name="Travel">Set when the impossible-travel signal fired: how far from the last sign-in, how long ago.</param>
public sealed record RiskAssessment(int Score, string Level, IReadOnlyList<string> Signals, (int DistanceKm, double Hours)? Travel = null);

/// <summary>
/// Adaptive authentication's risk score for a sign-in: a browser never signed in from (35), a network (/24, IPv6 /48) never
/// signed in from (25), wrong passwords or codes since the last success (10 each, at most 40), and — where the deployment
/// has a GeoIP table — travel from the last successful sign-in faster than 800 km/h within a day (50). A sign-in from a
/// trusted range scores 0. No IP reputation is used (docs/api-decisions.md).
/// </summary>
public sealed class SignInRisk(AdminDbContext db, GeoIpDirectory geoIp, TimeProvider time)
{
    public const int NewDeviceWeight = 35;
    public const int NewNetworkWeight = 25;
    public const int FailedAttemptWeight = 10;
    public const int MaxFailedAttemptsWeight = 40;
    public const int ImpossibleTravelWeight = 50;

    /// <summary>Faster than an airliner; nearer than <see cref="TravelNoiseKm"/> is never counted (GeoIP is approximate).</summary>
    private const double MaxSpeedKmh = 800;
    private const double TravelNoiseKm = 100;
    private static readonly TimeSpan TravelWindow = TimeSpan.FromHours(24);

    /// <summary>Traits kept per user and kind; the oldest beyond this are forgotten.</summary>
    private const int KeptPerKind = 20;

    private const string DeviceKind = "device";
    private const string NetworkKind = "network";

    public async Task<RiskAssessment> AssessAsync(AdaptiveAuthPolicy policy, User user, AuthenticateRequest request, CancellationToken cancellationToken)
    {
        if (IsTrusted(policy, request.IpAddress))
        {
            return new RiskAssessment(0, RiskLevels.Low, ["trusted_ip"]);
        }

        var known = await db.SignInTraits.IgnoreQueryFilters().AsNoTracking().Where(t => t.UserId == user.Id)
            .Select(t => new { t.Kind, t.ValueHash }).ToListAsync(cancellationToken);
        bool Knows(string kind, byte[]? hash) => hash is not null && known.Any(t => t.Kind == kind && t.ValueHash.AsSpan().SequenceEqual(hash));

        var signals = new List<string>();
        var score = 0;
        if (!Knows(DeviceKind, HashOf(user.TenantId, DeviceKind, request.DeviceId)))
        {
            score += NewDeviceWeight;
            signals.Add("new_device");
        }

        if (!Knows(NetworkKind, HashOf(user.TenantId, NetworkKind, NetworkOf(request.IpAddress))))
        {
            score += NewNetworkWeight;
            signals.Add("new_network");
        }

        if (user.FailedLoginCount > 0)
        {
            score += Math.Min(MaxFailedAttemptsWeight, FailedAttemptWeight * user.FailedLoginCount);
            signals.Add("failed_attempts");
        }

        var travel = await ImpossibleTravelAsync(user, request.IpAddress, cancellationToken);
        if (travel is not null)
        {
            score += ImpossibleTravelWeight;
            signals.Add("impossible_travel");
        }

        score = Math.Min(100, score);
        var level = score > policy.HighRiskThreshold ? RiskLevels.High : score > policy.LowRiskThreshold ? RiskLevels.Medium : RiskLevels.Low;
        return new RiskAssessment(score, level, signals, travel);
    }

    private async Task<(int DistanceKm, double Hours)?> ImpossibleTravelAsync(User user, string? ipAddress, CancellationToken cancellationToken)
    {
        if (geoIp.Locate(ipAddress) is not { } here)
        {
            return null;
        }

        var last = await db.SignInPlaces.IgnoreQueryFilters().AsNoTracking().FirstOrDefaultAsync(p => p.UserId == user.Id, cancellationToken);
        var since = time.GetUtcNow() - last?.At;
        if (last is null || since > TravelWindow)
        {
            return null;
        }

        var km = GeoIpDirectory.DistanceKm(new GeoPoint(last.Latitude, last.Longitude), here);
        // A minute at least, so two sign-ins in the same second do not divide by zero.
        var hours = Math.Max(since!.Value.TotalHours, 1.0 / 60);
        return km > TravelNoiseKm && km / hours > MaxSpeedKmh ? ((int)Math.Round(km), Math.Round(hours, 2)) : null;
    }

    /// <summary>Records the browser, network and place of a successful sign-in, keeping the newest per kind.</summary>
    public async Task RememberAsync(User user, AuthenticateRequest request, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (geoIp.Locate(request.IpAddress) is { } here)
        {
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO sign_in_places ("UserId", "TenantId", "Latitude", "Longitude", "At") VALUES ({user.Id}, {user.TenantId}, {here.Latitude}, {here.Longitude}, {now})
                ON CONFLICT ("UserId") DO UPDATE SET "Latitude" = excluded."Latitude", "Longitude" = excluded."Longitude", "At" = excluded."At"
                """, cancellationToken);
        }

        foreach (var (kind, hash) in new[]
                 {
                     (DeviceKind, HashOf(user.TenantId, DeviceKind, request.DeviceId)),
                     (NetworkKind, HashOf(user.TenantId, NetworkKind, NetworkOf(request.IpAddress))),
                 })
        {
            if (hash is null)
            {
                continue;
            }

            await db.Database.ExecuteSqlInterpolatedAsync($"""
                INSERT INTO sign_in_traits ("Id", "TenantId", "UserId", "Kind", "ValueHash", "LastSeenAt")
                VALUES ({Guid.CreateVersion7()}, {user.TenantId}, {user.Id}, {kind}, {hash}, {now})
                ON CONFLICT ("UserId", "Kind", "ValueHash") DO UPDATE SET "LastSeenAt" = excluded."LastSeenAt"
                """, cancellationToken);
            await db.Database.ExecuteSqlInterpolatedAsync($"""
                DELETE FROM sign_in_traits WHERE "UserId" = {user.Id} AND "Kind" = {kind} AND "Id" NOT IN (
                    SELECT "Id" FROM sign_in_traits WHERE "UserId" = {user.Id} AND "Kind" = {kind} ORDER BY "LastSeenAt" DESC LIMIT {KeptPerKind})
                """, cancellationToken);
        }
    }

    private static bool IsTrusted(AdaptiveAuthPolicy policy, string? ipAddress) =>
        IPAddress.TryParse(ipAddress, out var address)
        && policy.TrustedIpRanges.Any(range => IPNetwork.TryParse(range, out var network) && network.Contains(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address));

    /// <summary>The network a sign-in came from: its /24 (IPv4) or /48 (IPv6).</summary>
    public static string? NetworkOf(string? ipAddress)
    {
        if (!IPAddress.TryParse(ipAddress, out var address))
        {
            return null;
        }

        address = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        var prefix = address.AddressFamily == AddressFamily.InterNetwork ? 24 : 48;
        return new IPNetwork(Mask(address, prefix), prefix).ToString();
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        var bytes = address.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }

    private static byte[]? HashOf(Guid tenantId, string kind, string? value) =>
        string.IsNullOrEmpty(value) || value.Length > 200 ? null : SHA256.HashData(Encoding.UTF8.GetBytes($"{tenantId:N}:{kind}:{value}"));
}
