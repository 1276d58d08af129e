using LumoAuth.Admin.Data;
using LumoAuth.Admin.Features.ApiKeys;
using LumoAuth.Admin.Security;
using LumoAuth.Contracts;
using LumoAuth.Contracts.ApiKeys;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Tenants;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Features.Tenants;

/// <summary>The platform API: tenants are created by the operator, with their first admin and API key.</summary>
public static class PlatformTenantEndpoints
{
    public static IEndpointRouteBuilder MapPlatformTenantEndpoints(this IEndpointRouteBuilder app)
    {
        // Not a tenant path: guarded by the platform key instead of tenant credentials.
        var group = app.MapGroup("/api/v1/tenants")
            .AddEndpointFilter<PlatformKeyFilter>()
            .AllowAnonymous()
            .WithTags("Platform");
        group.MapPost("/", CreateTenant).WithName("CreateTenant");
        group.MapGet("/{slug}", GetTenant).WithName("GetTenant");
        group.MapPatch("/{slug}", UpdateTenant).WithName("UpdateTenant");
        return app;
    }

    public static async Task<IResult> CreateTenant(
        CreateTenantRequest request, AdminDbContext db, PasswordHasher hasher, IOptions<LumoAuthOptions> options, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator()
            .Required("slug", request.Slug, 63)
            .Required("name", request.Name)
            .Email("adminEmail", request.AdminEmail)
            .Password("adminPassword", request.AdminPassword)
            .Optional("adminName", request.AdminName);
        if (request.Slug is { } slug && !TenantDirectory.IsValidSlug(slug))
        {
            validation.Add("slug", "must be lowercase letters, digits and inner hyphens");
        }

        var region = request.Region ?? options.Value.Region;
        validation.Check(region is "us" or "eu", "region", "must be 'us' or 'eu'");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        // A tenant's data stays in its region, and this deployment serves only its own: a tenant recorded here for another
        // region could never be used, and its users' data would already have left that region. Ask that region's API.
        if (region != options.Value.Region)
        {
            return ApiErrors.Create(StatusCodes.Status421MisdirectedRequest, ErrorCodes.TenantInOtherRegion,
                $"This deployment serves region '{options.Value.Region}'; create tenants of region '{region}' through that region's API");
        }

        if (await db.Tenants.AnyAsync(t => t.Slug == request.Slug, cancellationToken))
        {
            return ApiErrors.Duplicate("A tenant with this slug already exists");
        }

        var now = DateTimeOffset.UtcNow;
        var tenant = new Tenant
        {
            Id = Guid.CreateVersion7(), Slug = request.Slug!, Name = request.Name!, Region = region,
            Status = TenantStatuses.Active, CreatedAt = now, UpdatedAt = now,
        };
        var admin = new User
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.Id, Email = request.AdminEmail!,
            NormalizedEmail = request.AdminEmail!.ToLowerInvariant(), Name = request.AdminName, IsAdmin = true,
            PasswordHash = request.AdminPassword is null ? null : hasher.Hash(request.AdminPassword),
            EmailVerified = true, CreatedAt = now, UpdatedAt = now,
        };
        var (apiKey, secret) = ApiKeyIssuer.Create(tenant.Id, "Initial admin key", ApiKeyIssuer.DefaultScopes, null);

        var platform = new EventActor(ActorTypes.Platform, "platform");
        db.Tenants.Add(tenant);
        db.Users.Add(admin);
        db.ApiKeys.Add(apiKey);
        db.AddEvent(new TenantCreated(tenant.Id, tenant.Slug, tenant.Name, tenant.Region) { TenantId = tenant.Id, Actor = platform });
        db.AddEvent(new UserCreated(admin.Id, admin.Email, true) { TenantId = tenant.Id, Actor = platform });
        db.AddEvent(new ApiKeyCreated(apiKey.Id, apiKey.Name, apiKey.Prefix, apiKey.Scopes) { TenantId = tenant.Id, Actor = platform });

        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            return ApiErrors.Duplicate("A tenant with this slug already exists");
        }

        var response = new CreatedTenantResponse(
            TenantResponse.From(tenant),
            new AdminUserResponse(admin.Id, admin.Email),
            new IssuedApiKeyResponse(apiKey.Id, secret, apiKey.Prefix, apiKey.Scopes),
            "Store the API key securely. It will not be shown again.");
        return TypedResults.Created($"/api/v1/tenants/{tenant.Slug}", new DataResponse<CreatedTenantResponse>(response, "Tenant created"));
    }

    public static async Task<IResult> GetTenant(string slug, AdminDbContext db, CancellationToken cancellationToken)
    {
        var tenant = await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Slug == slug, cancellationToken);
        return tenant is null ? ApiErrors.NotFound("Tenant") : TypedResults.Ok(new DataResponse<TenantResponse>(TenantResponse.From(tenant)));
    }

    public static async Task<IResult> UpdateTenant(string slug, UpdateTenantRequest request, AdminDbContext db, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Optional("name", request.Name);
        validation.Check(request.Name is null || request.Name.Trim().Length > 0, "name", "must not be empty");
        validation.Check(request.Status is null or TenantStatuses.Active or TenantStatuses.Suspended, "status", "must be 'active' or 'suspended'");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var tenant = await db.Tenants.FirstOrDefaultAsync(t => t.Slug == slug, cancellationToken);
        if (tenant is null)
        {
            return ApiErrors.NotFound("Tenant");
        }

        tenant.Name = request.Name ?? tenant.Name;
        tenant.Status = request.Status ?? tenant.Status;
        tenant.UpdatedAt = DateTimeOffset.UtcNow;
        db.AddEvent(new TenantUpdated(tenant.Id, tenant.Slug, tenant.Status)
        {
            TenantId = tenant.Id,
            Actor = new EventActor(ActorTypes.Platform, "platform"),
        });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Another change to the tenant (its settings, a concurrent update) won: retry against it.
            return ApiErrors.Create(StatusCodes.Status409Conflict, ErrorCodes.InvalidRequest, "The tenant was changed concurrently; retry");
        }

        return TypedResults.Ok(new DataResponse<TenantResponse>(TenantResponse.From(tenant), "Tenant updated"));
    }
}

public sealed record CreateTenantRequest(string? Slug, string? Name, string? Region, string? AdminEmail, string? AdminPassword, string? AdminName);

public sealed record UpdateTenantRequest(string? Name, string? Status);

public sealed record TenantResponse(Guid Id, string Slug, string Name, string Status, string Region, DateTimeOffset CreatedAt)
{
    public static TenantResponse From(Tenant t) => new(t.Id, t.Slug, t.Name, t.Status, t.Region, t.CreatedAt);
}

public sealed record AdminUserResponse(Guid Id, string Email);

public sealed record IssuedApiKeyResponse(Guid Id, string Key, string Prefix, IReadOnlyList<string> Scopes);

public sealed record CreatedTenantResponse(
    TenantResponse Tenant,
    AdminUserResponse AdminUser,
    IssuedApiKeyResponse ApiKey,
    [property: System.Text.Json.Serialization.JsonPropertyName("_note")] string Note);
