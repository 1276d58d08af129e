using LumoAuth.Contracts.Clients;
using LumoAuth.Messaging.Consumers;

namespace LumoAuth.Messaging.Tests;

/// <summary>The ids a batch's items get: stable across redeliveries, distinct, and ordered by time for the audit index.</summary>
public sealed class BatchedEventsTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    private static AccessTokensIssued Batch(int count, DateTimeOffset from) => new(
        [.. Enumerable.Range(0, count).Select(i => new IssuedAccessToken("client", "client_credentials", null, $"jti-{i}", [], from.AddMilliseconds(i)))])
    {
        TenantId = Guid.NewGuid(),
    };

    [Fact]
    public void ItemIds_AreTheSameOnEveryRedelivery_AndDistinct()
    {
        var batch = Batch(500, Start);
        var messageId = Guid.NewGuid();

        var first = BatchedEvents.Expand(batch, messageId).Select(e => e.EventId).ToList();
        var again = BatchedEvents.Expand(batch, messageId).Select(e => e.EventId).ToList();
        var otherMessage = BatchedEvents.Expand(batch, Guid.NewGuid()).Select(e => e.EventId).ToList();

        Assert.Equal(first, again);
        Assert.Equal(500, first.Distinct().Count());
        Assert.Empty(first.Intersect(otherMessage));
    }

    [Fact]
    public void ItemIds_AreVersion7_AndSortByTheTimeTheyHappened()
    {
        var earlier = BatchedEvents.Expand(Batch(3, Start), Guid.NewGuid()).Select(e => e.EventId).ToList();
        var later = BatchedEvents.Expand(Batch(3, Start.AddSeconds(1)), Guid.NewGuid()).Select(e => e.EventId).ToList();

        Assert.All(earlier.Concat(later), id => Assert.Equal(7, id.Version));
        Assert.All(earlier.Concat(later), id => Assert.Equal(0b10, id.Variant >> 2));
        // PostgreSQL orders uuids by their bytes in RFC order, i.e. by the canonical string.
        var all = earlier.Concat(later).Select(id => id.ToString()).ToList();
        Assert.Equal(all.Order(StringComparer.Ordinal), all);
        Assert.StartsWith(Start.ToUnixTimeMilliseconds().ToString("x12")[..8], earlier[0].ToString("N"), StringComparison.Ordinal);
    }

    [Fact]
    public void APlainEvent_KeepsItsMessageId()
    {
        var messageId = Guid.NewGuid();
        var single = new AccessTokenIssued("client", "client_credentials", null, "jti", []) { TenantId = Guid.NewGuid() };

        Assert.Equal(messageId, Assert.Single(BatchedEvents.Expand(single, messageId)).EventId);
    }
}
