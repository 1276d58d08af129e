using System.Text.Json.Serialization;
using LumoAuth.Agents.Data;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Agents;
using LumoAuth.Contracts.Internal;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Agents.Features.Mcp;

/// <summary>
/// MCP server authorization (AG-17…22): the tenant registers its MCP servers as protected resources (portal-only in the
/// docs; the Admin API here), and MCP clients discover them (RFC 9728 metadata, the 401 challenge) and the authorization
/// server that issues tokens bound to them. The token service enforces the binding (<c>McpResources</c> there).
/// </summary>
public static class McpServerEndpoints
{
    public static readonly IReadOnlySet<string> Transports = new HashSet<string>(StringComparer.Ordinal) { "http_streamable", "http_sse", "stdio" };
    public static readonly IReadOnlySet<string> AuthModes = new HashSet<string>(StringComparer.Ordinal) { "oauth", "none" };
    public static readonly IReadOnlySet<string> Statuses = new HashSet<string>(StringComparer.Ordinal) { "active", "inactive" };

    public static IEndpointRouteBuilder MapMcpServerEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/t/{tenantSlug}/api/v1/admin/mcp-servers").RequireAuthorization(Policies.TenantAdmin).WithTags("MCP servers");
        admin.MapGet("/", List).WithName("ListMcpServers");
        admin.MapGet("/{serverId}", GetForAdmin).WithName("GetMcpServerForAdmin");
        // A server decides which clients get tokens for which audience, for how long: a credential that writes everything.
        var writes = admin.WritesNeedingFullAccess("Registering and changing MCP servers");
        writes.MapPost("/", Create).WithName("CreateMcpServer");
        writes.MapPut("/{serverId}", Update).WithName("UpdateMcpServer");
        writes.MapPatch("/{serverId}", Update).WithName("PatchMcpServer");
        writes.MapDelete("/{serverId}", Delete).WithName("DeleteMcpServer");

        var api = app.MapGroup("/t/{tenantSlug}/api/v1/mcp").WithTags("MCP");
        api.MapGet("/servers", ListActive).RequireAuthorization(Policies.TenantCaller).WithName("ListActiveMcpServers");
        api.MapGet("/servers/{serverId}", GetActive).RequireAuthorization(Policies.TenantCaller).WithName("GetMcpServer");
        api.MapMethods("/{serverId}/challenge", [HttpMethods.Get, HttpMethods.Post], Challenge).AllowAnonymous().WithName("McpChallenge");

        var metadata = app.MapGroup("/t/{tenantSlug}/api/v1/.well-known/oauth-protected-resource").AllowAnonymous().WithTags("MCP");
        metadata.MapGet("/mcp/{serverId}", ServerMetadata).WithName("McpProtectedResourceMetadata");
        metadata.MapGet("/", RootMetadata).WithName("RootProtectedResourceMetadata");

        app.MapGet(InternalRoutes.McpResources, Resources).RequireAuthorization(Policies.Internal).WithName("InternalMcpResources").WithTags("Internal");
        return app;
    }

    public static async Task<IResult> List(AgentsDbContext db, HttpContext http, TenantContext tenant, IOptions<LumoAuthOptions> options, int? page, int? limit, CancellationToken cancellationToken)
    {
        var paging = PageRequest.From(page, limit);
        var query = db.McpServers.AsNoTracking();
        var total = await query.LongCountAsync(cancellationToken);
        var servers = await query.OrderBy(s => s.CreatedAt).ThenBy(s => s.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        var issuer = options.Value.IssuerFor(http.Request, tenant.Tenant!);
        return TypedResults.Ok(new PagedResponse<McpServerView>([.. servers.Select(s => McpServerView.From(s, issuer))], PageMeta.For(paging, total)));
    }

    public static async Task<IResult> GetForAdmin(string serverId, AgentsDbContext db, HttpContext http, TenantContext tenant, IOptions<LumoAuthOptions> options, CancellationToken cancellationToken) =>
        await FindAsync(db, serverId, activeOnly: false, cancellationToken) is { } server
            ? TypedResults.Ok(new DataResponse<McpServerView>(McpServerView.From(server, options.Value.IssuerFor(http.Request, tenant.Tenant!))))
            : ApiErrors.NotFound("MCP server");

    public static async Task<IResult> Create(
        McpServerRequest request, AgentsDbContext db, HttpContext http, TenantContext tenant, IOptions<LumoAuthOptions> options, CancellationToken cancellationToken)
    {
        var validation = Validate(request, creating: true, tenant.Tenant!, options.Value);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var now = DateTimeOffset.UtcNow;
        var server = new McpServer { Id = Guid.CreateVersion7(), TenantId = tenant.TenantId, CreatedAt = now, UpdatedAt = now };
        Apply(request, server);
        if (await db.McpServers.AnyAsync(s => s.ResourceUri == server.ResourceUri, cancellationToken))
        {
            return ApiErrors.Duplicate($"An MCP server with the Resource URI '{server.ResourceUri}' exists already");
        }

        db.McpServers.Add(server);
        db.AddEvent(new McpServerChanged(server.Id, server.ResourceUri, "created") { TenantId = tenant.TenantId });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException exception) when (exception.IsUniqueViolation())
        {
            return ApiErrors.Duplicate($"An MCP server with the Resource URI '{server.ResourceUri}' exists already");
        }

        var view = McpServerView.From(server, options.Value.IssuerFor(http.Request, tenant.Tenant!));
        return TypedResults.Created($"/t/{tenant.Slug}/api/v1/admin/mcp-servers/{view.ServerId}", new DataResponse<McpServerView>(view, "MCP server registered"));
    }

    /// <summary>Changes the fields sent (PUT and PATCH alike). A new Resource URI or client list reaches the token service by event.</summary>
    public static async Task<IResult> Update(
        string serverId, McpServerRequest request, AgentsDbContext db, HttpContext http, TenantContext tenant, IOptions<LumoAuthOptions> options, CancellationToken cancellationToken)
    {
        var validation = Validate(request, creating: false, tenant.Tenant!, options.Value);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        if (!McpIds.TryParse(serverId, out var id) || await db.McpServers.FirstOrDefaultAsync(s => s.Id == id, cancellationToken) is not { } server)
        {
            return ApiErrors.NotFound("MCP server");
        }

        var previousUri = server.ResourceUri;
        Apply(request, server);
        if (server.ResourceUri != previousUri && await db.McpServers.AnyAsync(s => s.ResourceUri == server.ResourceUri && s.Id != id, cancellationToken))
        {
            return ApiErrors.Duplicate($"An MCP server with the Resource URI '{server.ResourceUri}' exists already");
        }

        server.UpdatedAt = DateTimeOffset.UtcNow;
        db.AddEvent(new McpServerChanged(server.Id, server.ResourceUri, "updated") { TenantId = tenant.TenantId });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException exception) when (exception.IsUniqueViolation())
        {
            return ApiErrors.Duplicate($"An MCP server with the Resource URI '{server.ResourceUri}' exists already");
        }

        return TypedResults.Ok(new DataResponse<McpServerView>(McpServerView.From(server, options.Value.IssuerFor(http.Request, tenant.Tenant!)), "MCP server updated"));
    }

    public static async Task<IResult> Delete(string serverId, AgentsDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        if (!McpIds.TryParse(serverId, out var id) || await db.McpServers.FirstOrDefaultAsync(s => s.Id == id, cancellationToken) is not { } server)
        {
            return ApiErrors.NotFound("MCP server");
        }

        db.McpServers.Remove(server);
        db.AddEvent(new McpServerChanged(server.Id, server.ResourceUri, "deleted") { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>The docs' list for MCP clients and SDKs: active servers only, <c>{servers: […]}</c>.</summary>
    public static async Task<IResult> ListActive(AgentsDbContext db, HttpContext http, TenantContext tenant, IOptions<LumoAuthOptions> options, CancellationToken cancellationToken)
    {
        var servers = await db.McpServers.AsNoTracking().Where(s => s.Status == "active").OrderBy(s => s.CreatedAt).ThenBy(s => s.Id).Take(1000).ToListAsync(cancellationToken);
        var issuer = options.Value.IssuerFor(http.Request, tenant.Tenant!);
        return TypedResults.Ok(new McpServerList([.. servers.Select(s => McpServerView.From(s, issuer))]));
    }

    public static async Task<IResult> GetActive(string serverId, AgentsDbContext db, HttpContext http, TenantContext tenant, IOptions<LumoAuthOptions> options, CancellationToken cancellationToken) =>
        await FindAsync(db, serverId, activeOnly: true, cancellationToken) is { } server
            ? TypedResults.Ok(McpServerView.From(server, options.Value.IssuerFor(http.Request, tenant.Tenant!)))
            : ApiErrors.NotFound("MCP server");

    /// <summary>
    /// What an MCP server answers a request without a token (MCP authorization, RFC 9728 §5.1), for trying discovery out:
    /// 401 with <c>WWW-Authenticate: Bearer resource_metadata="…", scope="…"</c>.
    /// </summary>
    public static async Task<IResult> Challenge(string serverId, AgentsDbContext db, HttpContext http, TenantContext tenant, IOptions<LumoAuthOptions> options, CancellationToken cancellationToken)
    {
        if (await FindAsync(db, serverId, activeOnly: true, cancellationToken) is not { AuthMode: "oauth" } server)
        {
            return ApiErrors.NotFound("MCP server");
        }

        var view = McpServerView.From(server, options.Value.IssuerFor(http.Request, tenant.Tenant!));
        http.Response.Headers.WWWAuthenticate = view.Discovery.WwwAuthenticateExample;
        return ApiErrors.Create(StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, "A bearer token for this MCP server is required");
    }

    /// <summary>RFC 9728 metadata of one OAuth-protected server.</summary>
    public static async Task<IResult> ServerMetadata(string serverId, AgentsDbContext db, HttpContext http, TenantContext tenant, IOptions<LumoAuthOptions> options, CancellationToken cancellationToken) =>
        await FindAsync(db, serverId, activeOnly: true, cancellationToken) is { AuthMode: "oauth" } server
            ? TypedResults.Ok(ProtectedResourceMetadata.From(server, options.Value.IssuerFor(http.Request, tenant.Tenant!)))
            : ApiErrors.NotFound("MCP server");

    /// <summary>
    /// The root document: a tenant with one OAuth-protected server gets that server's metadata; otherwise the tenant's API as
    /// the resource, with its servers listed (<c>mcp_servers</c>, each with its own metadata URL).
    /// </summary>
    public static async Task<IResult> RootMetadata(AgentsDbContext db, HttpContext http, TenantContext tenant, IOptions<LumoAuthOptions> options, CancellationToken cancellationToken)
    {
        var issuer = options.Value.IssuerFor(http.Request, tenant.Tenant!);
        var servers = await db.McpServers.AsNoTracking().Where(s => s.Status == "active" && s.AuthMode == "oauth")
            .OrderBy(s => s.CreatedAt).ThenBy(s => s.Id).Take(1000).ToListAsync(cancellationToken);
        if (servers.Count == 1)
        {
            return TypedResults.Ok(ProtectedResourceMetadata.From(servers[0], issuer));
        }

        var scopes = servers.SelectMany(s => s.ScopesSupported).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        return TypedResults.Ok(new ProtectedResourceMetadata(issuer, [issuer], ["header"], scopes, tenant.Tenant!.Name)
        {
            McpServers = [.. servers.Select(s => new McpServerReference(McpIds.Format(s.Id), s.ResourceUri, McpServerView.MetadataUrl(issuer, s.Id)))],
        });
    }

    /// <summary>The token service's view: the tenant's active OAuth-protected servers.</summary>
    public static async Task<IResult> Resources(Guid tenantId, AgentsDbContext db, CancellationToken cancellationToken)
    {
        var servers = await db.McpServers.IgnoreQueryFilters().AsNoTracking()
            .Where(s => s.TenantId == tenantId && s.Status == "active" && s.AuthMode == "oauth")
            .OrderBy(s => s.ResourceUri)
            .Select(s => new McpResource(s.ResourceUri, s.AllowedClientIds, s.TokenLifetime, s.ScopesSupported))
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(servers);
    }

    private static async Task<McpServer?> FindAsync(AgentsDbContext db, string serverId, bool activeOnly, CancellationToken cancellationToken) =>
        McpIds.TryParse(serverId, out var id)
            ? await db.McpServers.AsNoTracking().FirstOrDefaultAsync(s => s.Id == id && (!activeOnly || s.Status == "active"), cancellationToken)
            : null;

    private static RequestValidator Validate(McpServerRequest request, bool creating, Contracts.Internal.TenantInfo tenant, LumoAuthOptions options)
    {
        var validation = creating ? new RequestValidator().Required("name", request.Name) : new RequestValidator().Optional("name", request.Name);
        validation.Check(request.Name is null || request.Name.Trim().Length > 0, "name", "must not be blank");
        validation.Optional("description", request.Description, 1000);
        if (creating || request.ResourceUri is not null)
        {
            validation.Check(McpResourceUris.IsValid(request.ResourceUri), "resource_uri", "must be an https URL (http only for loopback) without fragment, at most 2000 characters");
            // The deployment's hosts serve our own APIs: an MCP server named there would rebind the tenant's own tokens.
            validation.Check(!McpResourceUris.IsOurs(request.ResourceUri, tenant, options), "resource_uri", "must not be on this deployment's own host or the tenant's custom domains");
        }

        validation.Check(request.EndpointUrl is null || McpResourceUris.IsValid(request.EndpointUrl), "endpoint_url", "must be an https URL (http only for loopback)");
        validation.Check(request.Transport is null || Transports.Contains(request.Transport), "transport", $"must be one of {string.Join(", ", Transports)}");
        validation.Check(request.AuthMode is null || AuthModes.Contains(request.AuthMode), "auth_mode", "must be oauth or none");
        validation.Check(request.Status is null || Statuses.Contains(request.Status), "status", "must be active or inactive");
        validation.Check(request.TokenLifetime is null or >= McpServer.MinTokenLifetime and <= McpServer.MaxTokenLifetime, "token_lifetime",
            $"must be {McpServer.MinTokenLifetime} to {McpServer.MaxTokenLifetime} seconds");
        validation.Check(request.ScopesSupported is null || (request.ScopesSupported.Count <= 100 && request.ScopesSupported.All(s => s is { Length: > 0 and <= 200 } && !s.Contains(' '))),
            "scopes_supported", "must be at most 100 scope names without spaces");
        validation.Check(request.AllowedClientIds is null || (request.AllowedClientIds.Count <= 100 && request.AllowedClientIds.All(c => c is { Length: > 0 and <= 2000 })),
            "allowed_client_ids", "must be at most 100 client ids");
        return validation;
    }

    private static void Apply(McpServerRequest request, McpServer server)
    {
        server.Name = request.Name?.Trim() ?? server.Name;
        server.Description = request.Description ?? server.Description;
        server.ResourceUri = request.ResourceUri ?? server.ResourceUri;
        server.EndpointUrl = request.EndpointUrl ?? server.EndpointUrl;
        server.Transport = request.Transport ?? server.Transport;
        server.AuthMode = request.AuthMode ?? server.AuthMode;
        server.Status = request.Status ?? server.Status;
        server.TokenLifetime = request.TokenLifetime ?? server.TokenLifetime;
        server.ScopesSupported = request.ScopesSupported is { } scopes ? [.. scopes.Distinct(StringComparer.Ordinal)] : server.ScopesSupported;
        server.AllowedClientIds = request.AllowedClientIds is { } clients ? [.. clients.Distinct(StringComparer.Ordinal)] : server.AllowedClientIds;
    }
}

/// <summary>A server's public id: <c>mcp_</c> and its row's id (32 hex digits).</summary>
public static class McpIds
{
    public const string Prefix = "mcp_";

    public static string Format(Guid id) => PrefixedIds.Format(Prefix, id);

    public static bool TryParse(string value, out Guid id) => PrefixedIds.TryParse(Prefix, value, out id);
}

public static class McpResourceUris
{
    /// <summary>Whether the URI's host is the deployment's public host or one of the tenant's verified domains.</summary>
    public static bool IsOurs(string? value, Contracts.Internal.TenantInfo tenant, LumoAuthOptions options) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && (string.Equals(uri.Host, options.PublicHost, StringComparison.OrdinalIgnoreCase) || tenant.Serves(uri.Host));

    /// <summary>An https URL without fragment or credentials (http for loopback hosts, for development).</summary>
    public static bool IsValid(string? value) =>
        value is { Length: > 0 and <= 2000 }
        && Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && string.IsNullOrEmpty(uri.Fragment) && !value.Contains('#') && string.IsNullOrEmpty(uri.UserInfo)
        && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback));
}

public sealed record McpServerRequest(
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("resource_uri")] string? ResourceUri,
    [property: JsonPropertyName("endpoint_url")] string? EndpointUrl,
    [property: JsonPropertyName("transport")] string? Transport,
    [property: JsonPropertyName("auth_mode")] string? AuthMode,
    [property: JsonPropertyName("status")] string? Status,
    [property: JsonPropertyName("scopes_supported")] IReadOnlyList<string>? ScopesSupported,
    [property: JsonPropertyName("token_lifetime")] int? TokenLifetime,
    [property: JsonPropertyName("allowed_client_ids")] IReadOnlyList<string>? AllowedClientIds);

public sealed record McpServerList([property: JsonPropertyName("servers")] IReadOnlyList<McpServerView> Servers);

public sealed record McpServerView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("server_id")] string ServerId,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("description")] string? Description,
    [property: JsonPropertyName("resource_uri")] string ResourceUri,
    [property: JsonPropertyName("endpoint_url")] string? EndpointUrl,
    [property: JsonPropertyName("transport")] string Transport,
    [property: JsonPropertyName("auth_mode")] string AuthMode,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("scopes_supported")] IReadOnlyList<string> ScopesSupported,
    [property: JsonPropertyName("require_pkce")] bool RequirePkce,
    [property: JsonPropertyName("require_resource_param")] bool RequireResourceParam,
    [property: JsonPropertyName("token_lifetime")] int TokenLifetime,
    [property: JsonPropertyName("allowed_client_ids")] IReadOnlyList<string> AllowedClientIds,
    [property: JsonPropertyName("created_at")] DateTimeOffset CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTimeOffset UpdatedAt,
    [property: JsonPropertyName("discovery")] McpDiscovery Discovery)
{
    public static string MetadataUrl(string issuer, Guid id) => $"{issuer}/.well-known/oauth-protected-resource/mcp/{McpIds.Format(id)}";

    public static McpServerView From(McpServer s, string issuer)
    {
        var metadata = MetadataUrl(issuer, s.Id);
        var challenge = $"Bearer resource_metadata=\"{metadata}\"" + (s.ScopesSupported.Count > 0 ? $", scope=\"{string.Join(' ', s.ScopesSupported)}\"" : string.Empty);
        var oauth = s.AuthMode == "oauth";
        return new(s.Id, McpIds.Format(s.Id), s.Name, s.Description, s.ResourceUri, s.EndpointUrl, s.Transport, s.AuthMode, s.Status, s.ScopesSupported,
            oauth, oauth, s.TokenLifetime, s.AllowedClientIds, s.CreatedAt, s.UpdatedAt,
            new McpDiscovery($"{issuer}/.well-known/oauth-authorization-server", metadata, challenge));
    }
}

public sealed record McpDiscovery(
    [property: JsonPropertyName("authorization_server_metadata")] string AuthorizationServerMetadata,
    [property: JsonPropertyName("protected_resource_metadata")] string ProtectedResourceMetadata,
    [property: JsonPropertyName("www_authenticate_example")] string WwwAuthenticateExample);

/// <summary>RFC 9728 §2. <c>authorization_servers</c> lists issuer identifiers, as the RFC defines it.</summary>
public sealed record ProtectedResourceMetadata(
    [property: JsonPropertyName("resource")] string Resource,
    [property: JsonPropertyName("authorization_servers")] IReadOnlyList<string> AuthorizationServers,
    [property: JsonPropertyName("bearer_methods_supported")] IReadOnlyList<string> BearerMethodsSupported,
    [property: JsonPropertyName("scopes_supported")] IReadOnlyList<string> ScopesSupported,
    [property: JsonPropertyName("resource_name")] string ResourceName)
{
    [JsonPropertyName("mcp_servers")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<McpServerReference>? McpServers { get; init; }

    public static ProtectedResourceMetadata From(McpServer s, string issuer) => new(s.ResourceUri, [issuer], ["header"], s.ScopesSupported, s.Name);
}

public sealed record McpServerReference(
    [property: JsonPropertyName("server_id")] string ServerId,
    [property: JsonPropertyName("resource")] string Resource,
    [property: JsonPropertyName("protected_resource_metadata")] string ProtectedResourceMetadata);
