namespace LumoAuth.Contracts;

/// <summary>
/// Base of every integration event. Events carry ids and facts, never secrets, and are only ever
/// added to (MassTransit routes by full type name, so renaming breaks consumers).
/// </summary>
public abstract record IntegrationEvent
{
    /// <summary>The tenant the fact belongs to; null only for platform-level facts.</summary>
    public Guid? TenantId { get; init; }

    public DateTimeOffset OccurredAt { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>Who caused it, when known (user, API key, client, agent or the system).</summary>
    public EventActor? Actor { get; init; }

    public string? IpAddress { get; init; }

    public string? UserAgent { get; init; }

    public string? CorrelationId { get; init; }

    /// <summary>
    /// The W3C <c>traceparent</c> of the work that raised it: the outbox publishes the event later, from a background
    /// loop, and continues that trace, so a request and what its events cause form one trace.
    /// </summary>
    public string? TraceParent { get; init; }
}

/// <summary>
/// A message carrying many events of one kind (high-rate facts). Consumers handle each item as an event of its own;
/// the batch itself is not an event anyone subscribes to.
/// </summary>
public interface IBatchedEvent
{
    IEnumerable<IntegrationEvent> Items { get; }
}

/// <summary>
/// The actor behind an event. <see cref="Type"/> is one of <see cref="ActorTypes"/>. <see cref="ActorChain"/>: when the
/// request carried a delegated token (RFC 8693 <c>act</c>), the actors acting for this principal, in the order the
/// delegation was made (the one that presented the token last).
/// </summary>
public sealed record EventActor(string Type, string Id, string? Email = null, IReadOnlyList<string>? ActorChain = null);

public static class ActorTypes
{
    public const string User = "user";
    public const string ApiKey = "api_key";
    public const string Client = "client";
    public const string Agent = "agent";
    public const string System = "system";
    public const string Platform = "platform";
}

/// <summary>
/// How an audit log entry's id is written: <c>log_</c> and the id of the event it records (32 hex digits). A service that
/// answers with the id of the entry its event will make (the Ask API's <c>audit_id</c>) writes it the same way.
/// </summary>
public static class AuditLogIds
{
    public const string Prefix = "log_";

    public static string Format(Guid eventId) => PrefixedIds.Format(Prefix, eventId);

    public static bool TryParse(string value, out Guid eventId) => PrefixedIds.TryParse(Prefix, value, out eventId);
}

/// <summary>Public ids that name their kind: a prefix (<c>log_</c>, <c>task_</c>, <c>mcp_</c>…) and a row's id as 32 hex digits.</summary>
public static class PrefixedIds
{
    public static string Format(string prefix, Guid id) => prefix + id.ToString("N");

    public static bool TryParse(string prefix, string? value, out Guid id)
    {
        id = Guid.Empty;
        return value is not null && value.StartsWith(prefix, StringComparison.Ordinal) && Guid.TryParseExact(value.AsSpan(prefix.Length), "N", out id);
    }
}
