using System.Text.RegularExpressions;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Caching;
using Microsoft.Extensions.Caching.Memory;

namespace LumoAuth.ServiceDefaults.Tenancy;

/// <summary>Where tenants come from: admin's database in the admin service, admin's internal API elsewhere.</summary>
public interface ITenantSource
{
    Task<TenantInfo?> FindBySlugAsync(string slug, CancellationToken cancellationToken);
}

/// <summary>
/// Cached slug → tenant lookup: one lookup per tenant per minute, O(1) per request whatever the number of tenants,
/// evicted at once by tenant events. A busy tenant is reloaded in the background before its entry expires, so its
/// requests never all ask admin at once.
/// </summary>
public sealed partial class TenantDirectory(ITenantSource source, IMemoryCache cache, TimeProvider time)
{
    private static readonly TimeSpan Found = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Missing = TimeSpan.FromSeconds(2);

    // Unknown slugs are cached only briefly, so a tenant created a moment ago is found soon anyway.
    private readonly ReadThroughCache<TenantInfo?> _tenants = new(cache, time, tenant => tenant is null ? Missing : Found);

    public static bool IsValidSlug(string slug) => SlugPattern().IsMatch(slug);

    public ValueTask<TenantInfo?> FindAsync(string slug, CancellationToken cancellationToken) =>
        IsValidSlug(slug)
            ? _tenants.GetAsync(Key(slug), (source, slug), static lookup => lookup.source.FindBySlugAsync(lookup.slug, CancellationToken.None), cancellationToken)
            : ValueTask.FromResult<TenantInfo?>(null);

    public void Evict(string slug) => _tenants.Remove(Key(slug));

    /// <summary>Forgets every tenant, for when <c>TenantUpdated</c> events may have been missed.</summary>
    public void Clear() => _tenants.Clear();

    private static string Key(string slug) => "tenant:" + slug;

    [GeneratedRegex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]
    private static partial Regex SlugPattern();
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
}
