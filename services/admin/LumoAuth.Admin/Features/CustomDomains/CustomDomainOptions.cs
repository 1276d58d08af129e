using System.ComponentModel.DataAnnotations;
using LumoAuth.ServiceDefaults.Hosting;

namespace LumoAuth.Admin.Features.CustomDomains;

/// <summary>Section <c>CustomDomains</c>: what a tenant's domain must point at, and which resolvers check it.</summary>
public sealed class CustomDomainOptions
{
    public const string SectionName = "CustomDomains";

    /// <summary>The host a domain's CNAME must name (or whose addresses its A/AAAA records must hold); the public host by default.</summary>
    public string? Target { get; set; }

    /// <summary>Resolvers to ask (<c>ip</c> or <c>ip:port</c>); the machine's own when empty.</summary>
    public List<string> NameServers { get; set; } = [];

    [Range(1, 1000)]
    public int MaxPerTenant { get; set; } = 20;

    [TimeSpanRange("00:00:01", "00:01:00")]
    public TimeSpan LookupTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long after a check the same domain may be checked again (each check is several DNS questions).</summary>
    [TimeSpanRange("00:00:00", "01:00:00")]
    public TimeSpan CheckCooldown { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a verified domain's ownership record is looked for again.</summary>
    [TimeSpanRange("00:01:00", "30.00:00:00")]
    public TimeSpan RecheckInterval { get; set; } = TimeSpan.FromDays(1);

    /// <summary>How often it is looked for while it is missing (each look may end the wait early, when it is back).</summary>
    [TimeSpanRange("00:01:00", "1.00:00:00")]
    public TimeSpan FailingRecheckInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// How long the record may be missing before the domain is no longer served (a DNS change in progress, or an outage of
    /// the zone's servers, should not take a tenant's domain away).
    /// </summary>
    [TimeSpanRange("00:00:00", "90.00:00:00")]
    public TimeSpan UnverifyAfter { get; set; } = TimeSpan.FromDays(3);
}
