using System.Threading.Channels;
using LumoAuth.Contracts;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LumoAuth.Messaging.Outbox;

/// <summary>
/// For facts that change no state (a stateless access token was issued): collects them in memory and
/// writes them to the outbox in one insert per batch, so a hot path pays no database round trip per event.
/// What is in memory when the process dies is lost; that is the price of a write-free hot path and is
/// limited to a fraction of a second of such facts.
/// </summary>
/// <param name="combine">
/// Turns a batch into the events written, e.g. many facts of one kind into one <see cref="IBatchedEvent"/> message.
/// </param>
public sealed partial class EventBatcher<TDbContext>(
    IServiceScopeFactory scopeFactory,
    ILogger<EventBatcher<TDbContext>> logger,
    Func<IReadOnlyList<IntegrationEvent>, IEnumerable<IntegrationEvent>> combine)
    : BackgroundService
    where TDbContext : DbContext
{
    private const int MaxBatch = 500;
    private static readonly TimeSpan GatherDelay = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private readonly Channel<IntegrationEvent> _channel = Channel.CreateBounded<IntegrationEvent>(
        new BoundedChannelOptions(100_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    public bool TryAdd(IntegrationEvent @event) => _channel.Writer.TryWrite(@event);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<IntegrationEvent>(MaxBatch);
        try
        {
            // A batch kept from a failed write is retried even when no new event arrives.
            while (batch.Count > 0 || await _channel.Reader.WaitToReadAsync(stoppingToken))
            {
                // A short pause gathers a trickle into one insert; with a full batch already waiting there is
                // nothing to gather, and pausing would cap the rate at one batch per pause and drop the excess.
                if (_channel.Reader.Count < MaxBatch)
                {
                    await Task.Delay(GatherDelay, stoppingToken);
                }

                while (batch.Count < MaxBatch && _channel.Reader.TryRead(out var @event))
                {
                    batch.Add(@event);
                }

                if (!await FlushAsync(batch, stoppingToken))
                {
                    await Task.Delay(RetryDelay, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            while (_channel.Reader.TryRead(out var @event))
            {
                batch.Add(@event);
            }

            await FlushAsync(batch, CancellationToken.None);
        }
    }

    /// <summary>Writes the batch and empties it; false (the batch kept for the next round) when the write failed.</summary>
    private async Task<bool> FlushAsync(List<IntegrationEvent> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return true;
        }

        try
        {
            await using var scope = scopeFactory.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
            foreach (var @event in combine(batch))
            {
                db.AddEvent(@event);
            }

            await db.SaveChangesAsync(cancellationToken);
            batch.Clear();
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Keep the batch for the next round; the database may be briefly unavailable.
            LogFlushFailed(logger, ex, batch.Count);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Count} batched events to the outbox failed; retrying")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception, int count);
}
