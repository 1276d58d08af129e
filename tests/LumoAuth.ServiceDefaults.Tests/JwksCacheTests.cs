using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>The tenant key sets every service validates access tokens with, while the token service is down and back.</summary>
public sealed class JwksCacheTests : IDisposable
{
    private static readonly TenantInfo Tenant = new(Guid.NewGuid(), "acme", "Acme", "active", "us");
    private readonly MemoryCache _memory = new(new MemoryCacheOptions());
    private readonly ReadThroughCacheTests.ManualClock _clock = new();
    private readonly FlakySource _source = new();
    private readonly JwksCache _cache;

    public JwksCacheTests() => _cache = new JwksCache(_source, _memory, _clock);

    public void Dispose() => _memory.Dispose();

    [Fact]
    public async Task FailedLoad_RefusesAtOnceForAFewSeconds_ThenAsksAgain()
    {
        _source.Down = true;
        await Assert.ThrowsAsync<HttpRequestException>(() => _cache.GetKeysAsync(Tenant, false, default).AsTask());
        Assert.Equal(1, _source.Calls);

        // A crowd of garbage tokens during the outage costs the token service nothing more.
        for (var i = 0; i < 20; i++)
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => _cache.GetKeysAsync(Tenant, i % 2 == 0, default).AsTask());
        }

        Assert.Equal(1, _source.Calls);

        _source.Down = false;
        _clock.Advance(JwksCache.FailureBackoff + TimeSpan.FromMilliseconds(1));
        Assert.Single(await _cache.GetKeysAsync(Tenant, false, default));
        Assert.Equal(2, _source.Calls);
    }

    [Fact]
    public async Task Evict_ForgetsAFailure()
    {
        _source.Down = true;
        await Assert.ThrowsAsync<HttpRequestException>(() => _cache.GetKeysAsync(Tenant, false, default).AsTask());

        _source.Down = false;
        _cache.Evict(Tenant.Id);

        Assert.Single(await _cache.GetKeysAsync(Tenant, false, default));
        Assert.Equal(2, _source.Calls);
    }

    [Fact]
    public async Task DuringAnOutage_TheLastKeySetFetchedIsUsedForAnHour_ThenCallersAreRefused()
    {
        var good = await _cache.GetKeysAsync(Tenant, false, default);
        _source.Down = true;

        // Past the five-minute lifetime the reload fails: the last set fetched still validates tokens.
        _clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Same(good, await _cache.GetKeysAsync(Tenant, false, default));
        Assert.Same(good, await _cache.GetKeysAsync(Tenant, true, default));
        Assert.Equal(2, _source.Calls); // the second caller fell in the failure's back-off

        // The source is asked again after each back-off, and the old set stays in use until an hour after it was fetched.
        _clock.Advance(JwksCache.FailureBackoff + TimeSpan.FromMilliseconds(1));
        Assert.Same(good, await _cache.GetKeysAsync(Tenant, false, default));
        Assert.Equal(3, _source.Calls);

        _clock.Advance(JwksCache.LastKnownGoodLifetime);
        await Assert.ThrowsAsync<HttpRequestException>(() => _cache.GetKeysAsync(Tenant, false, default).AsTask());

        // Back up: a fresh set, and a fresh hour of fallback.
        _source.Down = false;
        _clock.Advance(JwksCache.FailureBackoff + TimeSpan.FromMilliseconds(1));
        Assert.NotSame(good, await _cache.GetKeysAsync(Tenant, false, default));
    }

    [Fact]
    public async Task Evict_ForgetsTheLastKeySet_SoARotatedKeyIsNotKeptAliveByAnOutage()
    {
        await _cache.GetKeysAsync(Tenant, false, default);
        _source.Down = true;
        _cache.Evict(Tenant.Id);

        await Assert.ThrowsAsync<HttpRequestException>(() => _cache.GetKeysAsync(Tenant, false, default).AsTask());
    }

    [Fact]
    public async Task Evict_DuringAFetch_KeepsThatFetchFromBecomingTheFallback()
    {
        // A fetch begun before a rotation without grace ends after its eviction: its old set must not outlive it in an outage.
        var hold = _source.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fetching = _cache.GetKeysAsync(Tenant, false, default).AsTask();
        _cache.Evict(Tenant.Id);
        hold.SetResult();
        Assert.Single(await fetching);

        _source.Down = true;
        await Assert.ThrowsAsync<HttpRequestException>(() => _cache.GetKeysAsync(Tenant, false, default).AsTask());
    }

    private sealed class FlakySource : IJwksSource
    {
        private static readonly string Jwks = PublicJwks();

        public bool Down { get; set; }

        public int Calls { get; private set; }

        /// <summary>When set, the next fetch waits for it before answering.</summary>
        public TaskCompletionSource? Hold { get; set; }

        public async Task<JsonWebKeySet> GetAsync(TenantInfo tenant, CancellationToken cancellationToken)
        {
            Calls++;
            if (Hold is { } hold)
            {
                Hold = null;
                await hold.Task;
            }

            return Down ? throw new HttpRequestException("connection refused") : new JsonWebKeySet(Jwks);
        }

        private static string PublicJwks()
        {
            using var rsa = System.Security.Cryptography.RSA.Create(2048);
            var parameters = rsa.ExportParameters(false);
            return $$"""{"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":"{{Base64UrlEncoder.Encode(parameters.Modulus)}}","e":"{{Base64UrlEncoder.Encode(parameters.Exponent)}}"}]}""";
        }
    }
}
