using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Extensions;
using LumoAuth.Token.Features.Clients;
using Microsoft.Extensions.Options;
using OpenIddict.Server;
using static OpenIddict.Abstractions.OpenIddictConstants;
using static OpenIddict.Server.OpenIddictServerEvents;

namespace LumoAuth.Token.Protocol;

/// <summary>
/// Request objects by reference (OIDC Core §6.2, RFC 9101 §5.2): an authorization request whose <c>request_uri</c> is an
/// https URL of the client's, where it published the signed request object. Only addresses the client registered
/// (<c>requestUris</c>, OIDC Registration's <c>request_uris</c>; discovery says <c>require_request_uri_registration</c>) are
/// fetched, through the SSRF-guarded client, once per request: the object then travels through the hosted pages by
/// value like one sent in <c>request</c>, and is verified exactly as that one is (<see cref="SignedRequestObjects"/>).
/// A pushed request's URN is not an address and is left to OpenIddict.
/// </summary>
public static partial class RequestObjectReferences
{
    public const string HttpClientName = "request-objects";

    /// <summary>OIDC Core §6.2: a request URI should not exceed 512 ASCII characters.</summary>
    public const int MaxUriLength = 512;

    public const int MaxRegistered = 20;

    /// <summary>OIDC Core §3.1.2.6: the address answered an error, or something that is not a request object.</summary>
    public const string InvalidRequestUri = "invalid_request_uri";

    public static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Whether a <c>request_uri</c> names an address to fetch, rather than a pushed request (a URN).</summary>
    public static bool IsAddress(string? requestUri) =>
        requestUri is not null && (requestUri.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || requestUri.StartsWith("http://", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// What is wrong with a registered request URI, or null: an absolute https URL of at most <see cref="MaxUriLength"/>
    /// characters, without credentials or dot segments, outside the deployment's own network; it may end in <c>/*</c> to
    /// take every address under that path (clients often publish one object per request). A fragment (OIDC Registration:
    /// the hash of the object, for caching) is kept as registered and set aside when matching.
    /// </summary>
    public static string? RegisteredProblem(string entry, bool allowPrivateTargets)
    {
        if (entry.Length > MaxUriLength)
        {
            return $"must be at most {MaxUriLength} characters";
        }

        var withoutFragment = WithoutFragment(entry);
        var wildcard = withoutFragment.EndsWith("/*", StringComparison.Ordinal);
        if (wildcard && withoutFragment.Length != entry.Length)
        {
            return "may not have a fragment after '/*'";
        }

        var address = wildcard ? withoutFragment[..^1] : withoutFragment;
        if (address.Contains('*', StringComparison.Ordinal))
        {
            return "may hold '*' only as its last path segment ('/*')";
        }

        if (HasDotSegments(address))
        {
            return "must not hold '.' or '..' path segments";
        }

        if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || uri.AbsolutePath.Length == 0 || (wildcard && uri.Query.Length > 0))
        {
            return "must be an absolute URL (a '/*' ending after its path, without a query)";
        }

        return SsrfGuard.ProblemWith(address, allowPrivateTargets);
    }

    /// <summary>
    /// Whether <paramref name="requestUri"/> is one of the registered addresses, character for character, or under one that
    /// ends in <c>/*</c>; fragments are set aside on both sides (never sent, and we keep no copy to check a hash against).
    /// </summary>
    public static bool IsRegistered(IReadOnlyList<string>? registered, string requestUri)
    {
        var address = WithoutFragment(requestUri);
        return registered is not null && !HasDotSegments(address) && registered.Select(WithoutFragment).Any(entry => entry.EndsWith("/*", StringComparison.Ordinal)
            ? address.Length > entry.Length - 1 && address.StartsWith(entry[..^1], StringComparison.Ordinal)
            : string.Equals(entry, address, StringComparison.Ordinal));
    }

    /// <summary>The request URIs a create or update leaves the client with: absent keeps them, an empty list removes them.</summary>
    public static IReadOnlyList<string>? Validate(
        RequestValidator validator, IReadOnlyList<string>? requested, IReadOnlyList<string>? current, bool hasKeys, bool allowPrivateTargets)
    {
        var entries = requested is null ? current ?? [] : requested.Select(u => u?.Trim() ?? string.Empty).Distinct(StringComparer.Ordinal).ToList();
        validator.Check(entries.Count <= MaxRegistered, "requestUris", $"at most {MaxRegistered} request URIs");
        foreach (var entry in entries)
        {
            if (RegisteredProblem(entry, allowPrivateTargets) is { } problem)
            {
                validator.Add("requestUris", $"'{Shorten(entry)}' {problem}");
            }
        }

        validator.Check(entries.Count == 0 || hasKeys, "requestUris", "request objects are verified with the client's keys: register its public keys");
        return entries.Count == 0 ? null : entries;
    }

    private static string WithoutFragment(string uri) => uri.IndexOf('#', StringComparison.Ordinal) is var hash and >= 0 ? uri[..hash] : uri;

    // Uri removes dot segments (also escaped ones), which would let an address climb out of a registered '/*' path.
    private static bool HasDotSegments(string address)
    {
        var start = address.IndexOf("//", StringComparison.Ordinal) is var scheme and >= 0 ? address.IndexOf('/', scheme + 2) : -1;
        if (start < 0)
        {
            return false;
        }

        var path = address[start..].Split('?')[0];
        return path.Split('/').Any(segment => segment is "." or ".."
            || segment.Replace("%2e", ".", StringComparison.OrdinalIgnoreCase) is "." or "..");
    }

    private static string Shorten(string value) => value.Length <= 80 ? value : value[..80] + "…";

    /// <summary>
    /// Fetches the object a <c>request_uri</c> address names and puts it in <c>request</c>, where
    /// <see cref="SignedRequestObjects.Unpack"/> verifies it next.
    /// </summary>
    public sealed partial class Fetch(
        ClientCache clients, TenantContext tenant, IHttpClientFactory httpClients, IOptions<TokenServiceOptions> options, ILogger<Fetch> logger) :
        IOpenIddictServerHandler<ExtractAuthorizationRequestContext>
    {
        public static OpenIddictServerHandlerDescriptor Descriptor { get; }
            = OpenIddictServerHandlerDescriptor.CreateBuilder<ExtractAuthorizationRequestContext>()
                .UseScopedHandler<Fetch>()
                .SetOrder(SignedRequestObjects.Unpack.AuthorizationDescriptor.Order - 1)
                .SetType(OpenIddictServerHandlerType.Custom)
                .Build();

        public async ValueTask HandleAsync(ExtractAuthorizationRequestContext context)
        {
            if (context.Transaction.Request is not { } request || !IsAddress(request.RequestUri))
            {
                return;
            }

            var requestUri = request.RequestUri!;
            if (request.GetParameter(Parameters.Request) is not null)
            {
                context.Reject(Errors.InvalidRequest, "Send either 'request' or 'request_uri', not both.");
                return;
            }

            if (string.IsNullOrEmpty(request.ClientId))
            {
                context.Reject(Errors.InvalidRequest, "A request_uri comes with the client_id parameter beside it.");
                return;
            }

            if (tenant.Tenant is not { } info || await clients.SettingsAsync(info, request.ClientId, context.CancellationToken) is not { } client)
            {
                context.Reject(Errors.InvalidClient, "The client is not known to this tenant.");
                return;
            }

            if (requestUri.Length > MaxUriLength || !IsRegistered(client.RequestUris, requestUri))
            {
                context.Reject(InvalidRequestUri, "The request_uri is not one the client registered (requestUris).");
                return;
            }

            var (jwt, problem) = await GetAsync(WithoutFragment(requestUri), context.CancellationToken);
            if (jwt is null)
            {
                LogRefused(logger, info.Id, request.ClientId, problem!);
                context.Reject(InvalidRequestUri, "The request object cannot be had from the request_uri: " + problem);
                return;
            }

            request.RemoveParameter(Parameters.RequestUri);
            request.SetParameter(Parameters.Request, jwt);
        }

        private async Task<(string? Jwt, string? Problem)> GetAsync(string address, CancellationToken cancellationToken)
        {
            // The guard at connection time covers names that resolve inward; this covers literal addresses and schemes.
            if (SsrfGuard.ProblemWith(address, options.Value.AllowPrivateLogoutTargets) is { } problem)
            {
                return (null, "the address " + problem);
            }

            // The whole exchange is bounded, the body too (HttpClient's own timeout ends with the headers).
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(FetchTimeout);
            try
            {
                using var response = await httpClients.CreateClient(HttpClientName).GetAsync(address, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
                if (!response.IsSuccessStatusCode)
                {
                    return (null, $"it answered {(int)response.StatusCode}");
                }

                // Read no further than an object may be long: the site is the client's, not ours to trust with our memory.
                await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
                var buffer = new byte[SignedRequestObjects.MaxLength + 1];
                var read = 0;
                while (read < buffer.Length && await stream.ReadAsync(buffer.AsMemory(read), timeout.Token) is var count and > 0)
                {
                    read += count;
                }

                if (read > SignedRequestObjects.MaxLength)
                {
                    return (null, $"its answer is larger than {SignedRequestObjects.MaxLength} bytes");
                }

                var body = System.Text.Encoding.UTF8.GetString(buffer, 0, read).Trim();
                return body.Length == 0 ? (null, "it answered nothing") : (body, null);
            }
            catch (HttpRequestException)
            {
                return (null, "it cannot be reached");
            }
            catch (Exception exception) when (exception is OperationCanceledException or IOException && !cancellationToken.IsCancellationRequested)
            {
                return (null, $"it did not answer in full within {FetchTimeout.TotalSeconds:0} seconds");
            }
        }

        [LoggerMessage(Level = LogLevel.Warning, Message = "A request object of client {ClientId} (tenant {TenantId}) could not be fetched: {Problem}")]
        private static partial void LogRefused(ILogger logger, Guid tenantId, string clientId, string problem);
    }
}
