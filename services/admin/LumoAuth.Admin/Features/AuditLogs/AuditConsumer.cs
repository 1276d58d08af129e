using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Tokens;
using LumoAuth.Messaging.Consumers;
using LumoAuth.Messaging.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.AuditLogs;

/// <summary>
/// Turns every integration event of every service into an audit entry (each item of a batched message into an
/// entry of its own). One generic consumer per contract type, all on one queue; an entry's key is its event's id,
/// so a redelivery is a no-op.
/// </summary>
public sealed class AuditConsumer<TEvent>(AdminDbContext db) : IConsumer<TEvent>
    where TEvent : IntegrationEvent
{
    public async Task Consume(ConsumeContext<TEvent> context)
    {
        var entries = BatchedEvents.Expand(context.Message, context.MessageId ?? NewId.NextGuid())
            .Where(e => e.Event.TenantId is not null)
            .Select(e => AuditMapping.ToEntry(e.Event, e.Event.TenantId!.Value, e.EventId))
            .ToList();
        if (entries.Count == 0)
        {
            return;
        }

        // One statement for the whole message. Insert-if-absent keeps the log append-only and the consumer
        // idempotent without a separate inbox row; keyed by the event id, each row maintains two indexes, not three.
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO audit_logs ("Id", "TenantId", "Action", "Category", "ActorType", "ActorId", "ActorEmail", "ActorChain",
                "TargetType", "TargetId", "Outcome", "IpAddress", "UserAgent", "CorrelationId", "Metadata", "Timestamp")
            SELECT id, tenant, action, category, actor_type, actor_id, actor_email, CAST(actor_chain AS jsonb), target_type, target_id, outcome,
                ip, user_agent, correlation, CAST(metadata AS jsonb), at
            FROM unnest({Column(entries, e => e.Id)}, {Column(entries, e => e.TenantId)}, {Column(entries, e => e.Action)},
                {Column(entries, e => e.Category)}, {Column(entries, e => e.ActorType)}, {Column(entries, e => e.ActorId)},
                {Column(entries, e => e.ActorEmail)}, {Column(entries, e => e.ActorChain)}, {Column(entries, e => e.TargetType)}, {Column(entries, e => e.TargetId)},
                {Column(entries, e => e.Outcome)}, {Column(entries, e => e.IpAddress)}, {Column(entries, e => e.UserAgent)},
                {Column(entries, e => e.CorrelationId)}, {Column(entries, e => e.Metadata)}, {Column(entries, e => e.Timestamp)})
                AS rows(id, tenant, action, category, actor_type, actor_id, actor_email, actor_chain, target_type, target_id, outcome,
                    ip, user_agent, correlation, metadata, at)
            ON CONFLICT ("Id") DO NOTHING
            """, context.CancellationToken);
    }

    private static T[] Column<T>(List<AuditLogEntry> entries, Func<AuditLogEntry, T> value) => entries.Select(value).ToArray();
}

public static class AuditMapping
{
    /// <summary>What an entry takes from the event's type, worked out once per type (token batches bring thousands a second).</summary>
    private sealed record Shape(string Action, string Category, string Outcome, (Func<object, object?> Get, string Target)[] Targets, string? FallbackTarget);

    private static readonly ConcurrentDictionary<Type, Shape> Shapes = new();

    /// <summary>The first of these properties with a value names the entry's target.</summary>
    private static readonly (string Property, string Target)[] TargetProperties =
    [
        ("userId", "user"), ("erasedAs", "user"), ("groupId", "group"), ("webhookId", "webhook"), ("invitationId", "invitation"), ("clientId", "client"),
        ("apiKeyId", "api_key"), ("agentId", "agent"), ("roleId", "role"), ("permissionId", "permission"), ("id", "tenant"),
    ];

    public static AuditLogEntry ToEntry(IntegrationEvent @event, Guid tenantId, Guid eventId)
    {
        var shape = Shapes.GetOrAdd(@event.GetType(), ShapeOf);
        var (targetType, targetId) = (shape.FallbackTarget, (string?)null);
        foreach (var (get, target) in shape.Targets)
        {
            var id = get(@event) switch
            {
                string text => text,
                IFormattable scalar => scalar.ToString(null, CultureInfo.InvariantCulture),
                _ => null,
            };
            if (id is not null)
            {
                (targetType, targetId) = (target, id);
                break;
            }
        }

        return new AuditLogEntry
        {
            Id = eventId,
            TenantId = tenantId,
            Action = shape.Action,
            Category = shape.Category,
            // Written by one statement per message, past EF's checks: a value too long for its column would lose the whole batch.
            ActorType = Fit(@event.Actor?.Type, AuditLogEntry.ActorTypeLength) ?? "system",
            ActorId = Fit(@event.Actor?.Id, AuditLogEntry.IdLength),
            ActorEmail = Fit(@event.Actor?.Email, AuditLogEntry.EmailLength),
            ActorChain = @event.Actor?.ActorChain is { Count: > 0 } chain ? System.Text.Json.JsonSerializer.Serialize(chain) : null,
            TargetType = targetType,
            TargetId = Fit(targetId, AuditLogEntry.IdLength),
            Outcome = shape.Outcome,
            IpAddress = Fit(@event.IpAddress, AuditLogEntry.IpAddressLength),
            UserAgent = Fit(@event.UserAgent, AuditLogEntry.UserAgentLength),
            CorrelationId = Fit(@event.CorrelationId, AuditLogEntry.CorrelationIdLength),
            Metadata = EventFacts.ToJson(@event),
            Timestamp = @event.OccurredAt,
        };
    }

    private static string? Fit(string? value, int length) => value is null || value.Length <= length ? value : value[..length];

    private static Shape ShapeOf(Type type)
    {
        var getters = EventFacts.Getters(type);
        return new Shape(
            SnakeCase(type.Name),
            CategoryOf(type),
            // A detected attack (replayed code, PKCE downgrade…) is a request that failed, whatever the event's name.
            type.Name.Contains("Failed", StringComparison.Ordinal) || type.Name.Contains("LockedOut", StringComparison.Ordinal)
                || typeof(SecurityEvent).IsAssignableFrom(type) ? "failure" : "success",
            [.. TargetProperties.Where(t => getters.ContainsKey(t.Property)).Select(t => (getters[t.Property], t.Target))],
            type.Namespace?.Split('.').LastOrDefault()?.ToLowerInvariant());
    }

    /// <summary>Categories of the docs (inventory §6.10) from the contract's bounded context.</summary>
    public static string CategoryOf(Type type) => type.Namespace?.Split('.').LastOrDefault() switch
    {
        // Second factors (enrolled, reset, codes sent) belong with sign-in, as the docs' mfa_verified does.
        "Users" when type.Name.Contains("Login", StringComparison.Ordinal) || type.Name.Contains("Locked", StringComparison.Ordinal)
                     || type.Name.StartsWith("UserMfa", StringComparison.Ordinal)
                     || type.Name.StartsWith("AdaptiveAuth", StringComparison.Ordinal) => "authentication",
        "Users" or "Groups" => "user_management",
        // Policies, attribute definitions and the relationship schema are how access is configured, not decisions about it.
        "Authorization" when type.Name.StartsWith("Abac", StringComparison.Ordinal) || type.Name.StartsWith("Zanzibar", StringComparison.Ordinal) => "configuration",
        "Authorization" => "authorization",
        "Clients" when type.Name.Contains("Token", StringComparison.Ordinal) => "token_management",
        "Tokens" when typeof(SecurityEvent).IsAssignableFrom(type) => "token_management",
        "Tokens" when type.Name.StartsWith("Ciba", StringComparison.Ordinal) => "authentication",
        "Sessions" => "authentication",
        // What an agent asked, was granted or refused are decisions about access; registering one is configuration.
        "Agents" when type.Name.StartsWith("AgentAction", StringComparison.Ordinal) || type.Name.Contains("Budget", StringComparison.Ordinal)
                      || type.Name.StartsWith("Jit", StringComparison.Ordinal) || type.Name == "AgentAuthConsentDecided" => "authorization",
        "Agents" when type.Name is "AgentAuthTokenIssued" or "AgentAuthGrantRevoked" => "token_management",
        _ => "configuration",
    };

    public static string SnakeCase(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);
}
