using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Caching;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Features.Token;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;
using static OpenIddict.Abstractions.OpenIddictConstants;

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
    ClientCache clientCache,
    ClientKeySets keySets)
    : OpenIddictApplicationManager<TokenApplication>(cache, logger, options, store)
{
    /// <summary>
    /// The client's keys for OpenIddict's checks (client assertions, self-signed certificates): those it registered, or
    /// the set it publishes at its <c>jwks_uri</c> (<see cref="ClientKeySets"/>; <see cref="FreshClientAssertionKeys"/>
    /// has it fetched again first when an assertion names a key the copy lacks).
    /// </summary>
    public override async ValueTask<Microsoft.IdentityModel.Tokens.JsonWebKeySet?> GetJsonWebKeySetAsync(TokenApplication application, CancellationToken cancellationToken = default)
    {
        if (!tenantContext.HasTenant
            || await clientCache.SettingsAsync(tenantContext.Tenant!, application.ClientId, cancellationToken) is not { JwksUri: not null } client)
        {
            return await base.GetJsonWebKeySetAsync(application, cancellationToken);
        }

        return await keySets.JwksAsync(client, kid: null, cancellationToken) is { } jwks ? new Microsoft.IdentityModel.Tokens.JsonWebKeySet(jwks) : null;
    }

    public override async ValueTask<TokenApplication?> FindByClientIdAsync(string identifier, CancellationToken cancellationToken = default)
    {
        if (!tenantContext.HasTenant || string.IsNullOrEmpty(identifier) || identifier.Length > ClientMetadataDocuments.MaxClientIdLength)
        {
            return null;
        }

        var application = (await clientCache.GetAsync(tenantContext.Tenant!, identifier, cancellationToken))?.Application;

        // A deactivated client is, for every protocol purpose, unknown: it cannot authenticate or get tokens.
        return application is { IsActive: true } ? application : null;
    }

    /// <summary>PKI mutual TLS (<see cref="TlsClientAuth"/>): the client's own authorities as roots, or null when it has none.</summary>
    public override ValueTask<System.Security.Cryptography.X509Certificates.X509ChainPolicy?> GetPublicKeyInfrastructureTlsClientAuthenticationPolicyAsync(
        TokenApplication application, System.Security.Cryptography.X509Certificates.X509ChainPolicy policy, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(ClientMapping.Read(application).TlsClientCertificateAuthorities is { Count: > 0 } authorities
            ? TlsClientAuth.PolicyFor(authorities, policy)
            : null);

    /// <summary>The certificate chains to the client's authorities and carries its registered subject DN (RFC 8705 §2.1.2).</summary>
    public override ValueTask<bool> ValidatePublicKeyInfrastructureTlsClientCertificateAsync(
        TokenApplication application, System.Security.Cryptography.X509Certificates.X509Certificate2 certificate,
        System.Security.Cryptography.X509Certificates.X509ChainPolicy policy, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(ClientMapping.Read(application).TlsClientAuthSubjectDn is { } subjectDn && TlsClientAuth.Validate(certificate, policy, subjectDn));

    /// <summary>
    /// OpenIddict refuses a confidential client with neither a secret nor a stored key marked <c>use: sig</c>. A dynamic
    /// registration held to <c>private_key_jwt</c> gets no secret, and its keys may be published (<c>jwks_uri</c>, read
    /// through <see cref="GetJsonWebKeySetAsync"/>) or carry no <c>use</c>; they were checked as it registered.
    /// </summary>
    public override async IAsyncEnumerable<System.ComponentModel.DataAnnotations.ValidationResult> ValidateAsync(
        TokenApplication application, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var signsWithItsKeys = string.IsNullOrEmpty(application.ClientSecret)
            && ClientMapping.Read(application) is { TokenEndpointAuthMethod: ClientAuthenticationMethods.PrivateKeyJwt } client
            && (client.Jwks is not null || client.JwksUri is not null);
        await foreach (var result in base.ValidateAsync(application, cancellationToken))
        {
            if (signsWithItsKeys && result.ErrorMessage?.Contains("client secret", StringComparison.OrdinalIgnoreCase) == true)
            {
                continue;
            }

            yield return result;
        }
    }

    protected override ValueTask<string> ObfuscateClientSecretAsync(string secret, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(ClientSecrets.Hash(secret));

    protected override ValueTask<bool> ValidateClientSecretAsync(string secret, string comparand, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(ClientSecrets.Verify(secret, comparand));
}

/// <summary>
/// Clients by (tenant, client_id), shared by all requests of the process and loaded once for all the requests that
/// ask at the same time (<see cref="ReadThroughCache{TValue}"/>). Entries are read-only snapshots: never update an
/// entity taken from here. Evicted on change (and by <c>ClientUpdated</c>/<c>ClientDeleted</c> on other replicas
/// through <c>ClientCacheEvictionConsumer</c>); unknown ids are remembered only briefly.
/// </summary>
public sealed class ClientCache(IMemoryCache cache, TimeProvider time, IServiceScopeFactory scopes)
{
    /// <summary>
    /// How long a replica keeps a client it found, counted from its load: a replica that misses the client's change event
    /// may act on the old client (an active one, say) for this long after the change.
    /// </summary>
    public static readonly TimeSpan FoundLifetime = TimeSpan.FromMinutes(5);

    private static readonly TimeSpan Missing = TimeSpan.FromSeconds(5);

    private readonly ReadThroughCache<CachedClient?> _clients = new(cache, time, client => client is null ? Missing : FoundLifetime);
    private readonly ReadThroughCache<IReadOnlySet<string>> _origins = new(cache, time, _ => TimeSpan.FromMinutes(1));

    /// <summary>The client, or null when the tenant has no client of that id (deactivated ones included).</summary>
    public ValueTask<CachedClient?> GetAsync(TenantInfo tenant, string clientId, CancellationToken cancellationToken) =>
        _clients.GetAsync(Key(tenant.Id, clientId), (scopes, tenant, clientId), static state => LoadAsync(state), cancellationToken);

    /// <summary>
    /// Every browser origin an active client of the tenant registered (<c>allowedOrigins</c>), for CORS requests that
    /// name no client (preflights, userinfo). Kept a minute; any change to a client of the tenant drops it.
    /// </summary>
    public ValueTask<IReadOnlySet<string>> TenantOriginsAsync(TenantInfo tenant, CancellationToken cancellationToken) =>
        _origins.GetAsync(OriginsKey(tenant.Id), (scopes, tenant), static state => LoadOriginsAsync(state), cancellationToken);

    /// <summary>The settings of the client, or null when the tenant has none of that id.</summary>
    public async ValueTask<ClientSettings?> SettingsAsync(TenantInfo tenant, string? clientId, CancellationToken cancellationToken) =>
        string.IsNullOrEmpty(clientId) ? null : (await GetAsync(tenant, clientId, cancellationToken))?.Settings;

    public void Evict(Guid tenantId, string clientId)
    {
        _clients.Remove(Key(tenantId, clientId));
        _origins.Remove(OriginsKey(tenantId));
    }

    /// <summary>Forgets every client, for when <c>ClientUpdated</c>/<c>ClientDeleted</c> events may have been missed.</summary>
    public void Clear()
    {
        _clients.Clear();
        _origins.Clear();
    }

    private static async Task<CachedClient?> LoadAsync((IServiceScopeFactory Scopes, TenantInfo Tenant, string ClientId) state)
    {
        await using var scope = TenantScope(state.Scopes, state.Tenant);
        if (ClientMetadataDocuments.IsDocumentUrl(state.ClientId))
        {
            var documents = scope.ServiceProvider.GetRequiredService<ClientMetadataDocuments>();
            return await documents.ResolveAsync(scope.ServiceProvider, state.Tenant, state.ClientId, CancellationToken.None) is { } described
                ? new CachedClient(described)
                : null;
        }

        var store = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationStore<TokenApplication>>();
        return await store.FindByClientIdAsync(state.ClientId, CancellationToken.None) is { } application
            ? new CachedClient(application)
            : null;
    }

    private static async Task<IReadOnlySet<string>> LoadOriginsAsync((IServiceScopeFactory Scopes, TenantInfo Tenant) state)
    {
        await using var scope = TenantScope(state.Scopes, state.Tenant);
        var lists = await scope.ServiceProvider.GetRequiredService<TokenDbContext>().Applications
            .Where(a => a.IsActive && a.AllowedOrigins != null)
            .Select(a => a.AllowedOrigins!)
            .ToListAsync();
        return lists.SelectMany(ClientMapping.ReadList).ToHashSet(StringComparer.OrdinalIgnoreCase);
    }

    // A scope of its own: a load is shared by requests (and may outlive the one that started it).
    private static AsyncServiceScope TenantScope(IServiceScopeFactory scopes, TenantInfo tenant)
    {
        var scope = scopes.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TenantContext>().Set(tenant);
        return scope;
    }

    private static string Key(Guid tenantId, string clientId) => $"client:{tenantId:N}:{clientId}";

    private static string OriginsKey(Guid tenantId) => $"client-origins:{tenantId:N}";
}

/// <summary>A cached client and, derived once from it, its settings and client-credentials profile.</summary>
public sealed class CachedClient(TokenApplication application)
{
    private ClientSettings? _settings;
    private ClientCredentialsProfile? _profile;
    private IReadOnlySet<string>? _origins;

    public TokenApplication Application { get; } = application;

    /// <summary>The client's settings as the Admin API shows them (FAPI profile, DPoP, audience URIs…), read once.</summary>
    public ClientSettings Settings => _settings ??= ClientMapping.Read(Application);

    public ClientCredentialsProfile Profile => _profile ??= ClientCredentialsProfile.Of(Application, Settings);

    /// <summary>The browser origins the client registered (stored normalized: lower case, no default port).</summary>
    public IReadOnlySet<string> AllowedOrigins => _origins ??= ClientMapping.ReadList(Application.AllowedOrigins).ToHashSet(StringComparer.OrdinalIgnoreCase);
}
