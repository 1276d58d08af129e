namespace LumoAuth.Admin.Data;

public sealed class Tenant
{
    public Guid Id { get; set; }

    public string Slug { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public string Status { get; set; } = Contracts.Internal.TenantStatuses.Active;

    public string Region { get; set; } = "us";

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class User
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Email { get; set; } = string.Empty;

    /// <summary>Lower-cased email: uniqueness is per tenant and case-insensitive.</summary>
    public string NormalizedEmail { get; set; } = string.Empty;

    public string? Username { get; set; }

    public string? Name { get; set; }

    public string? PasswordHash { get; set; }

    public bool EmailVerified { get; set; }

    public bool IsActive { get; set; } = true;

    public bool Blocked { get; set; }

    public bool IsAdmin { get; set; }

    public int LoginCount { get; set; }

    public DateTimeOffset? LastLoginAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class ApiKey
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public string Name { get; set; } = string.Empty;

    /// <summary>The visible start of the key (<c>lmk_ab12cd34</c>), so people can tell keys apart.</summary>
    public string Prefix { get; set; } = string.Empty;

    /// <summary>SHA-256 of the whole key; keys are high-entropy, so one hash suffices (DESIGN §8).</summary>
    public byte[] KeyHash { get; set; } = [];

    public List<string> Scopes { get; set; } = [];

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>An append-only audit entry, one per integration event (the event id makes it idempotent).</summary>
public sealed class AuditLogEntry
{
    public Guid Id { get; set; }

    public Guid TenantId { get; set; }

    public Guid EventId { get; set; }

    public string Action { get; set; } = string.Empty;

    public string Category { get; set; } = string.Empty;

    public string ActorType { get; set; } = string.Empty;

    public string? ActorId { get; set; }

    public string? ActorEmail { get; set; }

    public string? TargetType { get; set; }

    public string? TargetId { get; set; }

    public string Outcome { get; set; } = "success";

    public string? IpAddress { get; set; }

    public string? UserAgent { get; set; }

    public string? CorrelationId { get; set; }

    public string Metadata { get; set; } = "{}";

    public DateTimeOffset Timestamp { get; set; }
}
