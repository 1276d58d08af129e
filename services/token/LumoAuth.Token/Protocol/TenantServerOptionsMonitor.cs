using System.Collections.Concurrent;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Keys;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// One OpenIddict server configuration per tenant, built once and cached: the registered configuration
/// with the tenant's issuer and keys swapped in before OpenIddict's post-configuration (which validates
/// and sorts the keys). OpenIddict reads its options several times per request, also outside tenant
/// paths, so a "no tenant" instance exists whose only endpoint cannot be reached.
/// </summary>
public sealed class TenantServerOptionsMonitor(
    IEnumerable<IConfigureOptions<OpenIddictServerOptions>> setups,
    IEnumerable<IPostConfigureOptions<OpenIddictServerOptions>> postConfigures,
    IEnumerable<IValidateOptions<OpenIddictServerOptions>> validators,
    IHttpContextAccessor httpContextAccessor,
    TenantKeyStore keyStore,
    TimeProvider time,
    IOptions<LumoAuthOptions> lumoOptions) : IOptionsMonitor<OpenIddictServerOptions>
{
    private readonly IConfigureOptions<OpenIddictServerOptions>[] _setups = setups.ToArray();
    private readonly IPostConfigureOptions<OpenIddictServerOptions>[] _postConfigures = postConfigures.ToArray();
    private readonly IValidateOptions<OpenIddictServerOptions>[] _validators = validators.ToArray();
    // Keyed by id and issuer: one per host a tenant is served on; a renamed tenant, or a new primary domain, gets fresh ones.
    private readonly ConcurrentDictionary<(Guid Id, string Issuer), Entry> _byTenant = new();
    private OpenIddictServerOptions? _noTenant;

    public OpenIddictServerOptions CurrentValue => ForRequest(httpContextAccessor.HttpContext);

    /// <summary>The configuration pinned to the request; the unusable "no tenant" one outside tenant requests.</summary>
    public OpenIddictServerOptions ForRequest(HttpContext? context)
    {
        if (context?.Features.Get<PinnedOptions>() is { } pinned)
        {
            return pinned.Options;
        }

        // Never built here: a synchronous wait for the key store would block an I/O thread (and could deadlock one
        // that runs socket completions inline), so tenant requests go through PinForRequestAsync first.
        return context?.RequestServices.GetService<TenantContext>()?.Tenant is null
            ? _noTenant ??= BuildNoTenant()
            : throw new InvalidOperationException("A tenant request read OpenIddict's options before TenantPathMiddleware pinned them.");
    }

    public OpenIddictServerOptions Get(string? name) => CurrentValue;

    public IDisposable? OnChange(Action<OpenIddictServerOptions, string?> listener) => null;

    /// <summary>
    /// Builds the tenant's configuration if needed and pins it to the request: every read of the options during the
    /// request sees this one, even if a rotation or an eviction replaces the cached one meanwhile.
    /// </summary>
    public async ValueTask<OpenIddictServerOptions> PinForRequestAsync(HttpContext context, TenantInfo tenant)
    {
        // The issuer depends on the host the request came in on (the deployment's, or one of the tenant's domains).
        var options = await EnsureAsync(tenant, lumoOptions.Value.IssuerFor(context.Request, tenant), context.RequestAborted);
        context.Features.Set(new PinnedOptions(options));
        return options;
    }

    /// <summary>Builds and caches the tenant's configuration (loading or creating its keys) if not done yet.</summary>
    private async ValueTask<OpenIddictServerOptions> EnsureAsync(TenantInfo tenant, string issuer, CancellationToken cancellationToken)
    {
        if (_byTenant.TryGetValue((tenant.Id, issuer), out var cached) && !SameIssuers(cached.Tenant, tenant))
        {
            // The tenant's domains changed: the issuers its tokens may name did too.
            _byTenant.TryRemove(new KeyValuePair<(Guid, string), Entry>((tenant.Id, issuer), cached));
            cached = null;
        }

        if (cached is not null)
        {
            if (!IsStale(cached))
            {
                if (!ReferenceEquals(cached.Tenant, tenant))
                {
                    // The directory reloaded the tenant, unchanged: remember this copy, so the next comparison is by reference.
                    _byTenant.TryUpdate((tenant.Id, issuer), cached with { Tenant = tenant }, cached);
                }

                return cached.Options;
            }

            var current = await keyStore.GetAsync(tenant.Id, cancellationToken);
            if (ReferenceEquals(current.Signing, cached.Signing))
            {
                // Read again, the same keys: the configuration stays, only its next re-read moves.
                _byTenant.TryUpdate((tenant.Id, issuer), cached with { RefreshAfter = current.RefreshAfter }, cached);
                return cached.Options;
            }

            _byTenant.TryRemove(new KeyValuePair<(Guid, string), Entry>((tenant.Id, issuer), cached));
        }

        var keys = await keyStore.GetAsync(tenant.Id, cancellationToken);
        var issuers = lumoOptions.Value.IssuersOf(tenant);
        var options = Build(o =>
        {
            // Pinned: never inferred from the Host header, which a caller controls.
            o.Issuer = new Uri(issuer, UriKind.Absolute);
            // Codes and refresh tokens issued on another of the tenant's hosts name its issuer there: still the tenant's.
            o.TokenValidationParameters.ValidIssuers = [.. issuers, .. issuers.Select(i => i + "/")];
            o.SigningCredentials.AddRange(keys.Signing);
            o.EncryptionCredentials.AddRange(keys.Encryption);
        });
        var valid = issuers.ToHashSet(StringComparer.Ordinal);
        foreach (var stale in _byTenant.Keys.Where(k => k.Id == tenant.Id && !valid.Contains(k.Issuer)))
        {
            _byTenant.TryRemove(stale, out _);
        }

        return _byTenant.GetOrAdd((tenant.Id, issuer), new Entry(options, keys.RefreshAfter, keys.Signing, tenant)).Options;
    }

    private static bool SameIssuers(TenantInfo built, TenantInfo now) =>
        ReferenceEquals(built, now)
        || (built.Slug == now.Slug && (built.Domains ?? []).SequenceEqual(now.Domains ?? []));

    // A retired key's grace period ended, or the keys are due a re-read: the configuration is rebuilt from the store.
    private bool IsStale(Entry entry) => entry.RefreshAfter is { } refreshAfter && time.GetUtcNow() >= refreshAfter;

    /// <param name="Tenant">The tenant as it was when the configuration was built (its domains name the valid issuers).</param>
    private sealed record Entry(OpenIddictServerOptions Options, DateTimeOffset? RefreshAfter, IReadOnlyList<SigningCredentials> Signing, TenantInfo Tenant);

    private sealed record PinnedOptions(OpenIddictServerOptions Options);

    /// <summary>Drops a tenant's configuration (key rotation, settings change); the next request rebuilds it.</summary>
    public void Evict(Guid tenantId)
    {
        keyStore.Evict(tenantId);
        foreach (var key in _byTenant.Keys.Where(k => k.Id == tenantId))
        {
            _byTenant.TryRemove(key, out _);
        }
    }

    private OpenIddictServerOptions BuildNoTenant() => Build(o =>
    {
        // Valid but unusable: ephemeral keys, and only token/authorization endpoints under a slug that never resolves
        // ("-" is not a valid slug, so the tenant middleware answers 404 before OpenIddict runs).
        foreach (var list in new[]
        {
            o.ConfigurationEndpointUris, o.JsonWebKeySetEndpointUris, o.TokenEndpointUris, o.IntrospectionEndpointUris,
            o.RevocationEndpointUris, o.AuthorizationEndpointUris, o.PushedAuthorizationEndpointUris, o.EndSessionEndpointUris,
            o.UserInfoEndpointUris, o.DeviceAuthorizationEndpointUris, o.EndUserVerificationEndpointUris,
        })
        {
            list.Clear();
        }

        o.TokenEndpointUris.Add(new Uri("t/-/oauth/token", UriKind.Relative));
        // The code flow needs an authorization endpoint to pass validation; this one is as unreachable.
        o.AuthorizationEndpointUris.Add(new Uri("t/-/oauth/authorize", UriKind.Relative));
        // So do the device flow's two endpoints.
        o.DeviceAuthorizationEndpointUris.Add(new Uri("t/-/oauth/device_authorization", UriKind.Relative));
        o.EndUserVerificationEndpointUris.Add(new Uri("t/-/oauth/device", UriKind.Relative));
        o.SigningCredentials.Add(new SigningCredentials(new RsaSecurityKey(System.Security.Cryptography.RSA.Create(2048)), SecurityAlgorithms.RsaSha256));
        o.EncryptionCredentials.Add(new EncryptingCredentials(
            new SymmetricSecurityKey(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            SecurityAlgorithms.Aes256KW, SecurityAlgorithms.Aes256CbcHmacSha512));
    });

    private OpenIddictServerOptions Build(Action<OpenIddictServerOptions> tenantSpecific)
    {
        var options = new OpenIddictServerOptions();
        foreach (var setup in _setups)
        {
            if (setup is IConfigureNamedOptions<OpenIddictServerOptions> named)
            {
                named.Configure(Options.DefaultName, options);
            }
            else
            {
                setup.Configure(options);
            }
        }

        options.SigningCredentials.Clear();
        options.EncryptionCredentials.Clear();
        tenantSpecific(options);

        var signingOrder = options.SigningCredentials.ToList();
        foreach (var post in _postConfigures)
        {
            post.PostConfigure(Options.DefaultName, options);
        }

        // OpenIddict signs with the first credential; its sort cannot tell our active key from the ones in
        // their grace period, so the order the key store chose (active first) is restored.
        options.SigningCredentials.Sort((left, right) => signingOrder.IndexOf(left).CompareTo(signingOrder.IndexOf(right)));

        foreach (var validator in _validators)
        {
            var result = validator.Validate(Options.DefaultName, options);
            if (result.Failed)
            {
                throw new OptionsValidationException(Options.DefaultName, typeof(OpenIddictServerOptions), result.Failures);
            }
        }

        return options;
    }
}
