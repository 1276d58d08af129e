using System.Threading.Channels;
using LumoAuth.ServiceDefaults.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace LumoAuth.ServiceDefaults.Tests;

public sealed class PeriodicJobTests
{
    [Fact]
    public async Task RunSoon_StartsARoundWithoutWaitingForTheInterval_AndCallsDuringARoundMakeOneMore()
    {
        using var services = new ServiceCollection().BuildServiceProvider();
        var job = new CountingJob(services.GetRequiredService<IServiceScopeFactory>());
        await job.StartAsync(CancellationToken.None);
        try
        {
            // Neither the first minute nor the hour between rounds is waited for.
            job.RunSoon();
            await job.Started.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

            // Three calls while that round runs: one more round, not three.
            job.RunSoon();
            job.RunSoon();
            job.RunSoon();
            job.Release.Release();
            await job.Started.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            job.Release.Release();
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            Assert.False(job.Started.Reader.TryRead(out _));
            Assert.Equal(2, job.Rounds);
        }
        finally
        {
            job.Release.Release(10);
            await job.StopAsync(CancellationToken.None);
        }
    }

    private sealed class CountingJob(IServiceScopeFactory scopes) : PeriodicJob(scopes, TimeProvider.System, NullLogger.Instance)
    {
        private int _rounds;

        public Channel<int> Started { get; } = Channel.CreateUnbounded<int>();

        public SemaphoreSlim Release { get; } = new(0);

        public int Rounds => Volatile.Read(ref _rounds);

        protected override TimeSpan Interval => TimeSpan.FromHours(1);

        protected override async Task RunOnceAsync(IServiceProvider services, CancellationToken cancellationToken)
        {
            Started.Writer.TryWrite(Interlocked.Increment(ref _rounds));
            await Release.WaitAsync(cancellationToken);
        }
    }
}
