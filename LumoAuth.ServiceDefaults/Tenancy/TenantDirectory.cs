using System.Text.RegularExpressions;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Caching;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Http;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Logging;

namespace LumoAuth.ServiceDefaults.Tenancy;

/// <summary>Where tenants come from: admin's database in the admin service, admin's internal API elsewhere.</summary>
public interface ITenantSource
{
    Task<TenantInfo?> FindBySlugAsync(string slug, CancellationToken cancellationToken);

    Task<TenantInfo?> FindByIdAsync(Guid id, CancellationToken cancellationToken);
}

/// <summary>
/// Cached slug → tenant lookup: one lookup per tenant per minute, O(1) per request whatever the number of tenants,
/// evicted at once by tenant events. A busy tenant is reloaded in the background before its entry expires, so its
/// requests never all ask admin at once. While admin cannot be reached a tenant already known is served as last
/// seen for up to <see cref="StaleIfAdminDown"/> (admin is where tenants change, so nothing can have changed it
/// meanwhile but an event still on its way); a tenant not known answers 503, never a 500.
/// </summary>
public sealed partial class TenantDirectory(ITenantSource source, IMemoryCache cache, TimeProvider time, ILogger<TenantDirectory> logger)
{
    private static readonly TimeSpan Found = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Missing = TimeSpan.FromSeconds(2);

    /// <summary>As long as the services keep validating tokens with the last key set they fetched (JwksCache).</summary>
    public static readonly TimeSpan StaleIfAdminDown = TimeSpan.FromHours(1);

    // Unknown slugs are cached only briefly, so a tenant created a moment ago is found soon anyway.
    private readonly ReadThroughCache<TenantInfo?> _tenants = new(cache, time, tenant => tenant is null ? Missing : Found)
    {
        StaleIfError = StaleIfAdminDown,
        ServedStale = (key, exception) => LogServedStale(logger, exception, key),
    };

    public static bool IsValidSlug(string slug) => SlugPattern().IsMatch(slug);

    public async ValueTask<TenantInfo?> FindAsync(string slug, CancellationToken cancellationToken)
    {
        if (!IsValidSlug(slug))
        {
            return null;
        }

        try
        {
            return await _tenants.GetAsync(
                Key(slug), (source, slug), static lookup => lookup.source.FindBySlugAsync(lookup.slug, CancellationToken.None), cancellationToken);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("The tenant directory (admin) cannot be reached.", exception);
        }
    }

    /// <summary>
    /// The tenant an internal call names by id and slug, when the slug names that tenant (the calling service read both
    /// from its own request); null otherwise, e.g. after a rename one of the two has not heard of yet.
    /// </summary>
    public async ValueTask<TenantInfo?> FindAsync(Guid id, string? slug, CancellationToken cancellationToken) =>
        !string.IsNullOrEmpty(slug) && await FindAsync(slug, cancellationToken) is { } tenant && tenant.Id == id ? tenant : null;

    /// <summary>
    /// The tenant with this id, uncached: for jobs across tenants (a few calls a round), which store ids, not slugs that
    /// a rename changes. Throws <see cref="DependencyUnavailableException"/> when admin cannot be reached.
    /// </summary>
    public async Task<TenantInfo?> FindByIdAsync(Guid id, CancellationToken cancellationToken)
    {
        try
        {
            return await source.FindByIdAsync(id, cancellationToken);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            throw new DependencyUnavailableException("The tenant directory (admin) cannot be reached.", exception);
        }
    }

    public void Evict(string slug) => _tenants.Remove(Key(slug));

    /// <summary>Forgets every tenant, for when <c>TenantUpdated</c> events may have been missed.</summary>
    public void Clear() => _tenants.Clear();

    private static string Key(string slug) => "tenant:" + slug;

    [GeneratedRegex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]
    private static partial Regex SlugPattern();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Admin could not be asked about {CacheKey}; serving the tenant as last seen")]
    private static partial void LogServedStale(ILogger logger, Exception exception, string cacheKey);
}

/// <summary>Asks admin's internal API.</summary>
public sealed class AdminTenantSource(IHttpClientFactory httpClientFactory) : ITenantSource
{
    public async Task<TenantInfo?> FindBySlugAsync(string slug, CancellationToken cancellationToken)
    {
        var client = httpClientFactory.CreateClient(Http.InternalClients.Admin);
        using var response = await client.GetAsync(
            new Uri(InternalRoutes.TenantBySlug.Replace("{slug}", Uri.EscapeDataString(slug), StringComparison.Ordinal), UriKind.Relative),
            cancellationToken);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<TenantInfo>(response.Content, cancellationToken);
    }

    public async Task<TenantInfo?> FindByIdAsync(Guid id, CancellationToken cancellationToken)
    {
        using var response = await httpClientFactory.CreateClient(Http.InternalClients.Admin).GetAsync(
            new Uri(InternalRoutes.TenantById.Replace("{id:guid}", id.ToString(), StringComparison.Ordinal), UriKind.Relative), cancellationToken);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            return null;
        }

        response.EnsureSuccessStatusCode();
        return await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<TenantInfo>(response.Content, cancellationToken);
    }
}
