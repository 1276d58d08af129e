using System.Collections.Concurrent;
using System.Reflection;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>The deny-list copy's refresher outlives any failure: an exception ending it would stop the whole service.</summary>
public sealed class DenyListRefresherTests
{
    [Fact]
    public async Task Refresher_WhenTheRefreshThrowsSomethingOtherThanARedisError_LogsAndKeepsRunning()
    {
        var logger = new ListLogger();
        var mirror = new DenyListMirror(FailingMultiplexer.Create(), TimeProvider.System);
        using var refresher = new DenyListMirror.Refresher(mirror, logger);

        await refresher.StartAsync(CancellationToken.None);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (logger.Errors.IsEmpty && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            Assert.IsType<InvalidOperationException>(Assert.Single(logger.Errors));
            Assert.False(refresher.ExecuteTask!.IsCompleted);
        }
        finally
        {
            await refresher.StopAsync(CancellationToken.None);
        }
    }

    private sealed class ListLogger : ILogger<DenyListMirror.Refresher>
    {
        public ConcurrentQueue<Exception?> Errors { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                Errors.Enqueue(exception);
            }
        }
    }

    /// <summary>A connection whose every call throws what a bug would, not a Redis error.</summary>
    public class FailingMultiplexer : DispatchProxy
    {
        public static IConnectionMultiplexer Create() => DispatchProxy.Create<IConnectionMultiplexer, FailingMultiplexer>();

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            throw new InvalidOperationException("not a Redis error");
    }
}
