using System.Diagnostics;
using LumoAuth.Contracts;
using MassTransit;
using Microsoft.Extensions.Logging;

namespace LumoAuth.Messaging.Consumers;

/// <summary>
/// The integration event a consumer is handling, for what happens because of it: its log lines carry the event's tenant
/// and correlation id, and the events it raises keep that correlation id (the outbox stamps them from here when there is
/// no HTTP request to take it from).
/// </summary>
public static class EventOrigin
{
    private static readonly AsyncLocal<IntegrationEvent?> Handling = new();

    /// <summary>The event being consumed on this flow, if any.</summary>
    public static IntegrationEvent? Current => Handling.Value;

    /// <summary>
    /// The W3C <c>traceparent</c> of the current activity, for an event written now: the outbox relay publishes it later,
    /// from a background loop, and continues this trace from it (<see cref="Outbox.OutboxRelay{TDbContext}"/>).
    /// </summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } activity ? activity.Id : null;

    internal static IDisposable Enter(IntegrationEvent @event)
    {
        var previous = Handling.Value;
        Handling.Value = @event;
        return new Restore(previous);
    }

    private sealed class Restore(IntegrationEvent? previous) : IDisposable
    {
        public void Dispose() => Handling.Value = previous;
    }
}

/// <summary>Opens the log scope and <see cref="EventOrigin"/> of each consumed integration event.</summary>
public sealed class EventOriginFilter<T>(ILogger<EventOriginFilter<T>> logger) : IFilter<ConsumeContext<T>>
    where T : class
{
    public async Task Send(ConsumeContext<T> context, IPipe<ConsumeContext<T>> next)
    {
        if (context.Message is not IntegrationEvent @event)
        {
            await next.Send(context);
            return;
        }

        using var scope = logger.BeginScope(new Dictionary<string, object?>
        {
            ["TenantId"] = @event.TenantId,
            ["CorrelationId"] = @event.CorrelationId,
            ["MessageId"] = context.MessageId,
        });
        using var origin = EventOrigin.Enter(@event);
        await next.Send(context);
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("eventOrigin");
}
