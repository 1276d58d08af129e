using System.Collections.Frozen;
using System.Net;
using System.Net.Http.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Http;
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
    private volatile FrozenDictionary<string, string> _slugs = FrozenDictionary<string, string>.Empty;
    private readonly SemaphoreSlim _refreshing = new(1, 1);
    private string? _etag;

    /// <summary>The tenant served on <paramref name="host"/> (no port, any case), if it is a verified custom domain.</summary>
    public bool TryGetSlug(string host, out string slug) => _slugs.TryGetValue(host.TrimEnd('.'), out slug!);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Enabled)
        {
            return;
        }

        if (lumo.Value.InternalKey.Length < LumoAuth.ServiceDefaults.LumoAuthOptions.MinInternalKeyLength)
        {
            // Admin answers the map only to the internal key; without one no tenant can be served on a domain of its own.
            LogNoInternalKey(logger);
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                LogRefreshFailed(logger, ex);
            }

            try
            {
                await Task.Delay(options.Value.RefreshInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
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
        var client = httpClientFactory.CreateClient(InternalClients.Admin);
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
        _slugs = routes.ToFrozenDictionary(r => r.Domain, r => r.TenantSlug, StringComparer.OrdinalIgnoreCase);
        _etag = response.Headers.ETag?.ToString();
        LogLoaded(logger, routes.Count);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Custom domains are not served: LumoAuth:InternalKey is not set for the gateway")]
    private static partial void LogNoInternalKey(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The custom domain map could not be refreshed from admin; the last one stays in force")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Custom domain map loaded: {Count} verified domains")]
    private static partial void LogLoaded(ILogger logger, int count);
}
