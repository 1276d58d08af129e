using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Caching;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>
/// An outage of the source (admin) does not take down what depends on a value already seen: it is served as last seen
/// for a bounded time, and what was never seen is a clear "unavailable", never a 500.
/// </summary>
public sealed class StaleIfErrorTests : IDisposable
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(10);
    private readonly MemoryCache _memory = new(new MemoryCacheOptions());
    private readonly ReadThroughCacheTests.ManualClock _clock = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _servedStale = new();
    private readonly ReadThroughCache<string> _cache;
    private Func<string> _source = () => "fresh";
    private int _loads;

    public StaleIfErrorTests() => _cache = new ReadThroughCache<string>(_memory, _clock, _ => Lifetime)
    {
        StaleIfError = Window,
        ServedStale = (key, _) => _servedStale.Enqueue(key),
    };

    public void Dispose() => _memory.Dispose();

    private ValueTask<string> GetAsync(ReadThroughCache<string>? cache = null) =>
        (cache ?? _cache).GetAsync("key", this, static test =>
        {
            Interlocked.Increment(ref test._loads);
            return Task.FromResult(test._source());
        }, CancellationToken.None);

    private static string Down() => throw new HttpRequestException(HttpRequestError.ConnectionError, "refused");

    [Fact]
    public async Task ExpiredValue_IsServedWhileTheSourceIsDown_AskingAgainInTheBackgroundEveryRetryInterval()
    {
        Assert.Equal("fresh", await GetAsync());
        _clock.Advance(Lifetime + TimeSpan.FromSeconds(1));
        _source = Down;

        Assert.Equal("fresh", await GetAsync());
        Assert.Equal(["key"], _servedStale);
        Assert.Equal(2, _loads);

        // Held: callers of the outage are answered at once, without waiting out another failed load.
        _clock.Advance(ReadThroughCache<string>.StaleRetryInterval / 2);
        Assert.Equal("fresh", await GetAsync());
        Assert.Equal(2, _loads);

        // After the interval the source is asked again, in the background; the caller still gets the value at once.
        _clock.Advance(ReadThroughCache<string>.StaleRetryInterval);
        Assert.Equal("fresh", await GetAsync());
        Assert.Equal(3, _loads);
        await EventuallyAsync(() => _servedStale.Count == 2);

        // The source is back: the next background ask stores its answer.
        _source = () => "newer";
        _clock.Advance(ReadThroughCache<string>.StaleRetryInterval);
        Assert.Equal("fresh", await GetAsync());
        await EventuallyAsync(async () => await GetAsync() == "newer");
    }

    [Fact]
    public async Task NothingFound_IsNotServedStale()
    {
        using var memory = new MemoryCache(new MemoryCacheOptions());
        var cache = new ReadThroughCache<string?>(memory, _clock, value => value is null ? TimeSpan.FromSeconds(2) : Lifetime) { StaleIfError = Window };
        string? answer = null;
        var fail = false;
        ValueTask<string?> Get() => cache.GetAsync("missing", 0, _ => fail ? throw new HttpRequestException("down") : Task.FromResult(answer), CancellationToken.None);

        Assert.Null(await Get());
        fail = true;
        _clock.Advance(TimeSpan.FromSeconds(3));
        await Assert.ThrowsAsync<HttpRequestException>(() => Get().AsTask());
    }

    private static async Task EventuallyAsync(Func<bool> condition) => await EventuallyAsync(() => ValueTask.FromResult(condition()));

    private static async Task EventuallyAsync(Func<ValueTask<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task PastTheWindow_TheFailureIsTheCallers()
    {
        Assert.Equal("fresh", await GetAsync());
        _source = Down;
        _clock.Advance(Lifetime + Window + TimeSpan.FromSeconds(1));

        await Assert.ThrowsAsync<HttpRequestException>(() => GetAsync().AsTask());
    }

    [Fact]
    public async Task RemovedOrClearedValue_IsNeverServedStale()
    {
        Assert.Equal("fresh", await GetAsync());
        _source = Down;
        _clock.Advance(Lifetime + TimeSpan.FromSeconds(1));
        _cache.Remove("key");
        await Assert.ThrowsAsync<HttpRequestException>(() => GetAsync().AsTask());

        _source = () => "fresh";
        Assert.Equal("fresh", await GetAsync());
        _source = Down;
        _clock.Advance(Lifetime + TimeSpan.FromSeconds(1));
        _cache.Clear();
        await Assert.ThrowsAsync<HttpRequestException>(() => GetAsync().AsTask());
    }

    [Fact]
    public async Task AFailureOfOurOwn_OrACacheWithoutAWindow_IsNotCoveredUp()
    {
        Assert.Equal("fresh", await GetAsync());
        _clock.Advance(Lifetime + TimeSpan.FromSeconds(1));
        _source = () => throw new InvalidOperationException("a defect, not an outage");
        await Assert.ThrowsAsync<InvalidOperationException>(() => GetAsync().AsTask());

        using var memory = new MemoryCache(new MemoryCacheOptions());
        var plain = new ReadThroughCache<string>(memory, _clock, _ => Lifetime);
        _source = () => "fresh";
        Assert.Equal("fresh", await GetAsync(plain));
        _clock.Advance(Lifetime + TimeSpan.FromSeconds(1));
        _source = Down;
        await Assert.ThrowsAsync<HttpRequestException>(() => GetAsync(plain).AsTask());
    }

    [Fact]
    public async Task TenantDirectory_KnownTenantOutlivesAnAdminOutage_AnUnknownOneIsUnavailable()
    {
        var source = new SwitchableTenants();
        var directory = new TenantDirectory(source, _memory, _clock, NullLogger<TenantDirectory>.Instance);
        Assert.Equal("acme", (await directory.FindAsync("acme", default))?.Slug);

        source.Down = true;
        _clock.Advance(TimeSpan.FromMinutes(30));

        Assert.Equal("acme", (await directory.FindAsync("acme", default))?.Slug);
        await Assert.ThrowsAsync<DependencyUnavailableException>(() => directory.FindAsync("globex", default).AsTask());

        _clock.Advance(TenantDirectory.StaleIfAdminDown);
        await Assert.ThrowsAsync<DependencyUnavailableException>(() => directory.FindAsync("acme", default).AsTask());
    }

    [Fact]
    public async Task ApiKeyVerifier_KnownKeyOutlivesAShortAdminOutage_AnUnknownOneIsUnavailable()
    {
        var source = new SwitchableKeys();
        var verifier = new ApiKeyVerifier(source, _memory, _clock, NullLogger<ApiKeyVerifier>.Instance);
        var tenant = Guid.NewGuid();
        Assert.NotNull(await verifier.VerifyAsync(tenant, "lmk_known", default));

        source.Down = true;
        _clock.Advance(TimeSpan.FromMinutes(2));

        Assert.NotNull(await verifier.VerifyAsync(tenant, "lmk_known", default));
        await Assert.ThrowsAsync<DependencyUnavailableException>(() => verifier.VerifyAsync(tenant, "lmk_other", default).AsTask());

        _clock.Advance(ApiKeyVerifier.StaleIfAdminDown);
        await Assert.ThrowsAsync<DependencyUnavailableException>(() => verifier.VerifyAsync(tenant, "lmk_known", default).AsTask());
    }

    private sealed class SwitchableTenants : ITenantSource
    {
        public volatile bool Down;

        public Task<TenantInfo?> FindByIdAsync(Guid id, CancellationToken cancellationToken) => Task.FromResult<TenantInfo?>(null);

        public Task<TenantInfo?> FindBySlugAsync(string slug, CancellationToken cancellationToken) =>
            Down ? Task.FromException<TenantInfo?>(new HttpRequestException("admin is down"))
                 : Task.FromResult<TenantInfo?>(new TenantInfo(Guid.NewGuid(), slug, slug, TenantStatuses.Active, "us"));
    }

    private sealed class SwitchableKeys : IApiKeySource
    {
        public volatile bool Down;

        public Task<VerifiedApiKey?> VerifyAsync(Guid tenantId, string key, CancellationToken cancellationToken) =>
            Down ? Task.FromException<VerifiedApiKey?>(new HttpRequestException("admin is down"))
                 : Task.FromResult<VerifiedApiKey?>(new VerifiedApiKey(Guid.NewGuid(), tenantId, "key", ["admin"], null));
    }
}
