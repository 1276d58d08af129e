using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.Token.Features.Token;

/// <summary>
/// The signing keys of the workload issuers agents trust (Kubernetes clusters, AWS accounts, Google, Azure directories,
/// OpenID Connect providers): from the key set URL an agent names, else from the one the issuer's discovery document
/// names (OIDC Discovery §4, whose <c>issuer</c> must be the issuer asked for). Fetched through the SSRF-guarded client,
/// only for issuers an agent of the tenant trusts; kept <see cref="Lifetime"/>, fetched again sooner when a token names
/// a key not in the set (a rotation) but at most once per <see cref="RefetchFloor"/>; while the issuer cannot be reached
/// the last keys serve up to <see cref="StaleIfError"/>.
/// </summary>
public sealed partial class WorkloadIssuerKeys(IHttpClientFactory httpClients, TimeProvider time, ILogger<WorkloadIssuerKeys> logger)
{
    public const string HttpClientName = "workload-issuers";

    /// <summary>Discovery documents and key sets are small; a large answer is a mistake or an attack.</summary>
    public const int MaxDocumentBytes = 128 * 1024;

    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);
    public static readonly TimeSpan RefetchFloor = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan StaleIfError = TimeSpan.FromHours(12);

    private readonly ConcurrentDictionary<(string Issuer, string? JwksUri), Entry> _entries = new();

    /// <summary>
    /// The issuer's signing keys; null when they cannot be had. <paramref name="refetch"/> asks for a fresh copy (a token
    /// named a key the cached set lacks), which is granted once per <see cref="RefetchFloor"/>.
    /// </summary>
    public async Task<IReadOnlyList<SecurityKey>?> GetAsync(string issuer, string? jwksUri, bool refetch, CancellationToken cancellationToken)
    {
        var entry = _entries.GetOrAdd((issuer, jwksUri), _ => new Entry());
        var asked = time.GetUtcNow();
        if (!Due(entry, asked, refetch))
        {
            return entry.Keys;
        }

        await entry.Gate.WaitAsync(cancellationToken);
        try
        {
            // Another request may have fetched while this one waited.
            if (entry.AttemptedAt >= asked || !Due(entry, time.GetUtcNow(), refetch))
            {
                return entry.Keys;
            }

            var now = time.GetUtcNow();
            entry.AttemptedAt = now;
            var (keys, problem) = await FetchAsync(issuer, jwksUri, cancellationToken);
            if (keys is not null)
            {
                (entry.Keys, entry.FetchedAt) = (keys, now);
            }
            else
            {
                LogFetchFailed(logger, issuer, problem!);
                if (now - entry.FetchedAt > StaleIfError)
                {
                    entry.Keys = null;
                }
            }

            return entry.Keys;
        }
        finally
        {
            entry.Gate.Release();
        }
    }

    /// <summary>Whether to fetch: nothing fetched lately, the copy is old, or a fresh copy is asked for — never twice within the floor.</summary>
    private static bool Due(Entry entry, DateTimeOffset now, bool refetch) =>
        now - entry.AttemptedAt >= RefetchFloor && (entry.Keys is null || refetch || now - entry.FetchedAt >= Lifetime);

    private async Task<(IReadOnlyList<SecurityKey>? Keys, string? Problem)> FetchAsync(string issuer, string? jwksUri, CancellationToken cancellationToken)
    {
        var http = httpClients.CreateClient(HttpClientName);
        try
        {
            if (jwksUri is null)
            {
                var discovery = $"{issuer.TrimEnd('/')}/.well-known/openid-configuration";
                using var document = await GetJsonAsync(http, discovery, cancellationToken);
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("issuer", out var named) || named.ValueKind != JsonValueKind.String
                    || named.GetString() != issuer)
                {
                    return (null, "its discovery document names another issuer");
                }

                if (!root.TryGetProperty("jwks_uri", out var uri) || uri.ValueKind != JsonValueKind.String
                    || !Uri.TryCreate(uri.GetString(), UriKind.Absolute, out var parsed) || parsed.Scheme != Uri.UriSchemeHttps)
                {
                    return (null, "its discovery document names no https jwks_uri");
                }

                jwksUri = parsed.AbsoluteUri;
            }

            using var set = await GetJsonAsync(http, jwksUri, cancellationToken);
            var keys = new JsonWebKeySet(set.RootElement.GetRawText()).Keys
                .Where(k => k.Use is null or JsonWebKeyUseNames.Sig && k.Kty is JsonWebAlgorithmsKeyTypes.RSA or JsonWebAlgorithmsKeyTypes.EllipticCurve)
                .Cast<SecurityKey>()
                .ToList();
            return keys.Count == 0 ? (null, "its key set holds no RSA or EC signing key") : (keys, null);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException or ArgumentException or InvalidOperationException
                                           && !cancellationToken.IsCancellationRequested)
        {
            return (null, exception.GetType().Name + ": " + exception.Message);
        }
    }

    private static async Task<JsonDocument> GetJsonAsync(HttpClient http, string url, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(url, HttpCompletionOption.ResponseContentRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{url} answered {(int)response.StatusCode}");
        }

        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        return await JsonDocument.ParseAsync(body, cancellationToken: cancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The signing keys of workload issuer {Issuer} cannot be fetched: {Problem}")]
    private static partial void LogFetchFailed(ILogger logger, string issuer, string problem);

    private sealed class Entry
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public IReadOnlyList<SecurityKey>? Keys { get; set; }

        public DateTimeOffset FetchedAt { get; set; } = DateTimeOffset.MinValue;

        public DateTimeOffset AttemptedAt { get; set; } = DateTimeOffset.MinValue;
    }
}
