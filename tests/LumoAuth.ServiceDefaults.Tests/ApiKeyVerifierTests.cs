using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Security;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging.Abstractions;

namespace LumoAuth.ServiceDefaults.Tests;

/// <summary>The verifications every service caches for 30 s: a revocation event must end them, whenever it arrives.</summary>
public sealed class ApiKeyVerifierTests : IDisposable
{
    private static readonly Guid Tenant = Guid.NewGuid();
    private readonly MemoryCache _memory = new(new MemoryCacheOptions());
    private readonly HeldSource _source = new();
    private readonly ApiKeyVerifier _verifier;

    public ApiKeyVerifierTests() => _verifier = new ApiKeyVerifier(_source, _memory, TimeProvider.System, NullLogger<ApiKeyVerifier>.Instance);

    public void Dispose() => _memory.Dispose();

    [Fact]
    public async Task RevocationArrivingDuringTheFirstVerification_IsNotUndoneByItsAnswer()
    {
        // The replica has never seen the key; admin answers "valid" from a read made just before the revocation committed.
        var hold = _source.Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = _verifier.VerifyAsync(Tenant, "lmk_key", default).AsTask();
        _verifier.Evict(HeldSource.KeyId);
        _source.Revoked = true;
        hold.SetResult();

        Assert.NotNull(await first); // the request already in flight is answered as admin answered it
        Assert.Null(await _verifier.VerifyAsync(Tenant, "lmk_key", default));
        Assert.Equal(2, _source.Calls);
    }

    [Fact]
    public async Task RevocationOfACachedKey_EndsItAtOnce()
    {
        Assert.NotNull(await _verifier.VerifyAsync(Tenant, "lmk_key", default));
        Assert.NotNull(await _verifier.VerifyAsync(Tenant, "lmk_key", default));
        Assert.Equal(1, _source.Calls);

        _source.Revoked = true;
        _verifier.Evict(HeldSource.KeyId);

        Assert.Null(await _verifier.VerifyAsync(Tenant, "lmk_key", default));
    }

    private sealed class HeldSource : IApiKeySource
    {
        public static readonly Guid KeyId = Guid.NewGuid();

        public TaskCompletionSource? Hold { get; set; }

        public bool Revoked { get; set; }

        public int Calls { get; private set; }

        public async Task<VerifiedApiKey?> VerifyAsync(Guid tenantId, string key, CancellationToken cancellationToken)
        {
            Calls++;
            var revoked = Revoked; // read before the hold: the answer predates what happens meanwhile
            if (Hold is { } hold)
            {
                Hold = null;
                await hold.Task;
            }

            return revoked ? null : new VerifiedApiKey(KeyId, tenantId, "ci", ["admin"], ExpiresAt: null);
        }
    }
}
