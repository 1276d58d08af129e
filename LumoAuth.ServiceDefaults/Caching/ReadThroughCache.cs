using System.Collections.Concurrent;
using LumoAuth.ServiceDefaults.Http;
using Microsoft.Extensions.Caching.Memory;

namespace LumoAuth.ServiceDefaults.Caching;

/// <summary>
/// A read-through cache for what another service or the database answers (tenants, API keys, key sets, profiles)
/// that never lets a crowd through to the source:
/// <list type="bullet">
/// <item>concurrent misses for one key share one load;</item>
/// <item>a key still in use is reloaded in the background once four fifths of its lifetime have passed, so under
/// steady traffic no request waits for a load and the source sees one call per key and lifetime — not one per
/// request in flight at the moment the entry expires;</item>
/// <item>a value is never served after its lifetime, and a key removed while a load runs is not cached by it — except
/// that a cache built with a <see cref="StaleIfError"/> window serves an expired value for that long while its source
/// cannot be reached (<see cref="RemoteFailures.IsRemoteFailure"/>), as HTTP's <c>stale-if-error</c> does; a removal or
/// <see cref="Clear"/> ends that too.</item>
/// </list>
/// Entries live in the shared <see cref="IMemoryCache"/> (bounded by expiry); keys must be unique across caches.
/// A lifetime of zero or less leaves a value uncached (e.g. a lookup that found nothing and should be asked again).
/// </summary>
public sealed class ReadThroughCache<TValue>(IMemoryCache cache, TimeProvider time, Func<TValue, TimeSpan> lifetimeOf)
{
    /// <summary>While serving a stale value, the source is asked again at most this often (each ask waits out its retries).</summary>
    public static readonly TimeSpan StaleRetryInterval = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<string, Task<TValue>> _loads = new(StringComparer.Ordinal);

    /// <summary>How long past its lifetime a value may still be served while its source is unreachable; zero: never.</summary>
    public TimeSpan StaleIfError { get; init; }

    /// <summary>Told of each failure a stale value was served through (key, the source's failure), e.g. to log it.</summary>
    public Action<string, Exception>? ServedStale { get; init; }

    /// <summary>Bumped by <see cref="Remove"/>: a load that started before a removal does not store its (possibly old) value.</summary>
    private long _removals;

    /// <summary>Bumped by <see cref="Clear"/>: entries stored before it count as missing (their keys are not tracked).</summary>
    private long _generation;

    /// <summary>The cached value, or the value loaded once for every caller waiting for it.</summary>
    public ValueTask<TValue> GetAsync<TState>(string key, TState state, Func<TState, Task<TValue>> load, CancellationToken cancellationToken) =>
        GetAsync(key, state, load, maxAge: null, cancellationToken);

    /// <param name="key">The entry's key in the shared memory cache.</param>
    /// <param name="state">What <paramref name="load"/> needs, passed so a static lambda allocates nothing per call.</param>
    /// <param name="load">Reads the value from its source. It runs shared and may outlive the caller, so it gets no caller's token.</param>
    /// <param name="cancellationToken">Stops this caller's wait, not the shared load.</param>
    /// <param name="maxAge">Treats an older entry as missing (e.g. an unknown signing key id asks for a fresher key set).</param>
    public async ValueTask<TValue> GetAsync<TState>(
        string key, TState state, Func<TState, Task<TValue>> load, TimeSpan? maxAge, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (cache.TryGetValue(key, out Entry? entry) && entry is not null && now < entry.ExpiresAt
            && entry.Generation == Interlocked.Read(ref _generation) && (maxAge is null || now - entry.LoadedAt < maxAge))
        {
            if (now >= entry.RefreshAt && entry.ClaimRefresh())
            {
                // Fire and forget: the caller is answered now. After a failed refresh a later caller tries again, or, while
                // the source is out and the value may be served stale, the value is held and asked for again later.
                _ = LoadOnceAsync(key, state, load).ContinueWith(
                    static (refresh, context) =>
                    {
                        var (self, key, claimed) = ((ReadThroughCache<TValue>, string, Entry))context!;
                        var failure = refresh.Exception!.InnerException ?? refresh.Exception;
                        if (!(failure.IsRemoteFailure(CancellationToken.None) && self.TryHoldStale(key, claimed, failure)))
                        {
                            claimed.ReleaseRefresh();
                        }
                    },
                    (this, key, entry),
                    CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            }

            return entry.Value;
        }

        try
        {
            return await LoadOnceAsync(key, state, load).WaitAsync(cancellationToken);
        }
        catch (Exception exception) when (entry is not null && exception.IsRemoteFailure(cancellationToken) && TryHoldStale(key, entry, exception))
        {
            return entry.Value;
        }
    }

    /// <summary>
    /// Whether <paramref name="entry"/> may stand in for a value its source failed to give (within its stale-if-error
    /// window, not cleared, removed or replaced since). If so it is served as it is from now on, without waiting for the
    /// source, and asked for again in the background every <see cref="StaleRetryInterval"/>.
    /// </summary>
    private bool TryHoldStale(string key, Entry entry, Exception failure)
    {
        if (StaleIfError <= TimeSpan.Zero)
        {
            return false;
        }

        var removals = Interlocked.Read(ref _removals);
        var now = time.GetUtcNow();
        if (entry.StaleUntil <= now || entry.Generation != Interlocked.Read(ref _generation)
            || !cache.TryGetValue(key, out Entry? current) || current is null || !current.IsSameLoadAs(entry))
        {
            return false;
        }

        if (current.ExpiresAt <= now || current.RefreshAt <= now)
        {
            var retryAt = now + StaleRetryInterval < entry.StaleUntil ? now + StaleRetryInterval : entry.StaleUntil;
            cache.Set(key, entry.HeldUntil(retryAt), entry.StaleUntil - now);
            if (Interlocked.Read(ref _removals) != removals)
            {
                // Removed (an eviction) while it was being held: the removal wins.
                cache.Remove(key);
                return false;
            }
        }

        ServedStale?.Invoke(key, failure);
        return true;
    }

    public void Remove(string key)
    {
        Interlocked.Increment(ref _removals);
        cache.Remove(key);
    }

    /// <summary>
    /// Keeps every load now in flight from storing its value, for a removal whose key is not known (e.g. a revoked API
    /// key this replica is verifying for the first time: its answer may predate the revocation).
    /// </summary>
    public void DiscardLoadsInFlight() => Interlocked.Increment(ref _removals);

    /// <summary>
    /// Forgets every entry of this cache, and keeps loads in flight from storing: for when evictions may have been
    /// missed (e.g. this replica's eviction queue was lost in a broker reconnect).
    /// </summary>
    public void Clear()
    {
        Interlocked.Increment(ref _removals);
        Interlocked.Increment(ref _generation);
    }

    private Task<TValue> LoadOnceAsync<TState>(string key, TState state, Func<TState, Task<TValue>> load)
    {
        var mine = new TaskCompletionSource<TValue>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = _loads.GetOrAdd(key, mine.Task);
        if (shared == mine.Task)
        {
            _ = LoadAndStoreAsync(key, state, load, mine);
        }

        return shared;
    }

    private async Task LoadAndStoreAsync<TState>(string key, TState state, Func<TState, Task<TValue>> load, TaskCompletionSource<TValue> result)
    {
        TValue value;
        try
        {
            var removals = Interlocked.Read(ref _removals);
            var generation = Interlocked.Read(ref _generation);
            value = await load(state);
            var lifetime = lifetimeOf(value);
            if (lifetime > TimeSpan.Zero && Interlocked.Read(ref _removals) == removals)
            {
                // Only a value found is served stale: "nothing there" is asked again as usual.
                var stale = value is null ? TimeSpan.Zero : StaleIfError;
                var now = time.GetUtcNow();
                cache.Set(key, new Entry(value, generation, now, now + lifetime * 0.8, now + lifetime, now + lifetime + stale), lifetime + stale);
                if (Interlocked.Read(ref _removals) != removals)
                {
                    // A removal came between the check and the store: it wins (at worst a newer value is loaded again).
                    cache.Remove(key);
                }
            }
        }
        catch (Exception exception)
        {
            // Out of the in-flight map first: a caller arriving from now on starts a new load, not this failed one.
            _loads.TryRemove(new KeyValuePair<string, Task<TValue>>(key, result.Task));
            result.SetException(exception);
            return;
        }

        _loads.TryRemove(new KeyValuePair<string, Task<TValue>>(key, result.Task));
        result.SetResult(value);
    }

    private sealed class Entry(
        TValue value, long generation, DateTimeOffset loadedAt, DateTimeOffset refreshAt, DateTimeOffset expiresAt, DateTimeOffset staleUntil)
    {
        private int _refreshing;

        public TValue Value { get; } = value;

        public long Generation { get; } = generation;

        public DateTimeOffset LoadedAt { get; } = loadedAt;

        public DateTimeOffset RefreshAt { get; } = refreshAt;

        public DateTimeOffset ExpiresAt { get; } = expiresAt;

        /// <summary>The end of the stale-if-error window: never moved by <see cref="HeldUntil"/>.</summary>
        public DateTimeOffset StaleUntil { get; } = staleUntil;

        /// <summary>The same value, served as it is to the end of its stale window, and asked for again from <paramref name="retryAt"/>.</summary>
        public Entry HeldUntil(DateTimeOffset retryAt) => new(Value, Generation, LoadedAt, retryAt, StaleUntil, StaleUntil);

        /// <summary>Whether both hold the value of one load (held or not).</summary>
        public bool IsSameLoadAs(Entry other) => LoadedAt == other.LoadedAt && StaleUntil == other.StaleUntil && Generation == other.Generation;

        public bool ClaimRefresh() => Interlocked.Exchange(ref _refreshing, 1) == 0;

        public void ReleaseRefresh() => Volatile.Write(ref _refreshing, 0);
    }
}
