using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace LumoAuth.Testing;

/// <summary>
/// Appends every error a service under test logs (with its exception and trace id, which the error envelope
/// returns as <c>correlationId</c>) to the file named by <c>LUMOAUTH_SERVER_ERROR_LOG</c>, so a test that only
/// sees a 500 in CI can be explained afterwards. <c>eng/test.sh</c> prints the file when a run fails.
/// </summary>
public sealed class ServerErrorLog(string path, string service) : ILoggerProvider
{
    private static readonly Lock FileLock = new();

    public static string? PathFromEnvironment => Environment.GetEnvironmentVariable("LUMOAUTH_SERVER_ERROR_LOG") is { Length: > 0 } path ? path : null;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Write(string category, string message, Exception? exception)
    {
        // One line per error, so that the tail CI shows holds many: the message, each exception's type and message,
        // and the first frame of our own code.
        var line = $"{DateTimeOffset.UtcNow:HH:mm:ss.fff} [{service}] {category} trace={Activity.Current?.TraceId.ToString() ?? "-"}: {Flat(message)}";
        for (var e = exception; e is not null; e = e.InnerException)
        {
            line += $" | {e.GetType().Name}: {Flat(e.Message)}";
        }

        var ours = exception?.StackTrace?.Split('\n').FirstOrDefault(f => f.Contains(" LumoAuth.", StringComparison.Ordinal));
        line += (ours is null ? string.Empty : " @" + ours.Trim()) + Environment.NewLine;
        lock (FileLock)
        {
            File.AppendAllText(path, line);
        }
    }

    private static string Flat(string text) => text.ReplaceLineEndings(" ");

    private sealed class Logger(ServerErrorLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                log.Write(category, formatter(state, exception), exception);
            }
        }
    }
}
