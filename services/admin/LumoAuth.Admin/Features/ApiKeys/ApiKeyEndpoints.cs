using LumoAuth.Admin.Data;
using LumoAuth.Contracts.ApiKeys;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.ApiKeys;

/// <summary>Tenant API keys (portal-only in the docs; the API mirrors "Generate New API Key").</summary>
public static class ApiKeyEndpoints
{
    private static readonly HashSet<string> KnownScopes = new(StringComparer.Ordinal)
    {
        "admin", "admin:read", "admin:write", "admin.read", "admin.write", "admin:users", "admin:roles", "admin:groups",
        "admin:clients", "admin:webhooks", "admin:audit", "admin:agents", "zanzibar.read", "zanzibar.write", "zanzibar:read", "zanzibar:write",
    };

    public static IEndpointRouteBuilder MapApiKeyEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/api-keys")
            .RequireAuthorization(Policies.TenantAdmin)
            .WithTags("API keys");
        group.MapGet("/", ListApiKeys).WithName("ListApiKeys");
        group.MapPost("/", CreateApiKey).WithName("CreateApiKey");
        group.MapDelete("/{apiKeyId:guid}", RevokeApiKey).WithName("RevokeApiKey");
        return app;
    }

    public static async Task<IResult> ListApiKeys(AdminDbContext db, int? page, int? limit, string? search, string? sortBy, string? sortDir, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Optional("search", search);
        var order = ListOrder.Check(validation, sortBy, sortDir, ["createdAt", "name", "expiresAt"]);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var paging = PageRequest.From(page, limit);
        var query = db.ApiKeys.AsNoTracking().Where(k => k.RevokedAt == null);
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = LikePatterns.Containing(search);
            query = query.Where(k => EF.Functions.ILike(k.Name, pattern, LikePatterns.Escape) || EF.Functions.ILike(k.Prefix, pattern, LikePatterns.Escape));
        }

        var total = await query.LongCountAsync(cancellationToken);
        var ordered = order.Key switch
        {
            "name" => order.Apply(query, k => k.Name),
            "expiresAt" => order.Apply(query, k => k.ExpiresAt),
            _ => order.Apply(query, k => k.CreatedAt),
        };
        var keys = await ordered.ThenBy(k => k.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<ApiKeyResponse>(keys.Select(ApiKeyResponse.From).ToList(), PageMeta.For(paging, total)));
    }

    public static async Task<IResult> CreateApiKey(
        CreateApiKeyRequest request, AdminDbContext db, TenantContext tenant, HttpContext http, CancellationToken cancellationToken)
    {
        var scopes = request.Scopes ?? ApiKeyIssuer.DefaultScopes;
        var validation = new RequestValidator().Required("name", request.Name);
        foreach (var scope in scopes.Where(s => !KnownScopes.Contains(s)))
        {
            validation.Add("scopes", $"unknown scope '{scope}'");
        }

        validation.Check(request.ExpiresAt is null || request.ExpiresAt > DateTimeOffset.UtcNow, "expiresAt", "must be in the future");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        if (await ExceedsCallingKeyAsync(http, db, scopes, request.ExpiresAt, cancellationToken) is { } denied)
        {
            return denied;
        }

        var (key, secret) = ApiKeyIssuer.Create(tenant.TenantId, request.Name!, scopes.Distinct().ToList(), request.ExpiresAt);
        db.ApiKeys.Add(key);
        db.AddEvent(new ApiKeyCreated(key.Id, key.Name, key.Prefix, key.Scopes) { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        return TypedResults.Created(
            $"/t/{tenant.Slug}/api/v1/admin/api-keys/{key.Id}",
            new DataResponse<CreatedApiKeyResponse>(
                new CreatedApiKeyResponse(key.Id, key.Name, secret, key.Prefix, key.Scopes, key.CreatedAt, key.ExpiresAt, "Store the API key securely. It will not be shown again."),
                "API key created"));
    }

    /// <summary>
    /// A key may mint only keys that are no stronger than itself: otherwise a key about to expire, or a narrow one, would
    /// outlive or outgrow itself through its offspring. A caller that is no API key (an administrator's token) is not bound.
    /// </summary>
    private static async Task<IResult?> ExceedsCallingKeyAsync(
        HttpContext http, AdminDbContext db, IReadOnlyList<string> scopes, DateTimeOffset? expiresAt, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(http.User.FindFirst(LumoClaims.ApiKeyId)?.Value, out var callerId))
        {
            return null;
        }

        // The caller's own row, not its claims: the expiry is not among them.
        var caller = await db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.Id == callerId, cancellationToken);
        if (caller is null)
        {
            return Denied("The calling API key no longer exists");
        }

        if (caller.ExpiresAt is { } callerExpiry && (expiresAt is null || expiresAt > callerExpiry))
        {
            return Denied("A key created by an API key must expire no later than that key (expiresAt is required)");
        }

        var beyond = scopes.Where(s => !Covers(caller.Scopes, s)).Distinct().ToList();
        return beyond.Count == 0 ? null : Denied($"The calling API key does not hold the scopes {string.Join(", ", beyond)}");

        static IResult Denied(string message) => ApiErrors.Create(StatusCodes.Status403Forbidden, ErrorCodes.PermissionDenied, message);
    }

    /// <summary>
    /// Whether the scopes held allow everything <paramref name="wanted"/> allows, by the rules the API enforces them with
    /// (<see cref="AdminScopeHandler"/>; the relationship API also takes admin scopes): both spellings count as one, a
    /// writing admin scope covers the reading one and every resource scope, and any admin scope covers relationship reads.
    /// </summary>
    public static bool Covers(IReadOnlyCollection<string> held, string wanted)
    {
        if (held.Contains(wanted, StringComparer.Ordinal))
        {
            return true;
        }

        var writesAll = held.Any(h => AdminScopeHandler.Grants(h, isRead: false));
        var readsAll = held.Any(h => AdminScopeHandler.Grants(h, isRead: true));
        return wanted switch
        {
            _ when AdminScopeHandler.Grants(wanted, isRead: false) => writesAll,
            _ when AdminScopeHandler.Grants(wanted, isRead: true) => readsAll,
            "zanzibar.write" or "zanzibar:write" => writesAll || held.Any(h => h is "zanzibar.write" or "zanzibar:write"),
            "zanzibar.read" or "zanzibar:read" => readsAll || held.Any(h => h.StartsWith("zanzibar", StringComparison.Ordinal)),
            // A resource scope (admin:users…): only a scope that writes everything reaches all it does.
            _ => writesAll,
        };
    }

    public static async Task<IResult> RevokeApiKey(Guid apiKeyId, AdminDbContext db, TenantContext tenant, ApiKeyVerifier verifier, CancellationToken cancellationToken)
    {
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == apiKeyId && k.RevokedAt == null, cancellationToken);
        if (key is null)
        {
            return ApiErrors.NotFound("API key");
        }

        key.RevokedAt = DateTimeOffset.UtcNow;
        db.AddEvent(new ApiKeyRevoked(key.Id) { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
        // This replica refuses the key at once; the event's consumers do the same everywhere else.
        verifier.Evict(key.Id);
        return TypedResults.NoContent();
    }
}

public sealed record CreateApiKeyRequest(string? Name, IReadOnlyList<string>? Scopes, DateTimeOffset? ExpiresAt);

public sealed record ApiKeyResponse(Guid Id, string Name, string Prefix, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt)
{
    public static ApiKeyResponse From(ApiKey k) => new(k.Id, k.Name, k.Prefix, k.Scopes, k.CreatedAt, k.ExpiresAt);
}

public sealed record CreatedApiKeyResponse(
    Guid Id, string Name, string Key, string Prefix, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt,
    [property: System.Text.Json.Serialization.JsonPropertyName("_note")] string Note);
