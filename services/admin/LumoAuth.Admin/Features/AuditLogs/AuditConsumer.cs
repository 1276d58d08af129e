using System.Text.Json;
using System.Text.Json.Nodes;
using LumoAuth.Admin.Data;
using LumoAuth.Contracts;
using LumoAuth.Messaging.Consumers;
using LumoAuth.Messaging.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.AuditLogs;

/// <summary>
/// Turns every integration event of every service into an audit entry (each item of a batched message into an
/// entry of its own). One generic consumer per contract type, all on one queue; the entry's unique event id makes
/// a redelivery a no-op.
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
        // idempotent without a separate inbox row.
        await db.Database.ExecuteSqlInterpolatedAsync($"""
            INSERT INTO audit_logs ("Id", "TenantId", "EventId", "Action", "Category", "ActorType", "ActorId", "ActorEmail",
                "TargetType", "TargetId", "Outcome", "IpAddress", "UserAgent", "CorrelationId", "Metadata", "Timestamp")
            SELECT id, tenant, event, action, category, actor_type, actor_id, actor_email, target_type, target_id, outcome,
                ip, user_agent, correlation, CAST(metadata AS jsonb), at
            FROM unnest({Column(entries, e => e.Id)}, {Column(entries, e => e.TenantId)}, {Column(entries, e => e.EventId)},
                {Column(entries, e => e.Action)}, {Column(entries, e => e.Category)}, {Column(entries, e => e.ActorType)},
                {Column(entries, e => e.ActorId)}, {Column(entries, e => e.ActorEmail)}, {Column(entries, e => e.TargetType)},
                {Column(entries, e => e.TargetId)}, {Column(entries, e => e.Outcome)}, {Column(entries, e => e.IpAddress)},
                {Column(entries, e => e.UserAgent)}, {Column(entries, e => e.CorrelationId)}, {Column(entries, e => e.Metadata)},
                {Column(entries, e => e.Timestamp)})
                AS rows(id, tenant, event, action, category, actor_type, actor_id, actor_email, target_type, target_id, outcome,
                    ip, user_agent, correlation, metadata, at)
            ON CONFLICT ("EventId") DO NOTHING
            """, context.CancellationToken);
    }

    private static T[] Column<T>(List<AuditLogEntry> entries, Func<AuditLogEntry, T> value) => entries.Select(value).ToArray();
}

public static class AuditMapping
{
    private static readonly HashSet<string> BaseProperties = new(
        typeof(IntegrationEvent).GetProperties().Select(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name)), StringComparer.Ordinal);

    public static AuditLogEntry ToEntry(IntegrationEvent @event, Guid tenantId, Guid eventId)
    {
        var type = @event.GetType();
        var json = JsonSerializer.SerializeToNode(@event, type, MessagingJson.Options)!.AsObject();
        var metadata = new JsonObject();
        foreach (var (key, value) in json)
        {
            if (!BaseProperties.Contains(key))
            {
                metadata[key] = value?.DeepClone();
            }
        }

        var (targetType, targetId) = TargetOf(type, json);
        return new AuditLogEntry
        {
            Id = Guid.CreateVersion7(),
            TenantId = tenantId,
            EventId = eventId,
            Action = SnakeCase(type.Name),
            Category = CategoryOf(type),
            ActorType = @event.Actor?.Type ?? "system",
            ActorId = @event.Actor?.Id,
            ActorEmail = @event.Actor?.Email,
            TargetType = targetType,
            TargetId = targetId,
            Outcome = type.Name.Contains("Failed", StringComparison.Ordinal) || type.Name.Contains("LockedOut", StringComparison.Ordinal) ? "failure" : "success",
            IpAddress = @event.IpAddress,
            UserAgent = @event.UserAgent,
            CorrelationId = @event.CorrelationId,
            Metadata = metadata.ToJsonString(),
            Timestamp = @event.OccurredAt,
        };
    }

    /// <summary>Categories of the docs (inventory §6.10) from the contract's bounded context.</summary>
    public static string CategoryOf(Type type) => type.Namespace?.Split('.').LastOrDefault() switch
    {
        "Users" when type.Name.Contains("Login", StringComparison.Ordinal) || type.Name.Contains("Locked", StringComparison.Ordinal) => "authentication",
        "Users" or "Groups" => "user_management",
        "Authorization" => "authorization",
        "Clients" when type.Name.Contains("Token", StringComparison.Ordinal) => "token_management",
        "Sessions" => "authentication",
        _ => "configuration",
    };

    private static (string? Type, string? Id) TargetOf(Type type, JsonObject json)
    {
        foreach (var (property, target) in new[]
        {
            ("userId", "user"), ("groupId", "group"), ("webhookId", "webhook"), ("invitationId", "invitation"), ("clientId", "client"),
            ("apiKeyId", "api_key"), ("id", "tenant"),
        })
        {
            if (json[property] is JsonValue value)
            {
                return (target, value.ToString());
            }
        }

        return (type.Namespace?.Split('.').LastOrDefault()?.ToLowerInvariant(), null);
    }

    public static string SnakeCase(string name) => JsonNamingPolicy.SnakeCaseLower.ConvertName(name);
}
