using System.ComponentModel.DataAnnotations.Schema;
using System.Text.Json;
using LumoAuth.Contracts;

namespace LumoAuth.Messaging.Outbox;

/// <summary>
/// An integration event waiting to be published. It is written by the same <c>SaveChanges</c> as the
/// state change that raised it, so both commit or neither does.
/// </summary>
public sealed class OutboxMessage
{
    public Guid Id { get; private set; }

    public Guid? TenantId { get; private set; }

    /// <summary>Contract type as <c>FullName, Assembly</c> (contracts are never renamed).</summary>
    public string MessageType { get; private set; } = string.Empty;

    public string Body { get; set; } = string.Empty;

    public DateTimeOffset CreatedAt { get; private set; }

    public int Attempts { get; set; }

    public DateTimeOffset NextAttemptAt { get; set; }

    public string? LastError { get; set; }

    public DateTimeOffset? ParkedAt { get; set; }

    /// <summary>The event itself until the interceptor stamps and serialises it at save time.</summary>
    [NotMapped]
    public IntegrationEvent? Pending { get; set; }

    /// <param name="event">The event.</param>
    /// <param name="messageId">The message id it is published with (new when not given).</param>
    public static OutboxMessage For(IntegrationEvent @event, Guid? messageId = null)
    {
        var now = DateTimeOffset.UtcNow;
        return new OutboxMessage
        {
            Id = messageId ?? Guid.CreateVersion7(),
            TenantId = @event.TenantId,
            MessageType = ContractTypes.NameOf(@event.GetType()),
            CreatedAt = now,
            NextAttemptAt = now,
            Pending = @event,
        };
    }

    public static string Serialize(IntegrationEvent @event) =>
        JsonSerializer.Serialize(@event, @event.GetType(), MessagingJson.Options);
}

public static class MessagingJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
