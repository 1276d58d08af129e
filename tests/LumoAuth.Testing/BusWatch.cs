using System.Collections.Concurrent;
using MassTransit;

namespace LumoAuth.Testing;

/// <summary>
/// Watches one in-process service's bus: what it publishes (the outbox relay included) and which messages its consumers
/// finished handling, so a test waits for a consumer rather than for a while. It can also hold matching messages before
/// any consumer sees them (<see cref="Hold{T}"/>), to look at what a request did by itself. Connect it before the traffic
/// it should see; disposing it lets held messages go and disconnects it.
/// </summary>
public sealed class BusWatch : IPublishObserver, IConsumeObserver, IDisposable
{
    private readonly ConcurrentQueue<object> _published = new();
    private readonly ConcurrentQueue<(Guid? MessageId, object Message)> _handled = new();
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConnectHandle _publishing;
    private readonly ConnectHandle _consuming;
    private Func<object, bool> _held = _ => false;

    public BusWatch(IBus bus)
    {
        _publishing = bus.ConnectPublishObserver(this);
        _consuming = bus.ConnectConsumeObserver(this);
    }

    /// <summary>The messages of type <typeparamref name="T"/> published so far.</summary>
    public IReadOnlyList<T> Published<T>(Func<T, bool>? match = null) =>
        [.. _published.OfType<T>().Where(m => match is null || match(m))];

    /// <summary>
    /// How many times a message of type <typeparamref name="T"/> was handled without error: once per delivery and queue
    /// that consumes it (a redelivery counts again).
    /// </summary>
    public int Handled<T>(Func<T, bool> match, Guid? messageId = null) =>
        _handled.Count(h => h.Message is T message && match(message) && (messageId is null || h.MessageId == messageId));

    /// <summary>Waits until <see cref="Handled{T}"/> reaches <paramref name="count"/>.</summary>
    public Task WaitForHandledAsync<T>(Func<T, bool> match, int count = 1, Guid? messageId = null) =>
        ApiAssert.EventuallyAsync(() => Task.FromResult(Handled(match, messageId) >= count ? "handled" : null), TimeSpan.FromSeconds(40));

    /// <summary>Holds every matching delivery before its consumers run, until <see cref="Release"/>.</summary>
    public void Hold<T>(Func<T, bool> match) => _held = message => message is T held && match(held);

    public void Release() => _released.TrySetResult();

    public void Dispose()
    {
        Release();
        _publishing.Disconnect();
        _consuming.Disconnect();
    }

    Task IPublishObserver.PrePublish<T>(PublishContext<T> context) => Task.CompletedTask;

    Task IPublishObserver.PostPublish<T>(PublishContext<T> context)
    {
        _published.Enqueue(context.Message);
        return Task.CompletedTask;
    }

    Task IPublishObserver.PublishFault<T>(PublishContext<T> context, Exception exception) => Task.CompletedTask;

    Task IConsumeObserver.PreConsume<T>(ConsumeContext<T> context) =>
        _held(context.Message) ? _released.Task : Task.CompletedTask;

    Task IConsumeObserver.PostConsume<T>(ConsumeContext<T> context)
    {
        _handled.Enqueue((context.MessageId, context.Message));
        return Task.CompletedTask;
    }

    Task IConsumeObserver.ConsumeFault<T>(ConsumeContext<T> context, Exception exception) => Task.CompletedTask;
}
