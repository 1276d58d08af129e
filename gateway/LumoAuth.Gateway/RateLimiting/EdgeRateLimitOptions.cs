using System.ComponentModel.DataAnnotations;

namespace LumoAuth.Gateway.RateLimiting;

/// <summary>
/// Edge limits per category and caller (section <c>Gateway:RateLimits</c>). Defaults follow the docs'
/// rate-limit pages (inventory C-17); each gateway replica counts on its own, so the effective limit is
/// the figure times the number of replicas.
/// </summary>
public sealed class EdgeRateLimitOptions
{
    public const string SectionName = "Gateway:RateLimits";

    public bool Enabled { get; set; } = true;

    public Dictionary<string, EdgeLimit> Categories { get; set; } = new(StringComparer.Ordinal)
    {
        [EdgeCategories.Token] = new() { PermitLimit = 100, WindowSeconds = 60 },
        [EdgeCategories.Authorize] = new() { PermitLimit = 60, WindowSeconds = 60 },
        [EdgeCategories.Introspection] = new() { PermitLimit = 100, WindowSeconds = 60 },
        [EdgeCategories.Login] = new() { PermitLimit = 10, WindowSeconds = 60 },
        [EdgeCategories.Registration] = new() { PermitLimit = 5, WindowSeconds = 60 },
        [EdgeCategories.Scim] = new() { PermitLimit = 100, WindowSeconds = 60 },
        [EdgeCategories.AdminRead] = new() { PermitLimit = 1000, WindowSeconds = 60 },
        [EdgeCategories.AdminWrite] = new() { PermitLimit = 100, WindowSeconds = 60 },
        [EdgeCategories.Check] = new() { PermitLimit = 10_000, WindowSeconds = 60 },
        [EdgeCategories.Platform] = new() { PermitLimit = 60, WindowSeconds = 60 },
        [EdgeCategories.AuditExport] = new() { PermitLimit = 10, WindowSeconds = 3600 },
    };
}

public sealed class EdgeLimit
{
    [Range(1, 1_000_000)]
    public int PermitLimit { get; set; }

    [Range(1, 86_400)]
    public int WindowSeconds { get; set; }
}

public static class EdgeCategories
{
    public const string Token = "token";
    public const string Authorize = "authorize";
    public const string Introspection = "introspection";
    public const string Login = "login";
    public const string Registration = "registration";
    public const string Scim = "scim";
    public const string AdminRead = "admin-read";
    public const string AdminWrite = "admin-write";
    public const string Check = "check";
    public const string Platform = "platform";
    public const string AuditExport = "audit-export";
}
