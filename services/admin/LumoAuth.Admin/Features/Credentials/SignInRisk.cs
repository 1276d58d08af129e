using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Settings;
using LumoAuth.Contracts.Internal;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Credentials;

public static class RiskLevels
{
    public const string Low = "low";
    public const string Medium = "medium";
    public const string High = "high";
}

public sealed record RiskAssessment(int Score, string Level, IReadOnlyList<string> Signals);

/// <summary>
/// Adaptive authentication's risk score for a sign-in, from what can be known without outside data: a browser never
/// signed in from (35), a network (/24, IPv6 /48) never signed in from (25), and wrong passwords or codes since the last
/// success (10 each, at most 40). A sign-in from a trusted range scores 0. No geolocation or IP reputation is used:
/// there is no such data here (docs/api-decisions.md).
/// </summary>
public sealed class SignInRisk(AdminDbContext db)
{
    public const int NewDeviceWeight = 35;
    public const int NewNetworkWeight = 25;
    public const int FailedAttemptWeight = 10;
    public const int MaxFailedAttemptsWeight = 40;

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

        var level = score > policy.HighRiskThreshold ? RiskLevels.High : score > policy.LowRiskThreshold ? RiskLevels.Medium : RiskLevels.Low;
        return new RiskAssessment(score, level, signals);
    }

    /// <summary>Records the browser and network of a successful sign-in (the caller saves), keeping the newest per kind.</summary>
    public async Task RememberAsync(User user, AuthenticateRequest request, DateTimeOffset now, CancellationToken cancellationToken)
    {
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
