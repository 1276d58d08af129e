using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit;

namespace LumoAuth.Testing;

/// <summary>Records every log line of the service it is registered in (to prove that secrets never reach a log).</summary>
public sealed class RecordingLoggerProvider : ILoggerProvider
{
    public ConcurrentQueue<(string Category, string Message)> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Lines);

    /// <summary>No line recorded so far holds any of these values (compared ignoring case).</summary>
    public void AssertNeverLogged(params string[] secrets)
    {
        foreach (var (category, message) in Lines)
        {
            foreach (var secret in secrets)
            {
                Assert.False(message.Contains(secret, StringComparison.OrdinalIgnoreCase), $"{category} logged '{secret}': {message}");
            }
        }
    }

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<(string, string)> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue((category, formatter(state, exception) + (exception is null ? string.Empty : " " + exception)));
    }
}
