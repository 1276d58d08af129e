using System.Buffers.Binary;
using System.Security.Cryptography;
using LumoAuth.Contracts;

namespace LumoAuth.Messaging.Consumers;

/// <summary>How consumers read a message that may be a batch (<see cref="IBatchedEvent"/>).</summary>
public static class BatchedEvents
{
    /// <summary>
    /// The events a message stands for, each with a stable id: the message id for a plain event; for a batch, an
    /// id derived from the message id and the item's position, the same on every redelivery, so per-event
    /// idempotency keys keep working.
    /// </summary>
    /// <remarks>
    /// A derived id is shaped like a UUIDv7 whose time is the item's <see cref="IntegrationEvent.OccurredAt"/>: ids
    /// stored as unique keys (the audit log's event id) then arrive in roughly ascending order, so each insert lands on
    /// the index's last pages instead of a random one. Token batches bring thousands a second; random keys made every
    /// insert and every conflict check read and dirty a different page.
    /// </remarks>
    public static IEnumerable<(IntegrationEvent Event, Guid EventId)> Expand(IntegrationEvent message, Guid messageId)
    {
        if (message is not IBatchedEvent batch)
        {
            yield return (message, messageId);
            yield break;
        }

        var index = 0;
        foreach (var item in batch.Items)
        {
            yield return (item, Derive(messageId, index++, item.OccurredAt));
        }
    }

    private static Guid Derive(Guid messageId, int index, DateTimeOffset occurredAt)
    {
        Span<byte> input = stackalloc byte[20];
        messageId.TryWriteBytes(input);
        BinaryPrimitives.WriteInt32LittleEndian(input[16..], index);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);

        // RFC 9562 §5.7 layout, big-endian: 48-bit Unix milliseconds, version 7, then 74 bits of the hash (the
        // "random" bits may be derived), which keep ids of one message and of messages in the same millisecond apart.
        Span<byte> id = stackalloc byte[16];
        var milliseconds = (ulong)Math.Max(0, occurredAt.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteUInt64BigEndian(id[..8], milliseconds << 16);
        hash[6..16].CopyTo(id[6..]);
        id[6] = (byte)(0x70 | (id[6] & 0x0F));
        id[8] = (byte)(0x80 | (id[8] & 0x3F));
        return new Guid(id, bigEndian: true);
    }
}
