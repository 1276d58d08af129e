using System.Net;
using System.Text.Json;
using LumoAuth.Contracts.Clients;
using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Data;
using LumoAuth.Token.Extensions;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Scopes;
using LumoAuth.Token.Protocol;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;

namespace LumoAuth.Token.Features.Clients;

/// <summary>
/// OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP's preferred way for a client
/// to introduce itself): a <c>client_id</c> that is an https URL names a JSON document of RFC 7591 metadata, which this
/// service fetches when the client is first used and again when its copy has expired. The copy is stored as an ordinary
/// client of the tenant (so every endpoint, consent and the Admin API see it), never with a secret. Only for tenants
/// that switched it on (<c>clientRegistration.clientIdMetadataDocumentsEnabled</c>): like open dynamic registration,
/// it lets anyone's application ask the tenant's users for consent.
/// </summary>
public sealed partial class ClientMetadataDocuments(
    IHttpClientFactory httpClients,
    HostedPageSettingsCache settings,
    TimeProvider time,
    IOptions<TokenServiceOptions> options,
    ILogger<ClientMetadataDocuments> logger)
{
    public const string HttpClientName = "client-metadata-documents";

    /// <summary>The longest client_id kept (a URL); other client ids are GUIDs.</summary>
    public const int MaxClientIdLength = 1000;

    /// <summary>The draft suggests 5 KB: metadata is small, and a large answer is a waste or an attack.</summary>
    public const int MaxDocumentBytes = 5 * 1024;

    private static readonly TimeSpan FetchTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long a copy is used when the document's answer says nothing about caching.</summary>
    private static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(1);

    /// <summary>Bounds on the answer's <c>max-age</c>: not fetched on every sign-in, not trusted for days.</summary>
    private static readonly TimeSpan MinLifetime = TimeSpan.FromMinutes(5);

    private static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(24);

    /// <summary>While the document's site is down, an expired copy still serves this long (stale-if-error).</summary>
    private static readonly TimeSpan StaleIfError = TimeSpan.FromHours(24);

    /// <summary>Whether a client_id is meant as a document's URL (the ids this service gives out are GUIDs).</summary>
    public static bool IsDocumentUrl(string? clientId) =>
        clientId is not null && clientId.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    /// <summary>What is wrong with a client_id as a document URL (draft §3), or null when it may be fetched.</summary>
    public static string? UrlProblem(string clientId, bool allowPrivateTargets)
    {
        if (clientId.Length > MaxClientIdLength || !Uri.TryCreate(clientId, UriKind.Absolute, out var uri))
        {
            return "is not a URL of at most 1000 characters";
        }

        if (!clientId.StartsWith("https://", StringComparison.Ordinal) || uri.Scheme != Uri.UriSchemeHttps)
        {
            return "must use the https scheme";
        }

        if (clientId.Contains('#', StringComparison.Ordinal) || uri.UserInfo.Length > 0)
        {
            return "must have neither a fragment nor credentials";
        }

        // Dot segments would make two strings name one document; the raw string is checked, as Uri removes them.
        var path = clientId[(clientId.IndexOf('/', "https://".Length) is var slash and >= 0 ? slash : clientId.Length)..].Split('?')[0];
        if (path.Length <= 1 || path.Split('/').Any(s => s is "." or ".." || s.Equals("%2e", StringComparison.OrdinalIgnoreCase) || s.Contains("%2e%2e", StringComparison.OrdinalIgnoreCase)))
        {
            return "must have a path, without . or .. segments";
        }

        return SsrfGuard.ProblemWith(clientId, allowPrivateTargets);
    }

    /// <summary>
    /// The tenant's client for a document URL, fetched or refreshed when its stored copy has expired; null when the
    /// tenant does not accept documents, or the URL or the document is not acceptable. Runs in the scope of
    /// <see cref="ClientCache"/>'s load, which the tenant's concurrent lookups of this client share.
    /// </summary>
    public async Task<TokenApplication?> ResolveAsync(IServiceProvider scope, TenantInfo tenant, string clientId, CancellationToken cancellationToken)
    {
        if ((await settings.GetAsync(tenant.Id, cancellationToken))?.ClientIdMetadataDocuments != true)
        {
            return null;
        }

        if (UrlProblem(clientId, options.Value.AllowPrivateLogoutTargets) is { } urlProblem)
        {
            LogRefused(logger, tenant.Id, clientId, "client_id " + urlProblem);
            return null;
        }

        var db = scope.GetRequiredService<TokenDbContext>();
        var stored = await db.Applications.FirstOrDefaultAsync(a => a.ClientId == clientId, cancellationToken);
        var now = time.GetUtcNow();
        if (stored is { MetadataDocumentExpiresAt: { } until } && until > now)
        {
            return stored;
        }

        var fetched = await FetchAsync(new Uri(clientId), cancellationToken);
        if (fetched.Document is not { } document)
        {
            LogRefused(logger, tenant.Id, clientId, fetched.Problem!);
            // A site that is down keeps its clients working a while; a site that answered "no" does not.
            return fetched.Transient && stored?.MetadataDocumentExpiresAt + StaleIfError > now ? stored : null;
        }

        var customScopes = await TenantScopes.NamesAsync(db, tenant.Id, cancellationToken);
        if (ClientMetadata.Translate(document, ClientMetadata.Source.MetadataDocument, customScopes, out var problem) is not { } translated)
        {
            LogRefused(logger, tenant.Id, clientId, problem!);
            return null;
        }

        var allowPrivate = options.Value.AllowPrivateLogoutTargets;
        var keys = await scope.GetRequiredService<ClientKeySets>().ForRegistrationAsync(translated.Client, current: null, allowPrivate, cancellationToken);
        var sector = await scope.GetRequiredService<SectorIdentifiers>().ForRegistrationAsync(translated.Client, current: null, allowPrivate, cancellationToken);
        if (ClientValidation.ValidateNew(translated.Client, allowPrivate, out var validator, keys, sector) is not { } client)
        {
            var (field, fieldProblem) = validator.FirstProblems.First();
            LogRefused(logger, tenant.Id, clientId, $"{ClientMetadata.FieldName(field)}: {fieldProblem}");
            return null;
        }

        try
        {
            return await StoreAsync(scope, db, tenant, clientId, stored, client, now, now + fetched.Lifetime, cancellationToken);
        }
        catch (Exception ex) when (ex is DbUpdateException or OpenIddictExceptions.ConcurrencyException)
        {
            // Another replica stored or refreshed it first, or an administrator changed it meanwhile: use theirs.
            db.ChangeTracker.Clear();
            return await db.Applications.AsNoTracking().FirstOrDefaultAsync(a => a.ClientId == clientId, cancellationToken);
        }
    }

    private static async Task<TokenApplication> StoreAsync(
        IServiceProvider scope, TokenDbContext db, TenantInfo tenant, string clientId, TokenApplication? stored, ClientSettings client,
        DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        // The store, not the manager: the manager's validation would look the client up, which is what is loading now.
        var manager = scope.GetRequiredService<TokenApplicationManager>();
        var store = scope.GetRequiredService<IOpenIddictApplicationStore<TokenApplication>>();
        if (stored is null)
        {
            var application = new TokenApplication { TenantId = tenant.Id, CreatedAt = now, MetadataDocumentExpiresAt = expiresAt };
            var descriptor = new OpenIddictApplicationDescriptor { ClientId = clientId };
            ClientMapping.Apply(client, descriptor, application);
            await manager.PopulateAsync(application, descriptor, cancellationToken);
            db.AddEvent(new ClientCreated(clientId, client.Name, client.IsConfidential, client.GrantTypes) { TenantId = tenant.Id });
            await store.CreateAsync(application, cancellationToken);
            return application;
        }

        // An administrator may have deactivated the client; a new copy of the document does not undo that.
        var changed = !SameSettings(ClientMapping.Read(stored), client with { IsActive = stored.IsActive });
        if (changed)
        {
            var descriptor = new OpenIddictApplicationDescriptor();
            await manager.PopulateAsync(descriptor, stored, cancellationToken);
            ClientMapping.Apply(client with { IsActive = stored.IsActive }, descriptor, stored);
            await manager.PopulateAsync(stored, descriptor, cancellationToken);
            stored.UpdatedAt = now;
            db.AddEvent(new ClientUpdated(clientId) { TenantId = tenant.Id });
        }

        stored.MetadataDocumentExpiresAt = expiresAt;
        await store.UpdateAsync(stored, cancellationToken);
        return stored;
    }

    private static bool SameSettings(ClientSettings a, ClientSettings b) =>
        JsonSerializer.Serialize(a) == JsonSerializer.Serialize(b);

    private sealed record Fetched(ClientMetadata.Document? Document, TimeSpan Lifetime, string? Problem, bool Transient);

    private static Fetched Failed(string problem, bool transient = false) => new(null, TimeSpan.Zero, problem, transient);

    /// <summary>GET the document (no redirects, guarded against private addresses, bounded in time and size) and check it.</summary>
    private async Task<Fetched> FetchAsync(Uri url, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(FetchTimeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Accept.ParseAdd("application/json");
            using var response = await httpClients.CreateClient(HttpClientName)
                .SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return Failed($"the document's URL answered {(int)response.StatusCode}", transient: (int)response.StatusCode >= 500);
            }

            if (response.Content.Headers.ContentType?.MediaType is not { } mediaType
                || !(mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)))
            {
                return Failed("the document is not application/json");
            }

            if (response.Content.Headers.ContentLength > MaxDocumentBytes)
            {
                return Failed($"the document is larger than {MaxDocumentBytes} bytes");
            }

            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            var buffer = new byte[MaxDocumentBytes + 1];
            var length = 0;
            int read;
            while (length < buffer.Length && (read = await body.ReadAsync(buffer.AsMemory(length), timeout.Token)) > 0)
            {
                length += read;
            }

            if (length > MaxDocumentBytes)
            {
                return Failed($"the document is larger than {MaxDocumentBytes} bytes");
            }

            var document = JsonSerializer.Deserialize<ClientMetadata.Document>(buffer.AsSpan(0, length), JsonSerializerOptions.Web);
            if (document is null)
            {
                return Failed("the document is not a JSON object");
            }

            // Simple string comparison (draft §4.1): the document must claim exactly the URL it was fetched from.
            if (!string.Equals(document.ClientId, url.OriginalString, StringComparison.Ordinal))
            {
                return Failed("the document's client_id is not its own URL");
            }

            return new Fetched(document, LifetimeOf(response), null, false);
        }
        catch (JsonException)
        {
            return Failed("the document is not a JSON object of client metadata");
        }
        catch (HttpRequestException ex)
        {
            return Failed("the document could not be fetched: " + ex.Message, transient: true);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Failed("the document's URL did not answer in time", transient: true);
        }
    }

    private static TimeSpan LifetimeOf(HttpResponseMessage response)
    {
        var cacheControl = response.Headers.CacheControl;
        var lifetime = cacheControl switch
        {
            { NoStore: true } or { NoCache: true } => MinLifetime,
            { MaxAge: { } maxAge } => maxAge,
            _ => DefaultLifetime,
        };
        return lifetime < MinLifetime ? MinLifetime : lifetime > MaxLifetime ? MaxLifetime : lifetime;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Client ID Metadata Document {ClientId} of tenant {TenantId} not accepted: {Problem}")]
    private static partial void LogRefused(ILogger logger, Guid tenantId, string clientId, string problem);
}
