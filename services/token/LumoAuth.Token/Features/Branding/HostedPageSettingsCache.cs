using System.Collections.Concurrent;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Http;

namespace LumoAuth.Token.Features.Branding;

/// <summary>
/// A tenant's hosted-page settings (branding, registration switch) from admin's internal API, cached per tenant.
/// Admin's <c>TenantSettingsChanged</c> evicts an entry at once; the lifetime only bounds staleness should an
/// event be lost. A failure is remembered briefly too, so an unreachable admin slows down one page, not every one.
/// </summary>
public sealed partial class HostedPageSettingsCache(IHttpClientFactory httpClientFactory, TimeProvider time, ILogger<HostedPageSettingsCache> logger)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan FailureLifetime = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);
    private readonly ConcurrentDictionary<Guid, (HostedPageSettings? Settings, DateTimeOffset Expires)> _entries = new();

    /// <summary>The settings, or null when admin cannot say (the caller falls back to a plain page).</summary>
    public async Task<HostedPageSettings?> GetAsync(Guid tenantId, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_entries.TryGetValue(tenantId, out var entry) && entry.Expires > now)
        {
            return entry.Settings;
        }

        var settings = await FetchAsync(tenantId, cancellationToken);
        if (settings is null && cancellationToken.IsCancellationRequested)
        {
            return null;
        }

        _entries[tenantId] = (settings, now + (settings is null ? FailureLifetime : Lifetime));
        return settings;
    }

    public void Evict(Guid tenantId) => _entries.TryRemove(tenantId, out _);

    private async Task<HostedPageSettings?> FetchAsync(Guid tenantId, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            var client = httpClientFactory.CreateClient(InternalClients.Admin);
            using var response = await client.GetAsync(InternalRoutes.HostedPageSettings.Replace("{tenantId:guid}", tenantId.ToString(), StringComparison.Ordinal), timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogUnavailable(logger, (int)response.StatusCode, null);
                return null;
            }

            return await response.Content.ReadFromJsonAsync<HostedPageSettings>(timeout.Token);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or System.Text.Json.JsonException)
        {
            LogUnavailable(logger, null, ex);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hosted-page settings unavailable from admin (status {Status}); pages render unbranded")]
    private static partial void LogUnavailable(ILogger logger, int? status, Exception? exception);
}
