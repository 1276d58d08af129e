using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.ApiKeys;
using LumoAuth.Admin.Features.Groups;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Internal;

/// <summary>Lookups the other services make (through their caches); internal key only, never routed by the gateway.</summary>
public static class InternalEndpoints
{
    public static IEndpointRouteBuilder MapInternalEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(InternalRoutes.Prefix).RequireAuthorization(Policies.Internal).WithTags("Internal");
        group.MapGet("/tenants/by-slug/{slug}", GetTenantBySlug).WithName("InternalGetTenantBySlug");
        app.MapGet(InternalRoutes.TenantById, GetTenantById).RequireAuthorization(Policies.Internal).WithTags("Internal").WithName("InternalGetTenantById");
        group.MapPost("/api-keys/verify", VerifyApiKey).WithName("InternalVerifyApiKey");
        app.MapInternalGroupEndpoints();
        // The gateway's one call: its own key (or the internal key), not the internal policy, which the gateway cannot meet.
        app.MapGet(InternalRoutes.CustomDomains, ListCustomDomains).AllowAnonymous()
            .AddEndpointFilter<LumoAuth.Admin.Features.CustomDomains.GatewayKeyFilter>().WithTags("Internal").WithName("InternalListCustomDomains");
        return app;
    }

    public static async Task<IResult> GetTenantBySlug(string slug, DatabaseTenantSource source, CancellationToken cancellationToken) =>
        await source.FindBySlugAsync(slug, cancellationToken) is { } tenant ? TypedResults.Ok(tenant) : TypedResults.NotFound();

    public static async Task<IResult> GetTenantById(Guid id, DatabaseTenantSource source, CancellationToken cancellationToken) =>
        await source.FindByIdAsync(id, cancellationToken) is { } tenant ? TypedResults.Ok(tenant) : TypedResults.NotFound();

    /// <summary>
    /// Every verified domain with its tenant, for the gateway's host map. It polls, so the answer carries an ETag and an
    /// unchanged map costs one indexed read and no body.
    /// </summary>
    public static async Task<IResult> ListCustomDomains(HttpContext http, AdminDbContext db, CancellationToken cancellationToken)
    {
        var routes = await db.CustomDomains.IgnoreQueryFilters().AsNoTracking()
            .Where(d => d.VerifiedAt != null)
            .OrderBy(d => d.Domain)
            .Join(db.Tenants, d => d.TenantId, t => t.Id, (d, t) => new { d.Domain, t.Slug })
            .Select(r => new CustomDomainRoute(r.Domain, r.Slug))
            .ToListAsync(cancellationToken);
        var digest = System.Security.Cryptography.SHA256.HashData(
            System.Text.Encoding.UTF8.GetBytes(string.Join('\n', routes.Select(r => r.Domain + " " + r.TenantSlug))));
        var etag = $"\"{Convert.ToHexString(digest, 0, 16)}\"";
        http.Response.Headers.ETag = etag;
        return http.Request.Headers.IfNoneMatch.Contains(etag) ? TypedResults.StatusCode(StatusCodes.Status304NotModified) : TypedResults.Ok(routes);
    }

    public static async Task<IResult> VerifyApiKey(VerifyApiKeyRequest request, DatabaseApiKeySource source, CancellationToken cancellationToken) =>
        // A body without a key (JSON null) verifies nothing.
        request.Key is { } presented && await source.VerifyAsync(request.TenantId, presented, cancellationToken) is { } key
            ? TypedResults.Ok(key)
            : TypedResults.NotFound();
}

public sealed class DatabaseTenantSource(IServiceScopeFactory scopeFactory) : ITenantSource
{
    public Task<TenantInfo?> FindBySlugAsync(string slug, CancellationToken cancellationToken) => FindAsync(t => t.Slug == slug, cancellationToken);

    public Task<TenantInfo?> FindByIdAsync(Guid id, CancellationToken cancellationToken) => FindAsync(t => t.Id == id, cancellationToken);

    private async Task<TenantInfo?> FindAsync(System.Linq.Expressions.Expression<Func<Data.Tenant, bool>> which, CancellationToken cancellationToken)
    {
        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        var tenant = await db.Tenants.AsNoTracking()
            .Where(which)
            .Select(t => new TenantInfo(t.Id, t.Slug, t.Name, t.Status, t.Region, null, null))
            .FirstOrDefaultAsync(cancellationToken);
        if (tenant is null)
        {
            return null;
        }

        // The verified domains name the tenant's issuers on its own hosts (LumoAuthOptions.IssuerFor); few per tenant.
        var domains = await db.CustomDomains.IgnoreQueryFilters().AsNoTracking()
            .Where(d => d.TenantId == tenant.Id && d.VerifiedAt != null)
            .OrderBy(d => d.Domain)
            .Select(d => new { d.Domain, d.IsPrimary })
            .ToListAsync(cancellationToken);
        return domains.Count == 0 ? tenant
            : tenant with { PrimaryDomain = domains.FirstOrDefault(d => d.IsPrimary)?.Domain, Domains = domains.Select(d => d.Domain).ToList() };
    }
}

public sealed class DatabaseApiKeySource(IServiceScopeFactory scopeFactory) : IApiKeySource
{
    public async Task<VerifiedApiKey?> VerifyAsync(Guid tenantId, string key, CancellationToken cancellationToken)
    {
        if (!key.StartsWith(ApiKeyIssuer.KeyPrefix, StringComparison.Ordinal) || key.Length > 256)
        {
            return null;
        }

        await using var scope = scopeFactory.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AdminDbContext>();
        var hash = ApiKeyIssuer.HashOf(key);
        var now = DateTimeOffset.UtcNow;
        // Looked up by hash and tenant together: a key of another tenant is simply not found.
        var found = await db.ApiKeys.IgnoreQueryFilters().AsNoTracking()
            .Where(k => k.KeyHash == hash && k.TenantId == tenantId && k.RevokedAt == null && (k.ExpiresAt == null || k.ExpiresAt > now))
            .FirstOrDefaultAsync(cancellationToken);
        return found is null ? null : new VerifiedApiKey(found.Id, found.TenantId, found.Name, found.Scopes, found.ExpiresAt);
    }
}
