namespace LumoAuth.Messaging.Inbox;

/// <summary>A message a consumer has already handled; its key makes a redelivery a no-op.</summary>
public sealed class InboxMessage
{
    public string Consumer { get; set; } = string.Empty;

    public Guid MessageId { get; set; }

    public DateTimeOffset ProcessedAt { get; set; }
}
