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
public sealed partial class EventBatcher<TDbContext>(IServiceScopeFactory scopeFactory, ILogger<EventBatcher<TDbContext>> logger)
    : BackgroundService
    where TDbContext : DbContext
{
    private const int MaxBatch = 500;
    private readonly Channel<IntegrationEvent> _channel = Channel.CreateBounded<IntegrationEvent>(
        new BoundedChannelOptions(100_000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    public bool TryAdd(IntegrationEvent @event) => _channel.Writer.TryWrite(@event);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<IntegrationEvent>(MaxBatch);
        try
        {
            while (await _channel.Reader.WaitToReadAsync(stoppingToken))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), stoppingToken);
                while (batch.Count < MaxBatch && _channel.Reader.TryRead(out var @event))
                {
                    batch.Add(@event);
                }

                await FlushAsync(batch, stoppingToken);
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

    private async Task FlushAsync(List<IntegrationEvent> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0)
        {
            return;
        }

        try
        {
            await using var scope = scopeFactory.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
            foreach (var @event in batch)
            {
                db.AddEvent(@event);
            }

            await db.SaveChangesAsync(cancellationToken);
            batch.Clear();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Keep the batch for the next round; the database may be briefly unavailable.
            LogFlushFailed(logger, ex, batch.Count);
            if (batch.Count > MaxBatch * 20)
            {
                batch.RemoveRange(0, batch.Count - MaxBatch * 20);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Count} batched events to the outbox failed; retrying")]
    private static partial void LogFlushFailed(ILogger logger, Exception exception, int count);
}
