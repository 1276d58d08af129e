using System.Text.Json;
using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.Gdpr;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Consumers;
using LumoAuth.Messaging.Outbox;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Webhooks;

/// <summary>
/// Turns an integration event (each item of a batched message) into one pending delivery per subscribed webhook of
/// its tenant, all of a message's in one commit. The (webhook, event id) key makes a redelivered event a no-op; sending is
/// the dispatcher's job, so a slow receiver never holds up the bus.
/// </summary>
public sealed class WebhookConsumer<TEvent>(AdminDbContext db, WebhookSignal signal) : IConsumer<TEvent>
    where TEvent : IntegrationEvent
{
    public async Task Consume(ConsumeContext<TEvent> context)
    {
        var hooksByType = new Dictionary<(Guid, string), List<Guid>>();
        var slugs = new Dictionary<Guid, string?>();
        var erasures = new Dictionary<Guid, List<ErasedSubject>>();
        var queued = false;
        // One commit for the message's deliveries, under the tenants' erasure locks (shared) taken before their erasures are read.
        await using var transaction = await db.Database.BeginTransactionAsync(context.CancellationToken);
        foreach (var (@event, eventGuid) in BatchedEvents.Expand(context.Message, context.MessageId ?? NewId.NextGuid()))
        {
            if (@event.TenantId is not { } tenantId)
            {
                continue;
            }

            var type = WebhookEventTypes.For(@event.GetType());
            if (!hooksByType.TryGetValue((tenantId, type), out var hooks))
            {
                hooks = await db.Webhooks.IgnoreQueryFilters().AsNoTracking()
                    .Where(w => w.TenantId == tenantId && w.IsActive && (w.Events.Contains(type) || w.Events.Contains(WebhookEventTypes.All)))
                    .Select(w => w.Id)
                    .ToListAsync(context.CancellationToken);
                hooksByType[(tenantId, type)] = hooks;
            }

            if (hooks.Count == 0)
            {
                continue;
            }

            if (!slugs.TryGetValue(tenantId, out var slug))
            {
                slug = await db.Tenants.AsNoTracking().Where(t => t.Id == tenantId).Select(t => t.Slug).FirstOrDefaultAsync(context.CancellationToken);
                slugs[tenantId] = slug;
            }

            var eventId = WebhookPayloads.EventIdFor(eventGuid);
            var payload = WebhookPayloads.Build(eventId, type, @event.OccurredAt, slug, WebhookPayloads.DataOf(@event, type));
            if (!erasures.TryGetValue(tenantId, out var erased))
            {
                // Erasures of the last day (their id and address are kept that long): an event naming one of those users may
                // still be on its way. An erasure under way is waited for.
                await DataErasure.LockTenantErasuresAsync(db, tenantId, shared: true, context.CancellationToken);
                erased = await db.ErasedSubjects.IgnoreQueryFilters().AsNoTracking()
                    .Where(e => e.TenantId == tenantId && e.UserId != null)
                    .ToListAsync(context.CancellationToken);
                erasures[tenantId] = erased;
            }

            if (erased.Count > 0 && @event is not UserDeleted)
            {
                payload = DataErasure.PseudonymisePayload(payload, erased, @event.OccurredAt);
            }

            var now = DateTimeOffset.UtcNow;
            foreach (var webhookId in hooks)
            {
                await db.Database.ExecuteSqlInterpolatedAsync($"""
                    INSERT INTO webhook_deliveries ("Id", "TenantId", "WebhookId", "MessageId", "EventId", "EventType", "Payload", "Status",
                        "Attempts", "NextAttemptAt", "CreatedAt")
                    VALUES ({Guid.CreateVersion7()}, {tenantId}, {webhookId}, {eventGuid}, {eventId}, {type}, {payload}, 'pending', 0, {now}, {now})
                    ON CONFLICT ("WebhookId", "MessageId") DO NOTHING
                    """, context.CancellationToken);
                queued = true;
            }
        }

        await transaction.CommitAsync(context.CancellationToken);
        if (queued)
        {
            signal.Notify();
        }
    }
}

public static class WebhookPayloads
{
    /// <summary>The person's names as an event may carry them (OIDC's given/family), under the docs' member names.</summary>
    private static readonly (string From, string To)[] NameMembers = [("givenName", "firstName"), ("familyName", "lastName")];

    public static string EventIdFor(Guid messageId) => "evt_" + messageId.ToString("N");

    /// <summary>
    /// An event's <c>data</c>: its facts, flat (<c>userId</c>, <c>email</c>…), as receivers have always read them; a <c>user.*</c>
    /// event about one user also gets the docs' <c>user</c> object. That object holds only what the event carries — the address
    /// when the event has it or the user acted themselves, names when the event has them — never a lookup: by delivery the
    /// account may have changed or be gone, and the payload stands for the event.
    /// </summary>
    public static string DataOf(IntegrationEvent @event, string type)
    {
        var facts = EventFacts.ToJson(@event);
        if (!type.StartsWith("user.", StringComparison.Ordinal))
        {
            return facts;
        }

        using var document = JsonDocument.Parse(facts);
        var root = document.RootElement;
        if (!root.TryGetProperty("userId", out var userId) || userId.ValueKind != JsonValueKind.String)
        {
            return facts;
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                property.WriteTo(writer);
            }

            writer.WriteStartObject("user");
            writer.WriteString("id", userId.GetString());
            if (root.TryGetProperty("email", out var email) && email.ValueKind == JsonValueKind.String)
            {
                writer.WriteString("email", email.GetString());
            }
            else if (@event.Actor is { Type: ActorTypes.User, Email: { } actorEmail } actor && actor.Id == userId.GetString())
            {
                writer.WriteString("email", actorEmail);
            }

            foreach (var (from, to) in NameMembers)
            {
                if (root.TryGetProperty(from, out var name) && name.ValueKind == JsonValueKind.String)
                {
                    writer.WriteString(to, name.GetString());
                }
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>The documented body: <c>{id, type, timestamp, tenant, data}</c>, <paramref name="dataJson"/> a JSON object.</summary>
    public static string Build(string eventId, string type, DateTimeOffset timestamp, string? tenantSlug, string dataJson)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("id", eventId);
            writer.WriteString("type", type);
            writer.WriteString("timestamp", timestamp.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            writer.WriteString("tenant", tenantSlug);
            writer.WritePropertyName("data");
            writer.WriteRawValue(dataJson);
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}

public static class WebhookRegistration
{
    /// <summary>One <see cref="WebhookConsumer{TEvent}"/> per event of the catalogue (<see cref="WebhookEventTypes"/>), all on <paramref name="queue"/>.</summary>
    public static void AddWebhookConsumers(this IBusRegistrationConfigurator bus, string queue)
    {
        foreach (var type in WebhookEventTypes.Delivered)
        {
            bus.AddConsumer(typeof(WebhookConsumer<>).MakeGenericType(type)).Endpoint(e => e.Name = queue);
        }
    }
}
