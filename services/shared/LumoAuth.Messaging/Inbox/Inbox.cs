using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Messaging.Inbox;

/// <summary>
/// Runs a consumer's effect at most once per (consumer, message id): the inbox row and the effect
/// commit in one transaction, so a redelivered message finds its row and changes nothing.
/// </summary>
public static class InboxExtensions
{
    /// <returns>true when the effect ran; false when the message had been handled before.</returns>
    public static async Task<bool> HandleOnceAsync(this DbContext db, string consumer, Guid messageId, Func<CancellationToken, Task> effect, CancellationToken cancellationToken)
    {
        var strategy = db.Database.CreateExecutionStrategy();
        return await strategy.ExecuteAsync(async ct =>
        {
            db.ChangeTracker.Clear();
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
            var inserted = await db.Database.ExecuteSqlInterpolatedAsync(
                $"INSERT INTO inbox_messages (consumer, message_id, processed_at) VALUES ({consumer}, {messageId}, {DateTimeOffset.UtcNow}) ON CONFLICT DO NOTHING",
                ct);
            if (inserted == 0)
            {
                return false;
            }

            await effect(ct);
            await db.SaveChangesAsync(ct);
            await transaction.CommitAsync(ct);
            return true;
        }, cancellationToken);
    }
}
