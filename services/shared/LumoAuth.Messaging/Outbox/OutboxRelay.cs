using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Text.Json.Serialization;
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
/// publish is retried with backoff for as long as it takes (the broker may be down for hours).
/// <para>
/// A row this build cannot read (a contract type it does not have, a member its contract lacks, a body it cannot bind)
/// is most likely one a newer replica wrote during a rolling deploy, and any replica may claim any row: it is left for
/// another round (<see cref="UnreadableRetry"/>), when a replica that knows the contract may take it, and parked (logged
/// and counted) only once it is older than <see cref="UnreadableGiveUp"/>. One such row never holds up the others.
/// </para>
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

    /// <summary>When a row this build cannot read is tried again (by whichever replica claims it then).</summary>
    private static readonly TimeSpan UnreadableRetry = TimeSpan.FromMinutes(1);

    /// <summary>
    /// How old a row this build cannot read gets before it is parked: far longer than a rolling deploy, so a newer
    /// replica has had every chance to publish it, and short enough that a row no replica will ever read (a corrupt
    /// body, a contract removed against the rules) shows in the parked metric the same day.
    /// </summary>
    private static readonly TimeSpan UnreadableGiveUp = TimeSpan.FromHours(6);

    private static readonly Counter<long> Published = MessagingTelemetry.Instance.CreateCounter<long>("lumoauth.outbox.published");
    private static readonly Counter<long> Failed = MessagingTelemetry.Instance.CreateCounter<long>("lumoauth.outbox.failed");
    private static readonly Counter<long> Parked = MessagingTelemetry.Instance.CreateCounter<long>("lumoauth.outbox.parked");

    /// <summary>Rows left for another round because this build cannot read them (see <see cref="UnreadableRetry"/>).</summary>
    private static readonly Counter<long> Deferred = MessagingTelemetry.Instance.CreateCounter<long>("lumoauth.outbox.deferred");

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
        // Along the due index: a row never tried is due from its creation, so fresh rows go out in creation order, and a
        // backlog (after a broker outage) drains without sorting all of it for every batch.
        var rows = await db.Set<OutboxMessage>()
            .FromSqlInterpolated($"""
                SELECT * FROM outbox_messages
                WHERE parked_at IS NULL AND next_attempt_at <= {now}
                ORDER BY next_attempt_at
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

            if (!ContractTypes.TryRead(row, out var message, out var type, out var error))
            {
                row.Attempts++;
                row.LastError = Truncate(error);
                if (now - row.CreatedAt >= UnreadableGiveUp)
                {
                    row.ParkedAt = now;
                    Parked.Add(1);
                    LogParked(logger, row.Id, row.MessageType, error);
                }
                else
                {
                    row.NextAttemptAt = now + UnreadableRetry;
                    Deferred.Add(1);
                    LogDeferred(logger, row.Id, row.MessageType, error);
                }

                continue;
            }

            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(PublishTimeout);
                // In the trace of the work that wrote the row, so MassTransit's publish and the consumers' spans join it.
                using (MessagingTelemetry.ContinueTrace("outbox publish", (message as IntegrationEvent)?.TraceParent))
                {
                    await bus.Publish(message, type, ctx => ctx.MessageId = row.Id, timeout.Token);
                }

                db.Remove(row);
                Published.Add(1);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // The broker is likely down: back off this row and leave the rest for the next round.
                brokerDown = true;
                row.Attempts++;
                row.LastError = Truncate(ex.GetType().Name + ": " + ex.Message);
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

    private static string Truncate(string error) => error[..Math.Min(error.Length, 1500)];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay round failed")]
    private static partial void LogRelayFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing outbox message {MessageId} failed (attempt {Attempts}): {Error}")]
    private static partial void LogPublishFailed(ILogger logger, Guid messageId, int attempts, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox message {MessageId} of type {MessageType} cannot be read by this build ({Error}); leaving it for another round or a newer replica")]
    private static partial void LogDeferred(ILogger logger, Guid messageId, string messageType, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox message {MessageId} of type {MessageType} parked: no replica could read it for hours ({Error})")]
    private static partial void LogParked(ILogger logger, Guid messageId, string messageType, string error);
}

/// <summary>The messaging library's meter (exported with every <c>LumoAuth.*</c> meter).</summary>
internal static class MessagingTelemetry
{
    public static readonly Meter Instance = new("LumoAuth.Messaging");

    private static readonly ActivitySource Source = new("LumoAuth.Messaging");

    /// <summary>
    /// A producer span under the given W3C <c>traceparent</c> (none without one, or when nobody listens), so work done
    /// later on behalf of a request, such as publishing its events, stays in that request's trace.
    /// </summary>
    public static Activity? ContinueTrace(string name, string? traceParent) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, null, out var parent)
            ? Source.StartActivity(name, ActivityKind.Producer, parent)
            : null;

    /// <summary>Whether anyone records the messaging library's spans (otherwise links are not worth gathering).</summary>
    public static bool Traced => Source.HasListeners();

    /// <summary>
    /// A producer span of its own for work done for many requests at once (a batch of their facts), linked to their
    /// traces; none when it has no origin or nobody listens.
    /// </summary>
    public static Activity? StartBatchSpan(string name, ActivityLink[] origins) =>
        origins.Length == 0 ? null : Source.StartActivity(name, ActivityKind.Producer, parentContext: default, links: origins);
}

/// <summary>Names contract types in outbox rows and resolves them back, only ever to integration events.</summary>
public static class ContractTypes
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Type> Resolved = new(StringComparer.Ordinal);

    /// <summary>
    /// How a stored body is read back for publishing: a member the local contract lacks fails the read instead of being
    /// dropped. Contracts only ever gain members, so such a body was written by a newer build, and publishing the
    /// older shape would hand that build's consumers the new member as null; the relay leaves it for a replica that has
    /// it. (Publishing the stored JSON as it is would need a serializer of our own in MassTransit's send pipeline,
    /// writing its envelope around our body: more machinery than the rolling-deploy window is worth.)
    /// </summary>
    private static readonly JsonSerializerOptions StrictJson = new(MessagingJson.Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static string NameOf(Type type) => $"{type.FullName}, {type.Assembly.GetName().Name}";

    /// <summary>
    /// The contract type named, or null when this build has none. Only found types are remembered: a miss is simply
    /// asked again when the relay retries its row (once a minute), while remembering misses would pin "unknown" for the
    /// life of the process and keep every name a newer build or a corrupt row ever wrote.
    /// </summary>
    public static Type? Find(string name)
    {
        if (Resolved.TryGetValue(name, out var known))
        {
            return known;
        }

        var type = Type.GetType(name, throwOnError: false) is { IsAbstract: false } found && typeof(IntegrationEvent).IsAssignableFrom(found) ? found : null;
        return type is null ? null : Resolved.GetOrAdd(name, type);
    }

    /// <summary>
    /// The row's event as this build's contract, or false with the reason when this build cannot read it: its type is
    /// unknown here, its body has a member the contract lacks, or the body does not bind (any exception: a
    /// <see cref="NotSupportedException"/> for one row must not fail the relay's whole batch).
    /// </summary>
    public static bool TryRead(OutboxMessage row, out object message, out Type type, out string error)
    {
        message = null!;
        type = null!;
        try
        {
            if (Find(row.MessageType) is not { } found)
            {
                error = "Message type not known to this build";
                return false;
            }

            type = found;
            if (JsonSerializer.Deserialize(row.Body, type, StrictJson) is not { } read)
            {
                error = "Empty body";
                return false;
            }

            message = read;
            error = string.Empty;
            return true;
        }
        catch (Exception ex)
        {
            error = ex.GetType().Name + ": " + ex.Message;
            return false;
        }
    }

    /// <summary>Every contract of the contracts assembly (the audit log consumes them all).</summary>
    public static IEnumerable<Type> All => typeof(IntegrationEvent).Assembly.GetTypes()
        .Where(t => t is { IsAbstract: false } && typeof(IntegrationEvent).IsAssignableFrom(t));
}
