using System.Text.Json;
using LumoAuth.Contracts.Clients;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Protocol;
using Microsoft.EntityFrameworkCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Scopes;

public sealed record CreateScopeRequest(string? Name, string? Description, bool? IsDefault, IReadOnlyList<ScopeClaimRequest?>? Claims = null);

/// <summary><c>claims</c> replaces the scope's claims when given (<c>[]</c> removes them all).</summary>
public sealed record UpdateScopeRequest(string? Name, string? Description, bool? IsDefault, IReadOnlyList<ScopeClaimRequest?>? Claims = null);

/// <summary>Tenant Admin API for scopes: <c>/t/{slug}/api/v1/admin/scopes</c> (built-in scopes listed, never stored).</summary>
public static class ScopeEndpoints
{
    private const int MaxScopesPerTenant = 1000;

    public static IEndpointRouteBuilder MapScopeEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/scopes")
            .RequireAuthorization(Policies.TenantAdmin)
            .WithTags("Scopes");
        group.MapGet("/", ListScopes).WithName("ListScopes");
        group.MapGet("/{scopeId:int}", GetScope).WithName("GetScope");
        group.MapPost("/", CreateScope).WithName("CreateScope");
        group.MapPut("/{scopeId:int}", UpdateScope).WithName("UpdateScope");
        group.MapDelete("/{scopeId:int}", DeleteScope).WithName("DeleteScope");
        return app;
    }

    public sealed record ScopeServices(TokenDbContext Db, TenantContext Tenant, ClientCache Clients, ScopeClaimsCache ScopeClaims, TimeProvider Time);

    public static async Task<IResult> ListScopes(
        int? page, int? limit, string? search, string? sortBy, string? sortDir, [AsParameters] ScopeServices services, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Optional("search", search);
        var order = ListOrder.Check(validation, sortBy, sortDir, ["id", "name"]);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var paging = PageRequest.From(page, limit);
        var tenantId = services.Tenant.TenantId;
        var custom = (await services.Db.Scopes.AsNoTracking().Where(s => s.TenantId == tenantId).ToListAsync(cancellationToken))
            .Select(ToResponse);
        // The built-in scopes are not rows, so the list is searched and ordered here; a tenant has tens of scopes, not thousands.
        var matching = ScopeNames.BuiltIn.Concat(custom).Where(s => string.IsNullOrWhiteSpace(search)
            || s.Name.Contains(search.Trim(), StringComparison.OrdinalIgnoreCase)
            || (s.Description is { } description && description.Contains(search.Trim(), StringComparison.OrdinalIgnoreCase)));
        var all = (order.Key == "name" ? order.Apply(matching, s => s.Name) : order.Apply(matching, s => s.Id)).ToList();
        return Results.Ok(new PagedResponse<ScopeResponse>(all.Skip(paging.Skip).Take(paging.Limit).ToList(), PageMeta.For(paging, all.Count)));
    }

    public static async Task<IResult> GetScope(int scopeId, [AsParameters] ScopeServices services, CancellationToken cancellationToken)
    {
        if (ScopeNames.BuiltIn.FirstOrDefault(s => s.Id == scopeId) is { } builtIn)
        {
            return Results.Ok(new DataResponse<ScopeResponse>(builtIn));
        }

        var row = await FindAsync(services, scopeId, cancellationToken);
        return row is null ? ApiErrors.NotFound("Scope") : Results.Ok(new DataResponse<ScopeResponse>(ToResponse(row)));
    }

    public static async Task<IResult> CreateScope(CreateScopeRequest request, [AsParameters] ScopeServices services, CancellationToken cancellationToken)
    {
        var name = request.Name?.Trim();
        var description = request.Description?.Trim();
        var validator = new RequestValidator()
            .Required("name", name)
            .Required("description", description, 1000);
        if (!string.IsNullOrEmpty(name))
        {
            validator.Check(ScopeNames.IsValid(name), "name", $"must be a scope token (printable ASCII without spaces, quotes or backslashes), not starting with '{ScopeNames.ResourceConsentPrefix}'");
        }

        var claims = request.Claims is null ? [] : ScopeClaim.Read(request.Claims, validator);
        if (!validator.IsValid)
        {
            return validator.ToResult();
        }

        if (ScopeNames.IsBuiltIn(name!))
        {
            return ApiErrors.Duplicate($"'{name}' is a built-in scope");
        }

        // Administering scopes are not custom scopes: a description of ours would be shown for them on the consent page, and a
        // key that may manage scopes (not administrators' clients) could withdraw one from a client by deleting it.
        if (ScopeNames.IsPrivileged(name!))
        {
            return ApiErrors.Validation("name", "administering scopes (admin…, zanzibar…) are built in and cannot be defined");
        }

        var tenantId = services.Tenant.TenantId;
        if (await services.Db.Scopes.CountAsync(s => s.TenantId == tenantId, cancellationToken) >= MaxScopesPerTenant)
        {
            return ApiErrors.Validation("name", $"a tenant has at most {MaxScopesPerTenant} custom scopes");
        }

        var row = new ScopeDefinition
        {
            TenantId = tenantId,
            Name = name!,
            Description = description!,
            IsDefault = request.IsDefault ?? false,
            Claims = ScopeClaim.Store(claims!),
            CreatedAt = services.Time.GetUtcNow(),
        };
        services.Db.Scopes.Add(row);
        try
        {
            // The id comes from the database, so the event is written in a second step of the same transaction.
            await using var transaction = await services.Db.Database.BeginTransactionAsync(cancellationToken);
            await services.Db.SaveChangesAsync(cancellationToken);
            services.Db.AddEvent(new ScopeCreated(row.Id, row.Name, row.IsDefault) { TenantId = tenantId });
            await services.Db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            return ApiErrors.Duplicate($"A scope named '{name}' already exists");
        }

        services.ScopeClaims.Evict(tenantId);
        return Results.Json(new DataResponse<ScopeResponse>(ToResponse(row), "Scope created successfully"), statusCode: StatusCodes.Status201Created);
    }

    public static async Task<IResult> UpdateScope(int scopeId, UpdateScopeRequest request, [AsParameters] ScopeServices services, CancellationToken cancellationToken)
    {
        if (ScopeNames.BuiltIn.Any(s => s.Id == scopeId))
        {
            return SystemScopeIsImmutable();
        }

        if (await FindAsync(services, scopeId, cancellationToken, tracked: true) is not { } row)
        {
            return ApiErrors.NotFound("Scope");
        }

        var validator = new RequestValidator();
        if (request.Description is not null)
        {
            validator.Required("description", request.Description.Trim(), 1000);
        }

        // Clients hold scopes by name; a rename would silently change what they are allowed.
        validator.Check(request.Name is null || request.Name.Trim() == row.Name, "name", "a scope cannot be renamed; create a new one");
        var claims = request.Claims is null ? null : ScopeClaim.Read(request.Claims, validator);
        if (!validator.IsValid)
        {
            return validator.ToResult();
        }

        var changed = new List<string>();
        if (request.Description is { } newDescription && newDescription.Trim() != row.Description)
        {
            row.Description = newDescription.Trim();
            changed.Add("description");
        }

        if (request.IsDefault is { } isDefault && isDefault != row.IsDefault)
        {
            row.IsDefault = isDefault;
            changed.Add("isDefault");
        }

        if (claims is not null && ScopeClaim.Store(claims) is var stored && stored != ScopeClaim.Store(ScopeClaim.Load(row.Claims)))
        {
            row.Claims = stored;
            changed.Add("claims");
        }

        if (changed.Count > 0)
        {
            row.UpdatedAt = services.Time.GetUtcNow();
            services.Db.AddEvent(new ScopeUpdated(row.Id, row.Name, changed) { TenantId = row.TenantId });
            try
            {
                await services.Db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateConcurrencyException)
            {
                // Deleted (or changed) by another request since it was read.
                return ClientEndpoints.ChangedConcurrently("The scope");
            }

            services.ScopeClaims.Evict(row.TenantId);
        }

        return Results.Ok(new DataResponse<ScopeResponse>(ToResponse(row), "Scope updated successfully"));
    }

    public static async Task<IResult> DeleteScope(int scopeId, [AsParameters] ScopeServices services, CancellationToken cancellationToken)
    {
        if (ScopeNames.BuiltIn.Any(s => s.Id == scopeId))
        {
            return SystemScopeIsImmutable();
        }

        if (await FindAsync(services, scopeId, cancellationToken, tracked: true) is not { } row)
        {
            return ApiErrors.NotFound("Scope");
        }

        // Withdraw the scope from every client of the tenant that was allowed it, in the same SaveChanges.
        var tenantId = services.Tenant.TenantId;
        var permission = Permissions.Prefixes.Scope + row.Name;
        // A rough filter on the stored JSON (OpenIddict writes it with relaxed escaping: "orders+write" as is), then the exact test.
        var clients = await services.Db.Applications
            .Where(a => a.TenantId == tenantId && a.Permissions != null && a.Permissions.Contains(permission))
            .ToListAsync(cancellationToken);
        var affected = new List<string>();
        foreach (var client in clients)
        {
            var permissions = JsonSerializer.Deserialize<List<string>>(client.Permissions!) ?? [];
            if (permissions.RemoveAll(p => p == permission) == 0)
            {
                continue;
            }

            client.Permissions = JsonSerializer.Serialize(permissions, StoredJson);
            client.ConcurrencyToken = Guid.NewGuid().ToString();
            client.UpdatedAt = services.Time.GetUtcNow();
            affected.Add(client.ClientId!);
            services.Db.AddEvent(new ClientUpdated(client.ClientId!) { TenantId = tenantId });
        }

        services.Db.Scopes.Remove(row);
        services.Db.AddEvent(new ScopeDeleted(row.Id, row.Name, affected) { TenantId = tenantId });
        try
        {
            await services.Db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            return ClientEndpoints.ChangedConcurrently("A client allowed this scope, or the scope itself");
        }

        foreach (var clientId in affected)
        {
            services.Clients.Evict(tenantId, clientId);
        }

        services.ScopeClaims.Evict(tenantId);

        return Results.NoContent();
    }

    // As OpenIddict stores permissions, so the rough filter above keeps finding them.
    private static readonly JsonSerializerOptions StoredJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static IResult SystemScopeIsImmutable() =>
        ApiErrors.Create(StatusCodes.Status403Forbidden, ErrorCodes.PermissionDenied, "Built-in scopes cannot be modified or deleted");

    private static Task<ScopeDefinition?> FindAsync(ScopeServices services, int scopeId, CancellationToken cancellationToken, bool tracked = false)
    {
        var tenantId = services.Tenant.TenantId;
        var query = tracked ? services.Db.Scopes : services.Db.Scopes.AsNoTracking();
        return query.FirstOrDefaultAsync(s => s.TenantId == tenantId && s.Id == scopeId, cancellationToken);
    }

    private static ScopeResponse ToResponse(ScopeDefinition row) =>
        new(row.Id, row.Name, row.Description, row.IsDefault, false) { Claims = ScopeClaim.Load(row.Claims) };
}
