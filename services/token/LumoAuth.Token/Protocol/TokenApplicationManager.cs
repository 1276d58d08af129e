using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Token;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// OpenIddict's application manager with two changes for the hot path: client lookups come from a
/// process-wide cache keyed by tenant (OpenIddict's own entity cache is per request and keyed by
/// client_id alone), and secrets are hashed with SHA-256 (<see cref="ClientSecrets"/>).
/// </summary>
public sealed class TokenApplicationManager(
    IOpenIddictApplicationCache<TokenApplication> cache,
    ILogger<OpenIddictApplicationManager<TokenApplication>> logger,
    IOptionsMonitor<OpenIddictCoreOptions> options,
    IOpenIddictApplicationStore<TokenApplication> store,
    TenantContext tenantContext,
    ClientCache clientCache)
    : OpenIddictApplicationManager<TokenApplication>(cache, logger, options, store)
{
    public override async ValueTask<TokenApplication?> FindByClientIdAsync(string identifier, CancellationToken cancellationToken = default)
    {
        if (!tenantContext.HasTenant || string.IsNullOrEmpty(identifier) || identifier.Length > 200)
        {
            return null;
        }

        if (!clientCache.TryGet(tenantContext.TenantId, identifier, out var application))
        {
            application = await base.FindByClientIdAsync(identifier, cancellationToken);
            clientCache.Set(tenantContext.TenantId, identifier, application);
        }

        // A deactivated client is, for every protocol purpose, unknown: it cannot authenticate or get tokens.
        return application is { IsActive: true } ? application : null;
    }

    protected override ValueTask<string> ObfuscateClientSecretAsync(string secret, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(ClientSecrets.Hash(secret));

    protected override ValueTask<bool> ValidateClientSecretAsync(string secret, string comparand, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(ClientSecrets.Verify(secret, comparand));
}

/// <summary>
/// Clients by (tenant, client_id), shared by all requests of the process. Entries are read-only snapshots:
/// never update an entity taken from here. Evicted on change (and by <c>ClientUpdated</c>/<c>ClientDeleted</c>
/// on other replicas through <c>ClientCacheEvictionConsumer</c>); unknown ids are remembered only briefly.
/// </summary>
public sealed class ClientCache(IMemoryCache cache)
{
    private static readonly TimeSpan Found = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Missing = TimeSpan.FromSeconds(5);

    public bool TryGet(Guid tenantId, string clientId, out TokenApplication? application)
    {
        var found = cache.TryGetValue(Key(tenantId, clientId), out CachedClient? entry);
        application = entry?.Application;
        return found;
    }

    /// <summary>The cached client with what the token endpoint's direct path needs, or null when not cached (or unknown).</summary>
    public CachedClient? Find(Guid tenantId, string clientId) =>
        cache.TryGetValue(Key(tenantId, clientId), out CachedClient? entry) ? entry : null;

    public void Set(Guid tenantId, string clientId, TokenApplication? application) =>
        cache.Set(Key(tenantId, clientId), application is null ? null : new CachedClient(application), application is null ? Missing : Found);

    public void Evict(Guid tenantId, string clientId) => cache.Remove(Key(tenantId, clientId));

    private static string Key(Guid tenantId, string clientId) => $"client:{tenantId:N}:{clientId}";
}

/// <summary>A cached client and, derived once from it, its client-credentials profile.</summary>
public sealed class CachedClient(TokenApplication application)
{
    private ClientCredentialsProfile? _profile;

    public TokenApplication Application { get; } = application;

    public ClientCredentialsProfile Profile => _profile ??= ClientCredentialsProfile.Of(Application);
}
