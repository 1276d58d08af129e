using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Caching;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.Token.Extensions;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace LumoAuth.Token.Features.Branding;

/// <summary>
/// A tenant's hosted-page settings (branding, registration switch, session policy) from admin's internal API, cached
/// per tenant. Admin's <c>TenantSettingsChanged</c> evicts an entry at once; the lifetime only bounds staleness should
/// an event be lost. A failure is remembered briefly too, so an unreachable admin slows down one page, not every one.
/// </summary>
public sealed partial class HostedPageSettingsCache(
    IMemoryCache cache, IHttpClientFactory httpClientFactory, TimeProvider time, IOptions<TokenServiceOptions> options, ILogger<HostedPageSettingsCache> logger)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan FailureLifetime = TimeSpan.FromSeconds(30);
    private readonly TimeSpan _timeout = options.Value.SettingsLookupTimeout;

    /// <summary>What applies when admin cannot say: no registration, no branding, admin's default session policy.</summary>
    public static readonly HostedPageSettings Fallback = new(RegistrationEnabled: false, DisplayName: null, LogoUrl: null, PrimaryColor: null);

    private readonly ReadThroughCache<HostedPageSettings?> _settings = new(cache, time, settings => settings is null ? FailureLifetime : Lifetime);

    /// <summary>The settings, or null when admin cannot say (the caller falls back to a plain page).</summary>
    public async Task<HostedPageSettings?> GetAsync(Guid tenantId, CancellationToken cancellationToken) =>
        await _settings.GetAsync(Key(tenantId), (this, tenantId), static state => state.Item1.FetchAsync(state.tenantId), cancellationToken);

    public void Evict(Guid tenantId) => _settings.Remove(Key(tenantId));

    /// <summary>Forgets every tenant's settings, for when <c>TenantSettingsChanged</c> events may have been missed.</summary>
    public void Clear() => _settings.Clear();

    private static string Key(Guid tenantId) => $"hosted-pages:{tenantId:N}";

    // Shared by every caller waiting for it, so bounded by its own timeout rather than a caller's token.
    private async Task<HostedPageSettings?> FetchAsync(Guid tenantId)
    {
        try
        {
            using var timeout = new CancellationTokenSource(_timeout);
            var client = httpClientFactory.CreateClient(InternalClients.Admin);
            using var response = await client.GetAsync(InternalRoutes.HostedPageSettings.Replace("{tenantId:guid}", tenantId.ToString(), StringComparison.Ordinal), timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                LogUnavailable(logger, (int)response.StatusCode, null);
                return null;
            }

            return await response.Content.ReadFromJsonAsync<HostedPageSettings>(timeout.Token);
        }
        catch (Exception ex) when (ex.IsRemoteFailure(CancellationToken.None))
        {
            LogUnavailable(logger, null, ex);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Hosted-page settings unavailable from admin (status {Status}); pages render unbranded")]
    private static partial void LogUnavailable(ILogger logger, int? status, Exception? exception);
}
