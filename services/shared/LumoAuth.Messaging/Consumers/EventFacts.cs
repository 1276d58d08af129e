using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using LumoAuth.Contracts;
using LumoAuth.Messaging.Outbox;

namespace LumoAuth.Messaging.Consumers;

/// <summary>
/// What an event says beyond the envelope every event has (tenant, time, actor, origin): the audit log keeps it as an
/// entry's metadata, a webhook sends it as <c>data</c>. Written in one pass by a contract that leaves the envelope out.
/// </summary>
public static class EventFacts
{
    private static readonly JsonSerializerOptions Options = new(MessagingJson.Options)
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { WithoutEnvelope } },
    };

    /// <summary>The event's own properties as a JSON object, in the messaging JSON's naming.</summary>
    public static string ToJson(IntegrationEvent @event) => JsonSerializer.Serialize(@event, @event.GetType(), Options);

    /// <summary>
    /// Getters of the event type's own properties by JSON name (e.g. <c>userId</c>), for reading a few facts without
    /// writing them out.
    /// </summary>
    public static IReadOnlyDictionary<string, Func<object, object?>> Getters(Type eventType) =>
        Options.GetTypeInfo(eventType).Properties
            .Where(p => p.Get is not null)
            .ToDictionary(p => p.Name, p => p.Get!, StringComparer.Ordinal);

    private static void WithoutEnvelope(JsonTypeInfo info)
    {
        if (info.Kind != JsonTypeInfoKind.Object || !info.Type.IsAssignableTo(typeof(IntegrationEvent)))
        {
            return;
        }

        for (var i = info.Properties.Count - 1; i >= 0; i--)
        {
            if (info.Properties[i].AttributeProvider is MemberInfo { DeclaringType: var declaring } && declaring == typeof(IntegrationEvent))
            {
                info.Properties.RemoveAt(i);
            }
        }
    }
}
