using System.Collections.Concurrent;
using System.Text.Json;
using LumoAuth.ServiceDefaults.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace LumoAuth.ServiceDefaults.Security;

public static class OpenIdProvidersExtensions
{
    /// <summary>
    /// <see cref="OpenIdProviders"/> and its SSRF-guarded client; <paramref name="allowPrivateTargets"/> lets tests reach
    /// providers on loopback (off in production).
    /// </summary>
    public static IServiceCollection AddOpenIdProviders(this IServiceCollection services, Func<IServiceProvider, bool> allowPrivateTargets)
    {
        services.AddOutsideTargetClient(
            OpenIdProviders.HttpClientName, c => (c.Timeout, c.MaxResponseContentBufferSize) = (TimeSpan.FromSeconds(5), OpenIdProviders.MaxDocumentBytes), allowPrivateTargets);
        services.AddSingleton<OpenIdProviders>();
        return services;
    }
}

/// <summary>What an OpenID provider's discovery document says (OIDC Discovery §3), as far as we use it.</summary>
public sealed record OpenIdProviderMetadata(string Issuer, string? AuthorizationEndpoint, string? TokenEndpoint, string? UserInfoEndpoint, string JwksUri);

/// <summary>
/// Discovery documents and signing keys of the outside OpenID providers and token issuers our services trust (workload
/// issuers at the token service, identity providers at federation), and the key sets clients publish. Fetched through the SSRF-guarded client named
/// <see cref="HttpClientName"/>, only for issuers a tenant configured; a document is believed only when its
/// <c>issuer</c> is the one asked for (OIDC Discovery §4.3) and its endpoints are https. Each answer is kept
/// <see cref="Lifetime"/>; keys are fetched again sooner when a token names a key the set lacks (a rotation), at most
/// once per <see cref="RefetchFloor"/>, which also spaces out attempts after a failure; while the site cannot be reached
/// the last answer serves up to <see cref="StaleIfError"/>.
/// </summary>
public sealed partial class OpenIdProviders(IHttpClientFactory httpClients, TimeProvider time, ILogger<OpenIdProviders> logger)
{
    public const string HttpClientName = "openid-providers";

    /// <summary>Discovery documents and key sets are small; a large answer is a mistake or an attack.</summary>
    public const int MaxDocumentBytes = 128 * 1024;

    /// <summary>
    /// The algorithms an outside token may be signed with: asymmetric only, since a key set's keys are public and an HMAC
    /// "signed" with one proves nothing.
    /// </summary>
    public static readonly IReadOnlyList<string> AsymmetricAlgorithms =
    [
        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
        SecurityAlgorithms.RsaSsaPssSha256, SecurityAlgorithms.RsaSsaPssSha384, SecurityAlgorithms.RsaSsaPssSha512,
        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
    ];

    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(10);

    /// <summary>
    /// What is wrong with an issuer or key set URL a tenant configures, or null: https (the keys' authenticity rests on it),
    /// at most 500 characters, no query, not into the deployment's own network.
    /// </summary>
    public static string? UrlProblem(string url, bool allowPrivateTargets) =>
        url.Length > 500 || !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps || uri.Query.Length > 0
            ? "must be an https URL of at most 500 characters, without a query"
            : SsrfGuard.ProblemWith(url, allowPrivateTargets);
    public static readonly TimeSpan RefetchFloor = TimeSpan.FromSeconds(30);

    /// <summary>Client documents kept before idle ones are dropped to make room.</summary>
    private const int MaxClientDocuments = 5000;
    public static readonly TimeSpan StaleIfError = TimeSpan.FromHours(12);

    private readonly ConcurrentDictionary<string, Entry<OpenIdProviderMetadata>> _documents = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry<IReadOnlyList<SecurityKey>>> _keys = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry<IReadOnlyList<SecurityKey>>> _keySets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry<string>> _metadataKeyUris = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Entry<string>> _clientDocuments = new(StringComparer.Ordinal);

    /// <summary>
    /// The issuer's discovery document; null when it cannot be had or names another issuer. <paramref name="acceptsIssuer"/>
    /// replaces the equality check for providers whose shared document names a template (Microsoft's <c>common</c>).
    /// </summary>
    public Task<OpenIdProviderMetadata?> DiscoverAsync(string issuer, CancellationToken cancellationToken, Func<string, bool>? acceptsIssuer = null) =>
        GetAsync(_documents, issuer, refetch: false, () => FetchDocumentAsync(issuer, acceptsIssuer), cancellationToken);

    /// <summary>
    /// The issuer's signing keys, from <paramref name="jwksUri"/> or else the one its discovery document names; null when
    /// they cannot be had. <paramref name="refetch"/> asks for a fresh copy (a token named a key the cached set lacks).
    /// </summary>
    public async Task<IReadOnlyList<SecurityKey>?> KeysAsync(
        string issuer, string? jwksUri, bool refetch, CancellationToken cancellationToken, Func<string, bool>? acceptsIssuer = null)
    {
        var uri = jwksUri ?? (await DiscoverAsync(issuer, cancellationToken, acceptsIssuer))?.JwksUri;
        return uri is null ? null : await GetAsync(_keys, uri, refetch, () => FetchKeysAsync(uri, withEdwards: false), cancellationToken);
    }

    /// <summary>
    /// The keys to check a token signed with key <paramref name="kid"/>: the cached set, fetched again once when it lacks
    /// that id (the issuer may have rotated since; the refetch floor still holds). Null when no set can be had.
    /// </summary>
    public async Task<IReadOnlyList<SecurityKey>?> KeysForAsync(
        string issuer, string? jwksUri, string? kid, CancellationToken cancellationToken, Func<string, bool>? acceptsIssuer = null)
    {
        var keys = await KeysAsync(issuer, jwksUri, refetch: false, cancellationToken, acceptsIssuer);
        return keys is not null && kid is { Length: > 0 } && !keys.Any(k => k.KeyId == kid)
            ? await KeysAsync(issuer, jwksUri, refetch: true, cancellationToken, acceptsIssuer)
            : keys;
    }

    /// <summary>
    /// A key set by its URL alone, Ed25519 keys (<c>OKP</c>, RFC 8037) kept beside RSA and EC ones: for parties that sign
    /// HTTP messages (AAuth agents and resources), not tokens this library verifies. Null when it cannot be had.
    /// </summary>
    public Task<IReadOnlyList<SecurityKey>?> KeySetAsync(string jwksUri, bool refetch, CancellationToken cancellationToken) =>
        GetAsync(_keySets, jwksUri, refetch, () => FetchKeysAsync(jwksUri, withEdwards: true), cancellationToken);

    /// <summary>
    /// The <c>jwks_uri</c> a party's metadata document at <paramref name="metadataUrl"/> names (AAuth agents publish theirs at
    /// <c>/.well-known/aauth-agent</c>); believed only when it is https on the document's own origin, so a document cannot
    /// point our fetches elsewhere. Null when it cannot be had.
    /// </summary>
    public Task<string?> JwksUriOfAsync(string metadataUrl, bool refetch, CancellationToken cancellationToken) =>
        GetAsync(_metadataKeyUris, metadataUrl, refetch, async () =>
        {
            var (document, problem) = await GetJsonAsync(metadataUrl);
            if (document is null)
            {
                return (null, problem);
            }

            using (document)
            {
                var named = document.RootElement.ValueKind == JsonValueKind.Object ? String(document.RootElement, "jwks_uri") : null;
                return named is not null && Uri.TryCreate(named, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps
                       && uri.UserInfo.Length == 0 && uri.Query.Length == 0 && named.Length <= 500
                       && Uri.Compare(uri, new Uri(metadataUrl), UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0
                    ? (named, null)
                    : ((string?)null, "its metadata names no https jwks_uri on its own origin");
            }
        }, cancellationToken);

    /// <summary>
    /// A document a client publishes (its key set at <c>jwks_uri</c>, RFC 7591; its redirect URIs at
    /// <c>sector_identifier_uri</c>, OIDC Core §8.1), as the text <paramref name="read"/> makes of its JSON; or, when none
    /// can be had, why. <paramref name="kind"/> keeps the kinds apart, each read its own way. The last good copy serves
    /// while the site is out, as for every answer here. <paramref name="refetch"/> asks for a fresh copy (a key id the
    /// copy lacks).
    /// </summary>
    public async Task<(string? Value, string? Problem)> ClientDocumentAsync(
        string kind, string url, bool refetch, Func<JsonElement, (string? Value, string? Problem)> read, CancellationToken cancellationToken)
    {
        var key = kind + " " + url;
        if (!_clientDocuments.ContainsKey(key) && _clientDocuments.Count >= MaxClientDocuments)
        {
            // Clients name these addresses themselves (open registration too), so room is bounded: copies past their lifetime
            // go (their next use fetches them again; they only lose their stale-if-error reserve).
            foreach (var (idle, _) in _clientDocuments.Where(e => time.GetUtcNow() - e.Value.AttemptedAt > Lifetime).ToList())
            {
                _clientDocuments.TryRemove(idle, out _);
            }
        }

        var entry = await GetEntryAsync(_clientDocuments, key, refetch, async () =>
        {
            var (document, problem) = await GetJsonAsync(url);
            if (document is null)
            {
                return (null, problem);
            }

            using (document)
            {
                return read(document.RootElement);
            }
        }, cancellationToken);
        return (entry.Value, entry.Value is null ? entry.Problem ?? "it has not answered yet" : null);
    }

    private async Task<T?> GetAsync<T>(
        ConcurrentDictionary<string, Entry<T>> entries, string key, bool refetch, Func<Task<(T? Value, string? Problem)>> fetch, CancellationToken cancellationToken)
        where T : class =>
        (await GetEntryAsync(entries, key, refetch, fetch, cancellationToken)).Value;

    private async Task<Entry<T>> GetEntryAsync<T>(
        ConcurrentDictionary<string, Entry<T>> entries, string key, bool refetch, Func<Task<(T? Value, string? Problem)>> fetch, CancellationToken cancellationToken)
        where T : class
    {
        var entry = entries.GetOrAdd(key, _ => new Entry<T>());
        var asked = time.GetUtcNow();
        if (!Due(entry, asked, refetch))
        {
            return entry;
        }

        await entry.Gate.WaitAsync(cancellationToken);
        try
        {
            // Another request may have fetched while this one waited.
            if (entry.AttemptedAt >= asked || !Due(entry, time.GetUtcNow(), refetch))
            {
                return entry;
            }

            var now = time.GetUtcNow();
            entry.AttemptedAt = now;
            var (value, problem) = await fetch();
            entry.Problem = problem;
            if (value is not null)
            {
                (entry.Value, entry.FetchedAt) = (value, now);
            }
            else
            {
                LogFetchFailed(logger, key, problem!);
                if (now - entry.FetchedAt > StaleIfError)
                {
                    entry.Value = null;
                }
            }

            return entry;
        }
        finally
        {
            entry.Gate.Release();
        }
    }

    /// <summary>Whether to fetch: nothing fetched yet, the copy is old, or a fresh copy is asked for — never twice within the floor.</summary>
    private static bool Due<T>(Entry<T> entry, DateTimeOffset now, bool refetch) where T : class =>
        now - entry.AttemptedAt >= RefetchFloor && (entry.Value is null || refetch || now - entry.FetchedAt >= Lifetime);

    private async Task<(OpenIdProviderMetadata? Value, string? Problem)> FetchDocumentAsync(string issuer, Func<string, bool>? acceptsIssuer)
    {
        var (document, problem) = await GetJsonAsync($"{issuer.TrimEnd('/')}/.well-known/openid-configuration");
        if (document is null)
        {
            return (null, problem);
        }

        using (document)
        {
            var root = document.RootElement;
            var named = root.ValueKind == JsonValueKind.Object ? String(root, "issuer") : null;
            if (named is null || !(acceptsIssuer?.Invoke(named) ?? named == issuer))
            {
                return (null, "its discovery document names another issuer");
            }

            string? Endpoint(string name) => String(root, name) is { } url && Uri.TryCreate(url, UriKind.Absolute, out var parsed) && parsed.Scheme == Uri.UriSchemeHttps
                ? parsed.AbsoluteUri
                : null;

            return Endpoint("jwks_uri") is { } jwks
                ? (new OpenIdProviderMetadata(named, Endpoint("authorization_endpoint"), Endpoint("token_endpoint"), Endpoint("userinfo_endpoint"), jwks), null)
                : (null, "its discovery document names no https jwks_uri");
        }
    }

    private async Task<(IReadOnlyList<SecurityKey>? Value, string? Problem)> FetchKeysAsync(string jwksUri, bool withEdwards)
    {
        var (document, problem) = await GetJsonAsync(jwksUri);
        if (document is null)
        {
            return (null, problem);
        }

        using (document)
        {
            try
            {
                // Public signing keys only: an "oct" key in a published set would let anyone forge HMAC signatures.
                var keys = new JsonWebKeySet(document.RootElement.GetRawText()).Keys
                    .Where(k => k.Use is null or JsonWebKeyUseNames.Sig
                        && (k.Kty is JsonWebAlgorithmsKeyTypes.RSA or JsonWebAlgorithmsKeyTypes.EllipticCurve || (withEdwards && k.Kty == "OKP" && k.Crv == "Ed25519")))
                    .Cast<SecurityKey>()
                    .ToList();
                return keys.Count == 0 ? (null, "its key set holds no usable signing key") : (keys, null);
            }
            catch (ArgumentException exception)
            {
                return (null, "its key set cannot be read: " + exception.Message);
            }
        }
    }

    /// <summary>
    /// Not cancelled with the request that asked: its answer serves every request waiting on the same entry (the client's
    /// own timeout bounds it), and a fetch cut short would leave them all without keys until the next attempt.
    /// </summary>
    private async Task<(JsonDocument? Document, string? Problem)> GetJsonAsync(string url)
    {
        var cancellationToken = CancellationToken.None;
        try
        {
            using var response = await httpClients.CreateClient(HttpClientName).GetAsync(url, HttpCompletionOption.ResponseContentRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"{url} answered {(int)response.StatusCode}");
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            return (await JsonDocument.ParseAsync(body, cancellationToken: cancellationToken), null);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException)
        {
            return (null, $"{url}: {exception.GetType().Name}: {exception.Message}");
        }
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Url} of an outside provider or client cannot be fetched: {Problem}")]
    private static partial void LogFetchFailed(ILogger logger, string url, string problem);

    private sealed class Entry<T> where T : class
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public T? Value { get; set; }

        public DateTimeOffset FetchedAt { get; set; } = DateTimeOffset.MinValue;

        public DateTimeOffset AttemptedAt { get; set; } = DateTimeOffset.MinValue;

        /// <summary>Why the last attempt found nothing; null after a good one.</summary>
        public string? Problem { get; set; }
    }
}
