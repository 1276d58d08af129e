using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LumoAuth.ServiceDefaults.Hosting;

/// <summary>
/// Housekeeping that runs in a fresh scope every <see cref="Interval"/>. The first round waits a minute, so a restarting
/// fleet does not clean up while it warms up. A failed round is logged and the next one retries; several replicas
/// running the same job only share its work, so jobs must be safe to run concurrently. <see cref="RunSoon"/> starts the
/// next round without waiting for the interval (work a request has just handed over).
/// </summary>
public abstract partial class PeriodicJob(IServiceScopeFactory scopeFactory, TimeProvider time, ILogger logger) : BackgroundService
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMinutes(1);

    // One pending wake-up at most: several calls during a round still make one more round.
    private readonly SemaphoreSlim _wake = new(0, 1);

    protected TimeProvider Time { get; } = time;

    protected ILogger Logger { get; } = logger;

    protected abstract TimeSpan Interval { get; }

    /// <summary>Ends the current wait: a round starts now, or right after the one that is running.</summary>
    public void RunSoon()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // A wake-up is already pending.
        }
    }

    /// <summary>One round, with services from its own scope.</summary>
    protected abstract Task RunOnceAsync(IServiceProvider services, CancellationToken cancellationToken);

    protected sealed override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = FirstDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            using (var waiting = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
            {
                var woken = _wake.WaitAsync(waiting.Token);
                await Task.WhenAny(Task.Delay(delay, Time, waiting.Token), woken);
                await waiting.CancelAsync();
                await woken.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await using var scope = scopeFactory.CreateAsyncScope();
                await RunOnceAsync(scope.ServiceProvider, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogRoundFailed(Logger, GetType().Name, ex);
            }

            delay = Interval;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Job} round failed; the next round retries")]
    private static partial void LogRoundFailed(ILogger logger, string job, Exception exception);
}
