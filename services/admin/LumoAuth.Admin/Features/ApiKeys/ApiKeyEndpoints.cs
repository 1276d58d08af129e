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
        "admin:clients", "admin:webhooks", "admin:audit", "zanzibar.read", "zanzibar.write", "zanzibar:read", "zanzibar:write",
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

    public static async Task<IResult> CreateApiKey(CreateApiKeyRequest request, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken)
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

    public static async Task<IResult> RevokeApiKey(Guid apiKeyId, AdminDbContext db, TenantContext tenant, CancellationToken cancellationToken)
    {
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == apiKeyId && k.RevokedAt == null, cancellationToken);
        if (key is null)
        {
            return ApiErrors.NotFound("API key");
        }

        key.RevokedAt = DateTimeOffset.UtcNow;
        db.AddEvent(new ApiKeyRevoked(key.Id) { TenantId = tenant.TenantId });
        await db.SaveChangesAsync(cancellationToken);
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
