using System.Collections.Concurrent;
using System.Diagnostics;
using LumoAuth.Contracts;
using LumoAuth.Messaging.Outbox;
using LumoAuth.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LumoAuth.Messaging.Tests;

/// <summary>A test-only contract: an event a consumer raises because of another.</summary>
public sealed record WidgetNoticed(Guid WidgetId) : IntegrationEvent;

/// <summary>
/// What a consumer does because of an event stays tied to it: its log lines carry the event's tenant and correlation id,
/// the events it raises keep that correlation id, and an event written through the outbox continues the trace of the
/// work that wrote it, although a background loop publishes it later.
/// </summary>
public sealed class EventOriginTests(EventOriginTests.OriginHost host) : IClassFixture<EventOriginTests.OriginHost>
{
    private static readonly ActivitySource TestSource = new("LumoAuth.Tests.EventOrigin");

    [Fact]
    public async Task EventRaisedByAConsumer_KeepsTheCorrelationId_AndItsLogLinesCarryTheEventsOrigin()
    {
        var widgetId = Guid.NewGuid();
        var tenantId = Guid.NewGuid();
        await host.Host.Services.GetRequiredService<IBus>().Publish(
            new WidgetCreated(widgetId, "origin") { TenantId = tenantId, CorrelationId = "incident-7" });

        var noticed = await ApiAssert.EventuallyAsync(() => Task.FromResult(host.Seen.Noticed.TryGetValue(widgetId, out var seen) ? seen : null));
        Assert.Equal("incident-7", noticed.CorrelationId);

        var line = Assert.Single(host.Scopes.Lines, l => l.Message.Contains(widgetId.ToString(), StringComparison.Ordinal));
        Assert.Equal(tenantId, line.Scope["TenantId"]);
        Assert.Equal("incident-7", line.Scope["CorrelationId"]);
        Assert.NotNull(line.Scope["MessageId"]);
    }

    [Fact]
    public async Task EventWrittenThroughTheOutbox_IsHandledInTheTraceThatWroteIt()
    {
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "MassTransit" or "LumoAuth.Messaging" or "LumoAuth.Tests.EventOrigin",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        var widgetId = Guid.NewGuid();
        ActivityTraceId traceId;
        using (var request = TestSource.StartActivity("a request"))
        {
            traceId = request!.TraceId;
            await using var scope = host.Host.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<WidgetDbContext>();
            db.AddEvent(new WidgetNoticed(widgetId) { TenantId = Guid.NewGuid() });
            await db.SaveChangesAsync();
        }

        var noticed = await ApiAssert.EventuallyAsync(() => Task.FromResult(host.Seen.Noticed.TryGetValue(widgetId, out var seen) ? seen : null));
        Assert.Equal(traceId, noticed.TraceId);
    }

    public sealed record Noticed(string? CorrelationId, ActivityTraceId? TraceId);

    public sealed class Seen
    {
        public ConcurrentDictionary<Guid, Noticed> Noticed { get; } = new();
    }

    /// <summary>Raises <see cref="WidgetNoticed"/> through the outbox because of each widget created, and says so in its log.</summary>
    public sealed class NoticingConsumer(WidgetDbContext db, ILogger<NoticingConsumer> logger) : IConsumer<WidgetCreated>
    {
        public async Task Consume(ConsumeContext<WidgetCreated> context)
        {
            logger.LogInformation("Noticing widget {WidgetId}", context.Message.WidgetId);
            db.AddEvent(new WidgetNoticed(context.Message.WidgetId) { TenantId = context.Message.TenantId });
            await db.SaveChangesAsync(context.CancellationToken);
        }
    }

    public sealed class NoticedConsumer(Seen seen) : IConsumer<WidgetNoticed>
    {
        public Task Consume(ConsumeContext<WidgetNoticed> context)
        {
            seen.Noticed[context.Message.WidgetId] = new Noticed(context.Message.CorrelationId, Activity.Current?.TraceId);
            return Task.CompletedTask;
        }
    }

    public sealed class OriginHost() : MessagingHost("origin")
    {
        public Seen Seen { get; } = new();

        public ScopeRecorder Scopes { get; } = new();

        protected override void AddServices(IServiceCollection services)
        {
            services.AddSingleton(Seen);
            services.AddSingleton<ILoggerProvider>(Scopes);
        }

        protected override void AddConsumers(IBusRegistrationConfigurator bus)
        {
            bus.AddConsumer<NoticingConsumer>();
            bus.AddConsumer<NoticedConsumer>();
        }
    }

    /// <summary>Records each log line with the values of the scopes open around it.</summary>
    public sealed class ScopeRecorder : ILoggerProvider, ISupportExternalScope
    {
        private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

        public ConcurrentQueue<(string Message, Dictionary<string, object?> Scope)> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Recorder(this);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public void Dispose()
        {
        }

        private sealed class Recorder(ScopeRecorder owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => owner._scopes.Push(state);

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var scope = new Dictionary<string, object?>();
                owner._scopes.ForEachScope(
                    (value, values) =>
                    {
                        if (value is IEnumerable<KeyValuePair<string, object?>> pairs)
                        {
                            foreach (var (key, item) in pairs)
                            {
                                values[key] = item;
                            }
                        }
                    },
                    scope);
                owner.Lines.Enqueue((formatter(state, exception), scope));
            }
        }
    }
}
