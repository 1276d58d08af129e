using System.Collections.Frozen;
using System.Net;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using Microsoft.Extensions.Options;

namespace LumoAuth.Gateway.CustomDomains;

/// <summary>Section <c>Gateway:CustomDomains</c>.</summary>
public sealed class CustomDomainMapOptions
{
    public const string SectionName = "Gateway:CustomDomains";

    /// <summary>Off: every host is served as the deployment's own, by <c>/t/{slug}</c> paths only.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often admin is asked for the verified domains (an unchanged map costs a 304).</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Which tenant each verified custom domain serves: a host → slug lookup in memory, so a request for any host costs no
/// call (an unknown Host header, which anyone can send, never reaches admin). Refreshed from admin in the background;
/// while admin cannot be reached the last map stays in force. A domain verified or removed takes effect within one
/// <see cref="CustomDomainMapOptions.RefreshInterval"/>.
/// </summary>
public sealed partial class CustomDomainMap(
    IHttpClientFactory httpClientFactory, IOptions<CustomDomainMapOptions> options, IOptions<LumoAuth.ServiceDefaults.LumoAuthOptions> lumo,
    ILogger<CustomDomainMap> logger, TimeProvider time)
    : BackgroundService
{
    /// <summary>The HTTP client that reaches admin with the gateway's key.</summary>
    public const string AdminClient = "custom-domain-map";

    private volatile FrozenDictionary<string, CustomDomainRoute> _routes = FrozenDictionary<string, CustomDomainRoute>.Empty;
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private volatile bool _loaded;
    private string? _etag;

    /// <summary>The domain (canonical form) and tenant served on <paramref name="host"/> (no port, any case), if it is a verified custom domain.</summary>
    public bool TryGet(string host, out CustomDomainRoute route) => _routes.TryGetValue(host.TrimEnd('.'), out route!);

    private bool HasKey => lumo.Value.GatewayKey.Length >= LumoAuth.ServiceDefaults.LumoAuthOptions.MinInternalKeyLength;

    private bool Active => options.Value.Enabled && HasKey;

    /// <summary>
    /// Whether a host missing from the map is known not to be a tenant's: the map loaded once (or custom domains are off).
    /// </summary>
    public bool IsComplete => _loaded || !Active;

    /// <summary>
    /// The first load happens before the gateway takes requests (hosted services start first), bounded by
    /// <see cref="StartupWait"/>: until the map is there a tenant's domain would pass for the deployment's own host, where
    /// every tenant's <c>/t/</c> paths are open. Admin unreachable at start: the gateway starts anyway and keeps asking.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.Enabled && !HasKey)
        {
            // Admin answers the map only to the gateway's key; without one no tenant can be served on a domain of its own.
            LogNoGatewayKey(logger);
        }

        if (Active)
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(StartupWait);
            await TryRefreshAsync(bounded.Token);
        }

        await base.StartAsync(cancellationToken);
    }

    private static readonly TimeSpan StartupWait = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!Active)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.Value.RefreshInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            await TryRefreshAsync(stoppingToken);
        }
    }

    private async Task TryRefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RefreshAsync(cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested || ex is OperationCanceledException)
        {
            // Whatever went wrong (the start-up wait running out included), the last map stays and the next round asks
            // again: a failed refresh must never stop the gateway.
            LogRefreshFailed(logger, ex);
        }
    }

    /// <summary>Asks admin for the map now (the background loop does so every interval).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        await _refreshing.WaitAsync(cancellationToken);
        try
        {
            await LoadAsync(cancellationToken);
        }
        finally
        {
            _refreshing.Release();
        }
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var client = httpClientFactory.CreateClient(AdminClient);
        using var request = new HttpRequestMessage(HttpMethod.Get, InternalRoutes.CustomDomains);
        if (_etag is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", _etag);
        }

        using var response = await client.SendAsync(request, cancellationToken);
        if (response.StatusCode == HttpStatusCode.NotModified)
        {
            return;
        }

        response.EnsureSuccessStatusCode();
        var routes = await response.Content.ReadFromJsonAsync<List<CustomDomainRoute>>(cancellationToken) ?? [];
        // Admin refuses the deployment's own names; should one be there anyway, it must not take the platform's traffic.
        var platform = lumo.Value.PublicHost;
        var served = routes.Where(r => r is { Domain.Length: > 0, TenantSlug.Length: > 0 } && !CustomDomainRoute.IsAtOrUnder(r.Domain, platform))
            .DistinctBy(r => r.Domain, StringComparer.OrdinalIgnoreCase).ToList();
        _routes = served.ToFrozenDictionary(r => r.Domain, StringComparer.OrdinalIgnoreCase);
        _etag = response.Headers.ETag?.ToString();
        _loaded = true;
        LogLoaded(logger, served.Count);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Custom domains are not served: LumoAuth:GatewayKey is not set (at least 32 characters)")]
    private static partial void LogNoGatewayKey(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The custom domain map could not be refreshed from admin; the last one stays in force")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Custom domain map loaded: {Count} verified domains")]
    private static partial void LogLoaded(ILogger logger, int count);
}

/// <summary>Stamps the gateway's key on its calls to admin (the custom-domain map, the only one it makes).</summary>
public sealed class GatewayKeyHandler(IOptions<LumoAuth.ServiceDefaults.LumoAuthOptions> options) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Remove(InternalRoutes.GatewayKeyHeader);
        request.Headers.Add(InternalRoutes.GatewayKeyHeader, options.Value.GatewayKey);
        return base.SendAsync(request, cancellationToken);
    }
}
