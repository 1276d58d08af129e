using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using LumoAuth.Contracts;
using MassTransit;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LumoAuth.Messaging.Outbox;

/// <summary>
/// For facts that change no state (a stateless access token was issued): collects them in memory and sends them in
/// batches, so a hot path pays no database round trip or message per event. A batch goes straight to the broker
/// (a publish the broker has confirmed is as durable as an outbox row, and there is no state change to commit it
/// with); when the broker does not take it, it goes to the outbox, whose relay publishes it later with the same
/// message id, and so do the batches of the next 30 s without trying the broker. What is in memory when the
/// process dies is lost; that is the price of a write-free hot path and is limited to a fraction of a second of
/// such facts. Each batch is sent in a span of its own that links the traces of the requests whose facts it carries
/// (up to <see cref="MaxLinks"/>), so a consumer's work can be followed back to them.
/// </summary>
public sealed partial class EventBatcher<TDbContext> : BackgroundService
    where TDbContext : DbContext
{
    private const int DefaultCapacity = 100_000;
    private const int MaxBatch = 500;

    /// <summary>Traces one batch's span links to at most (OpenTelemetry's default limit of links per span).</summary>
    private const int MaxLinks = 128;
    private static readonly TimeSpan GatherDelay = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PublishTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan BrokerRest = TimeSpan.FromSeconds(30);

    /// <summary>At most one warning about dropped events per this interval (with the count since the last one).</summary>
    private static readonly TimeSpan DropWarningInterval = TimeSpan.FromMinutes(1);

    /// <summary>Batched messages sent, by the way they went: <c>broker</c> (published at once) or <c>outbox</c> (stored for the relay).</summary>
    private static readonly Counter<long> Sent = MessagingTelemetry.Instance.CreateCounter<long>("lumoauth.events.batched_sent");

    /// <summary>Events dropped unsent because the buffer was full (the oldest go first), by event type.</summary>
    private static readonly Counter<long> Dropped = MessagingTelemetry.Instance.CreateCounter<long>("lumoauth.events.batched_dropped");

    private readonly IServiceScopeFactory _scopeFactory;
    private readonly IBus _bus;
    private readonly TimeProvider _time;
    private readonly ILogger<EventBatcher<TDbContext>> _logger;
    private readonly Func<IReadOnlyList<IntegrationEvent>, IEnumerable<IntegrationEvent>> _combine;
    private readonly int _capacity;
    private readonly Channel<(IntegrationEvent Event, ActivityContext Origin)> _channel;

    /// <summary>Combined messages not yet sent or stored, each with the message id it keeps across attempts and the traces it came from.</summary>
    private readonly List<(IntegrationEvent Message, Guid MessageId, ActivityLink[] Origins)> _unsent = [];

    /// <summary>Until then batches go to the outbox without trying the broker (set by a failed publish).</summary>
    private DateTimeOffset _brokerRetryAt = DateTimeOffset.MinValue;

    /// <summary>Events dropped since the last warning, and when (UTC ticks) the next warning may be written.</summary>
    private long _droppedSinceWarning;
    private long _nextDropWarningTicks;

    /// <param name="combine">
    /// Turns a batch into the events sent, e.g. many facts of one kind into one <see cref="IBatchedEvent"/> message.
    /// </param>
    /// <param name="capacity">
    /// Events held while the broker and the database both lag behind; beyond it the oldest are dropped, counted and logged.
    /// </param>
    public EventBatcher(
        IServiceScopeFactory scopeFactory,
        IBus bus,
        TimeProvider time,
        ILogger<EventBatcher<TDbContext>> logger,
        Func<IReadOnlyList<IntegrationEvent>, IEnumerable<IntegrationEvent>> combine,
        int capacity = DefaultCapacity)
    {
        _scopeFactory = scopeFactory;
        _bus = bus;
        _time = time;
        _logger = logger;
        _combine = combine;
        _capacity = capacity;
        _channel = Channel.CreateBounded<(IntegrationEvent, ActivityContext)>(
            new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            OnDropped);
    }

    /// <summary>Queues a fact; always true, as a full buffer makes room by dropping its oldest (counted and logged).</summary>
    public bool TryAdd(IntegrationEvent @event) => _channel.Writer.TryWrite((@event, Activity.Current?.Context ?? default));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The loop's spans are roots of their own, linked to the requests they serve, never children of whatever started the host.
        Activity.Current = null;
        var batch = new List<(IntegrationEvent Event, ActivityContext Origin)>(MaxBatch);
        try
        {
            // Messages kept from a failed round are retried even when no new event arrives.
            while (_unsent.Count > 0 || await _channel.Reader.WaitToReadAsync(stoppingToken))
            {
                try
                {
                    // A short pause gathers a trickle into one message; with a full batch already waiting there is
                    // nothing to gather, and pausing would cap the rate at one batch per pause and drop the excess.
                    if (_channel.Reader.Count < MaxBatch)
                    {
                        await Task.Delay(GatherDelay, stoppingToken);
                    }

                    // While earlier messages are still unsent (broker and database both out), new events wait in the
                    // bounded channel rather than pile up here.
                    if (_unsent.Count == 0)
                    {
                        Take(batch);
                    }

                    if (!await SendAsync(stoppingToken))
                    {
                        await Task.Delay(RetryDelay, stoppingToken);
                    }
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    // Whatever went wrong, the batcher must keep going: an exception leaving ExecuteAsync stops the whole
                    // service (BackgroundServiceExceptionBehavior.StopHost). What is unsent stays for the next round.
                    LogRoundFailed(_logger, ex, _unsent.Count);
                    await Task.Delay(RetryDelay, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            while (_channel.Reader.Count > 0)
            {
                Take(batch);
            }

            // Shutting down: no time for the broker's confirmations, so whatever is left goes to the outbox.
            await StoreAsync(CancellationToken.None);
        }
    }

    /// <summary>Moves up to a batch of waiting events into <see cref="_unsent"/> as combined messages.</summary>
    private void Take(List<(IntegrationEvent Event, ActivityContext Origin)> batch)
    {
        batch.Clear();
        while (batch.Count < MaxBatch && _channel.Reader.TryRead(out var @event))
        {
            batch.Add(@event);
        }

        if (batch.Count == 0)
        {
            return;
        }

        var events = batch.ConvertAll(b => b.Event);
        List<IntegrationEvent> messages;
        try
        {
            // Materialised first: a combine failing half-way must not leave half a batch behind.
            messages = [.. _combine(events)];
        }
        catch (Exception ex)
        {
            // Combining only saves messages; each fact is a message of its own, so they go as they are rather than get lost.
            LogCombineFailed(_logger, ex, batch.Count);
            messages = events;
        }

        _unsent.AddRange(messages.Select(message => (message, NewId.NextGuid(), OriginsOf(message, batch))));
    }

    /// <summary>
    /// The recorded traces of the requests whose facts went into <paramref name="message"/> (those of its tenant: a batch is
    /// combined into a message per tenant), at most <see cref="MaxLinks"/>; none when no one listens to the spans.
    /// </summary>
    private static ActivityLink[] OriginsOf(IntegrationEvent message, List<(IntegrationEvent Event, ActivityContext Origin)> batch) =>
        !MessagingTelemetry.Traced ? []
            : [.. batch.Where(b => b.Event.TenantId == message.TenantId && b.Origin.TraceFlags.HasFlag(ActivityTraceFlags.Recorded))
                .DistinctBy(b => b.Origin.TraceId).Take(MaxLinks).Select(b => new ActivityLink(b.Origin))];

    /// <summary>
    /// The channel dropped its oldest event to make room (on the writer's thread, so it stays cheap): counted always,
    /// logged at most once per <see cref="DropWarningInterval"/>.
    /// </summary>
    private void OnDropped((IntegrationEvent Event, ActivityContext Origin) dropped)
    {
        Dropped.Add(1, new KeyValuePair<string, object?>("type", dropped.Event.GetType().Name));
        Interlocked.Increment(ref _droppedSinceWarning);
        var now = _time.GetUtcNow().UtcTicks;
        var next = Interlocked.Read(ref _nextDropWarningTicks);
        if (now >= next && Interlocked.CompareExchange(ref _nextDropWarningTicks, now + DropWarningInterval.Ticks, next) == next)
        {
            LogDropped(_logger, Interlocked.Exchange(ref _droppedSinceWarning, 0), _capacity);
        }
    }

    /// <summary>Publishes the unsent messages, storing in the outbox what the broker does not take; false when some are still unsent.</summary>
    private async Task<bool> SendAsync(CancellationToken cancellationToken)
    {
        // After a failed publish the broker gets a rest: trying it (and waiting out the timeout) on every round would
        // let events pile up in memory during an outage; the outbox takes them at database speed meanwhile.
        if (_time.GetUtcNow() < _brokerRetryAt)
        {
            return await StoreAsync(cancellationToken);
        }

        while (_unsent.Count > 0)
        {
            var (message, messageId, origins) = _unsent[0];
            try
            {
                using var span = MessagingTelemetry.StartBatchSpan("batched publish", origins);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(PublishTimeout);
                await _bus.Publish(message, message.GetType(), context => context.MessageId = messageId, timeout.Token);
                _unsent.RemoveAt(0);
                Sent.Add(1, new KeyValuePair<string, object?>("via", "broker"));
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // The broker is unavailable or slow: the outbox keeps the rest until it is back.
                LogPublishFailed(_logger, ex, _unsent.Count);
                _brokerRetryAt = _time.GetUtcNow() + BrokerRest;
                return await StoreAsync(cancellationToken);
            }
        }

        return true;
    }

    /// <summary>Writes the unsent messages to the outbox; false (they stay unsent) when the write failed.</summary>
    private async Task<bool> StoreAsync(CancellationToken cancellationToken)
    {
        if (_unsent.Count == 0)
        {
            return true;
        }

        try
        {
            // The relay later continues the trace the rows are written in: this span's, which links their requests.
            using var span = MessagingTelemetry.StartBatchSpan("batched store", [.. _unsent.SelectMany(u => u.Origins).DistinctBy(l => l.Context.TraceId).Take(MaxLinks)]);
            await using var scope = _scopeFactory.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TDbContext>();
            foreach (var (message, messageId, _) in _unsent)
            {
                db.AddEvent(message, messageId);
            }

            await db.SaveChangesAsync(cancellationToken);
            Sent.Add(_unsent.Count, new KeyValuePair<string, object?>("via", "outbox"));
            _unsent.Clear();
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Keep them for the next round; the database may be briefly unavailable too.
            LogStoreFailed(_logger, ex, _unsent.Count);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing {Count} batched messages failed; writing them to the outbox")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Count} batched messages to the outbox failed; retrying")]
    private static partial void LogStoreFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "A batching round failed; {Count} messages kept for the next one")]
    private static partial void LogRoundFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Combining a batch of {Count} events failed; sending them uncombined")]
    private static partial void LogCombineFailed(ILogger logger, Exception exception, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dropped {Count} of the oldest batched events: the buffer of {Capacity} is full (the broker and the outbox are not keeping up)")]
    private static partial void LogDropped(ILogger logger, long count, int capacity);
}
