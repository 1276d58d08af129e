using System.Diagnostics.Metrics;
using System.Text.Json;
using LumoAuth.Contracts;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LumoAuth.Messaging.Outbox;

/// <summary>
/// Publishes committed outbox rows. Every replica runs one; rows are claimed with
/// <c>FOR UPDATE SKIP LOCKED</c> so replicas share the work without publishing a row twice in the
/// normal case (a crash between publish and delete can repeat one: consumers are idempotent). A failed
/// publish is retried with backoff for as long as it takes (the broker may be down for hours); only a row that
/// can never be published (an unknown type, an unreadable body) is parked, logged and counted.
/// </summary>
public sealed partial class OutboxRelay<TDbContext>(
    IServiceScopeFactory scopeFactory,
    IBus bus,
    OutboxSignal signal,
    TimeProvider time,
    ILogger<OutboxRelay<TDbContext>> logger) : BackgroundService
    where TDbContext : DbContext
{
    private const int BatchSize = 100;
    private static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(5);
    private static readonly Counter<long> Published = MessagingMeter.Instance.CreateCounter<long>("lumoauth.outbox.published");
    private static readonly Counter<long> Failed = MessagingMeter.Instance.CreateCounter<long>("lumoauth.outbox.failed");
    private static readonly Counter<long> Parked = MessagingMeter.Instance.CreateCounter<long>("lumoauth.outbox.parked");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await signal.WaitAsync(PollInterval, stoppingToken);
                while (await PublishBatchAsync(stoppingToken) == BatchSize)
                {
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The database may be restarting; the next poll tries again.
                LogRelayFailed(logger, ex);
                await Task.Delay(PollInterval, time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>Publishes one batch of due rows; returns how many were claimed.</summary>
    public async Task<int> PublishBatchAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var now = time.GetUtcNow();
        var rows = await db.Set<OutboxMessage>()
            .FromSqlInterpolated($"""
                SELECT * FROM outbox_messages
                WHERE parked_at IS NULL AND next_attempt_at <= {now}
                ORDER BY created_at
                LIMIT {BatchSize}
                FOR UPDATE SKIP LOCKED
                """)
            .ToListAsync(cancellationToken);

        var brokerDown = false;
        foreach (var row in rows)
        {
            if (brokerDown)
            {
                break;
            }

            if (!TryDeserialize(row, out var message, out var type))
            {
                row.ParkedAt = now;
                row.LastError = "Unknown message type or unreadable body";
                Parked.Add(1);
                LogParked(logger, row.Id, row.MessageType);
                continue;
            }

            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(PublishTimeout);
                await bus.Publish(message, type, ctx => ctx.MessageId = row.Id, timeout.Token);
                db.Remove(row);
                Published.Add(1);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // The broker is likely down: back off this row and leave the rest for the next round.
                brokerDown = true;
                row.Attempts++;
                row.LastError = ex.GetType().Name + ": " + ex.Message[..Math.Min(ex.Message.Length, 1500)];
                row.NextAttemptAt = now + Backoff(row.Attempts);
                Failed.Add(1);
                LogPublishFailed(logger, row.Id, row.Attempts, ex.Message);
            }
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return brokerDown ? 0 : rows.Count;
    }

    private static TimeSpan Backoff(int attempts) =>
        TimeSpan.FromMilliseconds(Math.Min(30_000, 250 * Math.Pow(2, Math.Min(attempts, 10))));

    private static bool TryDeserialize(OutboxMessage row, out object message, out Type type)
    {
        message = null!;
        type = ContractTypes.Find(row.MessageType)!;
        if (type is null)
        {
            return false;
        }

        try
        {
            message = JsonSerializer.Deserialize(row.Body, type, MessagingJson.Options)!;
            return message is not null;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay round failed")]
    private static partial void LogRelayFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing outbox message {MessageId} failed (attempt {Attempts}): {Error}")]
    private static partial void LogPublishFailed(ILogger logger, Guid messageId, int attempts, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox message {MessageId} of type {MessageType} parked: it cannot be published")]
    private static partial void LogParked(ILogger logger, Guid messageId, string messageType);
}

/// <summary>The messaging library's meter (exported with every <c>LumoAuth.*</c> meter).</summary>
internal static class MessagingMeter
{
    public static readonly Meter Instance = new("LumoAuth.Messaging");
}

/// <summary>Names contract types in outbox rows and resolves them back, only ever to integration events.</summary>
public static class ContractTypes
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Type?> Resolved = new(StringComparer.Ordinal);

    public static string NameOf(Type type) => $"{type.FullName}, {type.Assembly.GetName().Name}";

    public static Type? Find(string name) => Resolved.GetOrAdd(name, static n =>
        Type.GetType(n, throwOnError: false) is { IsAbstract: false } type && typeof(IntegrationEvent).IsAssignableFrom(type) ? type : null);

    /// <summary>Every contract of the contracts assembly (the audit log consumes them all).</summary>
    public static IEnumerable<Type> All => typeof(IntegrationEvent).Assembly.GetTypes()
        .Where(t => t is { IsAbstract: false } && typeof(IntegrationEvent).IsAssignableFrom(t));
}
