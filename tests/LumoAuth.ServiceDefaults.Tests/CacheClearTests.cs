using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Caching;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>Clearing a whole cache, for when its eviction events may have been missed (a broker reconnect).</summary>
public sealed class CacheClearTests : IDisposable
{
    private readonly MemoryCache _memory = new(new MemoryCacheOptions());
    private int _loads;

    public void Dispose() => _memory.Dispose();

    private ValueTask<string> GetAsync(ReadThroughCache<string> cache, string key) =>
        cache.GetAsync(key, this, static test => Task.FromResult($"load {Interlocked.Increment(ref test._loads)}"), default);

    [Fact]
    public async Task Clear_ReloadsEveryKeyOfThatCache_AndNoOtherCache()
    {
        var cleared = new ReadThroughCache<string>(_memory, TimeProvider.System, _ => TimeSpan.FromMinutes(5));
        var other = new ReadThroughCache<string>(_memory, TimeProvider.System, _ => TimeSpan.FromMinutes(5));
        await GetAsync(cleared, "a");
        await GetAsync(cleared, "b");
        var kept = await GetAsync(other, "c");

        cleared.Clear();

        Assert.Equal("load 4", await GetAsync(cleared, "a"));
        Assert.Equal("load 5", await GetAsync(cleared, "b"));
        Assert.Equal(kept, await GetAsync(other, "c"));
        Assert.Equal("load 4", await GetAsync(cleared, "a")); // cached again after the clear
    }

    [Fact]
    public async Task Clear_KeepsALoadInFlight_FromStoringItsOlderValue()
    {
        var cache = new ReadThroughCache<string>(_memory, TimeProvider.System, _ => TimeSpan.FromMinutes(5));
        var source = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var inFlight = cache.GetAsync("a", source, static s => s.Task, default).AsTask();

        cache.Clear();
        source.SetResult("before the clear");

        Assert.Equal("before the clear", await inFlight); // its caller is answered
        Assert.Equal("load 1", await GetAsync(cache, "a")); // but it was not stored
    }

    [Fact]
    public async Task TenantDirectory_Clear_AsksTheSourceAgain()
    {
        var source = new CountingTenants();
        var directory = new TenantDirectory(source, _memory, TimeProvider.System, NullLogger<TenantDirectory>.Instance);
        await directory.FindAsync("acme", default);
        await directory.FindAsync("acme", default);
        Assert.Equal(1, source.Calls);

        directory.Clear();

        await directory.FindAsync("acme", default);
        Assert.Equal(2, source.Calls);
    }

    [Fact]
    public async Task ApiKeyVerifier_Clear_EndsAVerificationWhoseRevocationWasMissed()
    {
        var source = new RevocableKeys();
        var verifier = new ApiKeyVerifier(source, _memory, TimeProvider.System, NullLogger<ApiKeyVerifier>.Instance);
        var tenant = Guid.NewGuid();
        Assert.NotNull(await verifier.VerifyAsync(tenant, "lmk_key", default));
        source.Revoked = true; // its ApiKeyRevoked never reached this replica

        verifier.Clear();

        Assert.Null(await verifier.VerifyAsync(tenant, "lmk_key", default));
    }

    private sealed class CountingTenants : ITenantSource
    {
        public int Calls { get; private set; }

        public Task<TenantInfo?> FindByIdAsync(Guid id, CancellationToken cancellationToken) => Task.FromResult<TenantInfo?>(null);

        public Task<TenantInfo?> FindBySlugAsync(string slug, CancellationToken cancellationToken)
        {
            Calls++;
            return Task.FromResult<TenantInfo?>(new TenantInfo(Guid.NewGuid(), slug, slug, TenantStatuses.Active, "eu"));
        }
    }

    private sealed class RevocableKeys : IApiKeySource
    {
        private readonly Guid _keyId = Guid.NewGuid();

        public bool Revoked { get; set; }

        public Task<VerifiedApiKey?> VerifyAsync(Guid tenantId, string key, CancellationToken cancellationToken) =>
            Task.FromResult(Revoked ? null : new VerifiedApiKey(_keyId, tenantId, "key", [], null));
    }
}
