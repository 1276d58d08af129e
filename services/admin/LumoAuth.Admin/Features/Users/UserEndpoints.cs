using LumoAuth.Admin.Data;
using LumoAuth.Admin.Security;
using LumoAuth.Contracts.Users;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Admin.Features.Users;

public static class UserEndpoints
{
    public static IEndpointRouteBuilder MapUserEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/t/{tenantSlug}/api/v1/admin/users")
            .RequireAuthorization(Policies.TenantAdmin)
            .WithTags("Users");
        group.MapGet("/", ListUsers).WithName("ListUsers");
        group.MapPost("/", CreateUser).WithName("CreateUser");
        group.MapGet("/{userId}", GetUser).WithName("GetUser");
        return app;
    }

    public static async Task<IResult> ListUsers(AdminDbContext db, int? page, int? limit, string? search, CancellationToken cancellationToken)
    {
        var paging = PageRequest.From(page, limit);
        var query = db.Users.AsNoTracking();
        if (!string.IsNullOrWhiteSpace(search))
        {
            var pattern = "%" + search.Trim().Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";
            query = query.Where(u => EF.Functions.ILike(u.Email, pattern) || (u.Name != null && EF.Functions.ILike(u.Name, pattern)));
        }

        var total = await query.LongCountAsync(cancellationToken);
        var users = await query.OrderBy(u => u.CreatedAt).ThenBy(u => u.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<UserResponse>(users.Select(UserResponse.From).ToList(), PageMeta.For(paging, total)));
    }

    public static async Task<IResult> CreateUser(
        CreateUserRequest request, AdminDbContext db, TenantContext tenant, PasswordHasher hasher, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator()
            .Email("email", request.Email)
            .Password("password", request.Password)
            .Optional("name", request.Name)
            .Optional("username", request.Username, 100);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var normalized = request.Email!.ToLowerInvariant();
        if (await db.Users.AnyAsync(u => u.NormalizedEmail == normalized, cancellationToken))
        {
            return ApiErrors.Duplicate("User with this email already exists");
        }

        var now = DateTimeOffset.UtcNow;
        var user = new User
        {
            Id = Guid.CreateVersion7(), TenantId = tenant.TenantId, Email = request.Email, NormalizedEmail = normalized,
            Name = request.Name, Username = request.Username, EmailVerified = request.EmailVerified ?? false,
            IsActive = request.IsActive ?? true, PasswordHash = request.Password is null ? null : hasher.Hash(request.Password),
            CreatedAt = now, UpdatedAt = now,
        };
        db.Users.Add(user);
        db.AddEvent(new UserCreated(user.Id, user.Email, false) { TenantId = tenant.TenantId });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException ex) when (ex.IsUniqueViolation())
        {
            return ApiErrors.Duplicate("User with this email already exists");
        }

        return TypedResults.Created(
            $"/t/{tenant.Slug}/api/v1/admin/users/{user.Id}",
            new DataResponse<UserResponse>(UserResponse.From(user), "User created"));
    }

    /// <summary><paramref name="userId"/> is the user's UUID or email (ADM-03).</summary>
    public static async Task<IResult> GetUser(string userId, AdminDbContext db, CancellationToken cancellationToken)
    {
        var query = db.Users.AsNoTracking();
        var email = userId.ToLowerInvariant();
        var user = Guid.TryParse(userId, out var id)
            ? await query.FirstOrDefaultAsync(u => u.Id == id, cancellationToken)
            : await query.FirstOrDefaultAsync(u => u.NormalizedEmail == email, cancellationToken);
        return user is null ? ApiErrors.NotFound("User") : TypedResults.Ok(new DataResponse<UserResponse>(UserResponse.From(user)));
    }
}

public sealed record CreateUserRequest(string? Email, string? Password, string? Name, string? Username, bool? EmailVerified, bool? IsActive);

public sealed record RoleRef(string Slug, string Name);

public sealed record UserResponse(
    Guid Id, string Email, string? Username, string? Name, bool EmailVerified, bool IsActive, bool Blocked, bool MfaEnabled,
    IReadOnlyList<RoleRef> Roles, IReadOnlyList<RoleRef> Groups, DateTimeOffset CreatedAt, DateTimeOffset? LastLoginAt, int LoginCount)
{
    public static UserResponse From(User u) => new(
        u.Id, u.Email, u.Username, u.Name, u.EmailVerified, u.IsActive, u.Blocked, false, [], [], u.CreatedAt, u.LastLoginAt, u.LoginCount);
}
