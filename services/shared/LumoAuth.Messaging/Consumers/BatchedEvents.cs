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
            yield return (item, Derive(messageId, index++));
        }
    }

    private static Guid Derive(Guid messageId, int index)
    {
        Span<byte> input = stackalloc byte[20];
        messageId.TryWriteBytes(input);
        BitConverter.TryWriteBytes(input[16..], index);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);
        return new Guid(hash[..16]);
    }
}
