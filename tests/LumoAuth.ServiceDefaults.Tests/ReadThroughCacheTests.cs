using LumoAuth.ServiceDefaults.Caching;
using Microsoft.Extensions.Caching.Memory;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>The cache in front of admin, the token service and the databases: no crowd reaches the source.</summary>
public sealed class ReadThroughCacheTests : IDisposable
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);
    private readonly MemoryCache _memory = new(new MemoryCacheOptions());
    private readonly ManualClock _clock = new();
    private readonly ReadThroughCache<string?> _cache;
    private int _loads;

    public ReadThroughCacheTests() => _cache = new ReadThroughCache<string?>(_memory, _clock, value => value is null ? TimeSpan.Zero : Lifetime);

    public void Dispose() => _memory.Dispose();

    /// <summary>Counts the call, then answers what <paramref name="answer"/> gives.</summary>
    private ValueTask<string?> GetAsync(Func<int, Task<string?>> answer, TimeSpan? maxAge = null, CancellationToken cancellationToken = default) =>
        _cache.GetAsync("key", (test: this, answer), static lookup => lookup.answer(Interlocked.Increment(ref lookup.test._loads)), maxAge, cancellationToken);

    private static Func<int, Task<string?>> Numbered => call => Task.FromResult<string?>($"value {call}");

    [Fact]
    public async Task ConcurrentMisses_ShareOneLoad()
    {
        var source = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);

        var callers = Enumerable.Range(0, 64).Select(_ => GetAsync(_ => source.Task).AsTask()).ToList();
        source.SetResult("tenant");

        Assert.All(await Task.WhenAll(callers), value => Assert.Equal("tenant", value));
        Assert.Equal(1, _loads);
        Assert.Equal("tenant", await GetAsync(Numbered));
        Assert.Equal(1, _loads);
    }

    [Fact]
    public async Task EntryInUse_IsReloadedInTheBackgroundBeforeItExpires()
    {
        Assert.Equal("value 1", await GetAsync(Numbered));

        _clock.Advance(Lifetime * 0.5);
        Assert.Equal("value 1", await GetAsync(Numbered));
        Assert.Equal(1, _loads);

        // Past four fifths of its lifetime: this caller still gets the cached value, and one reload starts.
        _clock.Advance(Lifetime * 0.35);
        var reload = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Assert.Equal("value 1", await GetAsync(_ => reload.Task));
        Assert.Equal("value 1", await GetAsync(Numbered));
        Assert.Equal(2, _loads);

        reload.SetResult("value 2");
        await WaitUntilAsync(async () => await GetAsync(Numbered) == "value 2");
        Assert.Equal(2, _loads);
    }

    [Fact]
    public async Task Value_IsNeverServedAfterItsLifetime()
    {
        Assert.Equal("value 1", await GetAsync(Numbered));

        _clock.Advance(Lifetime + TimeSpan.FromSeconds(1));

        Assert.Equal("value 2", await GetAsync(Numbered));
        Assert.Equal(2, _loads);
    }

    [Fact]
    public async Task Remove_DuringALoad_KeepsThatLoadsValueOutOfTheCache()
    {
        var source = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = GetAsync(_ => source.Task).AsTask();

        _cache.Remove("key");
        source.SetResult("before the change");

        Assert.Equal("before the change", await waiting);
        Assert.Equal("value 2", await GetAsync(Numbered));
        Assert.Equal("value 2", await GetAsync(Numbered));
    }

    [Fact]
    public async Task DiscardLoadsInFlight_KeepsTheirValuesOutOfTheCache()
    {
        var source = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var waiting = GetAsync(_ => source.Task).AsTask();

        _cache.DiscardLoadsInFlight();
        source.SetResult("from before the revocation");

        Assert.Equal("from before the revocation", await waiting);
        Assert.Equal("value 2", await GetAsync(Numbered));
    }

    [Fact]
    public async Task Remove_DropsTheEntry()
    {
        Assert.Equal("value 1", await GetAsync(Numbered));

        _cache.Remove("key");

        Assert.Equal("value 2", await GetAsync(Numbered));
    }

    [Fact]
    public async Task FailedLoad_ReachesEveryWaiter_AndTheNextCallTriesAgain()
    {
        var source = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var callers = Enumerable.Range(0, 3).Select(_ => GetAsync(_ => source.Task).AsTask()).ToList();

        source.SetException(new HttpRequestException("admin is down"));

        foreach (var caller in callers)
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => caller);
        }

        Assert.Equal(1, _loads);
        Assert.Equal("value 2", await GetAsync(Numbered));
    }

    [Fact]
    public async Task FailedBackgroundReload_KeepsTheValue_AndALaterCallerTriesAgain()
    {
        Assert.Equal("value 1", await GetAsync(Numbered));
        _clock.Advance(Lifetime * 0.9);

        Assert.Equal("value 1", await GetAsync(_ => Task.FromException<string?>(new HttpRequestException("admin is down"))));
        // The failed reload changed nothing; a later caller starts the next one.
        await WaitUntilAsync(async () => await GetAsync(Numbered) == "value 3");
        Assert.Equal(3, _loads);
    }

    [Fact]
    public async Task ZeroLifetime_IsNotCached()
    {
        Assert.Null(await GetAsync(_ => Task.FromResult<string?>(null)));
        Assert.Equal("value 2", await GetAsync(Numbered));
    }

    [Fact]
    public async Task MaxAge_TreatsAnOlderEntryAsMissing()
    {
        Assert.Equal("value 1", await GetAsync(Numbered));
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal("value 1", await GetAsync(Numbered, maxAge: TimeSpan.FromSeconds(10)));

        _clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal("value 2", await GetAsync(Numbered, maxAge: TimeSpan.FromSeconds(10)));
        Assert.Equal("value 2", await GetAsync(Numbered));
    }

    [Fact]
    public async Task CancelledCaller_StopsWaiting_WithoutCancellingTheSharedLoad()
    {
        var source = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var cancel = new CancellationTokenSource();
        var leaving = GetAsync(_ => source.Task, cancellationToken: cancel.Token).AsTask();
        var staying = GetAsync(Numbered).AsTask();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving);
        source.SetResult("tenant");

        Assert.Equal("tenant", await staying);
        Assert.Equal(1, _loads);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(10);
        }

        Assert.Fail("condition not met within 2 s");
    }

    internal sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
