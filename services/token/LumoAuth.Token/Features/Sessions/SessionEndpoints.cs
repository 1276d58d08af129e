using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Geo;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Directory;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Token.Features.Sessions;

public sealed record SessionDevice(string Type, string? Os, string? Browser);

/// <summary>
/// A session as the Admin API shows it (ADM-47). <c>location</c> is the city and country of the address it signed in
/// from, by the deployment's GeoIP files (<c>GeoIp</c> section); null without them or for an address they do not know.
/// </summary>
public sealed record SessionResponse(
    string Id, Guid UserId, string? IpAddress, string? UserAgent, SessionDevice Device, GeoPlace? Location,
    string AuthMethod, bool MfaVerified, DateTimeOffset CreatedAt, DateTimeOffset LastActiveAt, DateTimeOffset ExpiresAt)
{
    public static SessionResponse From(BrowserSession s, GeoIpDirectory geoIp) => new(
        s.Id, s.UserId, s.IpAddress, s.UserAgent, UserAgents.Describe(s.UserAgent), geoIp.Place(s.IpAddress),
        s.AuthMethod, s.MfaVerified, s.CreatedAt, s.LastActiveAt, s.ExpiresAt);
}

public sealed record RevokedSessionsResponse(int Revoked);

/// <summary>
/// ADM-47…50: <c>/admin/sessions</c> and <c>/admin/users/{userId}/sessions</c>. Only active sessions are listed;
/// ending them signs the browser out at its next request and stops the grants issued under them.
/// </summary>
public static class SessionEndpoints
{
    public static IEndpointRouteBuilder MapSessionEndpoints(this IEndpointRouteBuilder app)
    {
        var sessions = app.MapGroup("/t/{tenantSlug}/api/v1/admin/sessions").RequireAuthorization(Policies.TenantAdmin).WithTags("Sessions");
        sessions.MapGet("/", ListSessions).WithName("ListSessions");

        // Ending an administrator's sessions takes a full administrator (AdministratorGuard), not a key scoped to users.
        var userSessions = app.MapGroup("/t/{tenantSlug}/api/v1/admin/users/{userId}/sessions")
            .RequireAuthorization(Policies.TenantAdmin).GuardingAdministratorAccounts().WithTags("Sessions");
        userSessions.MapGet("/", ListUserSessions).WithName("ListUserSessions");
        userSessions.MapDelete("/", RevokeUserSessions).WithName("RevokeUserSessions");
        userSessions.MapDelete("/{sessionId}", RevokeUserSession).WithName("RevokeUserSession");
        return app;
    }

    public sealed record SessionServices(
        TokenDbContext Db, TenantContext Tenant, SessionRevocation Revocation, UserDirectory Users, TimeProvider Time, GeoIpDirectory GeoIp);

    public static async Task<IResult> ListSessions(
        string? userId, string? ipAddress, int? page, int? limit, string? sortBy, string? sortDir, [AsParameters] SessionServices services, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator();
        var order = ListOrder.Check(validation, sortBy, sortDir, ["lastActiveAt", "createdAt"], newestFirst: true);
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var paging = PageRequest.From(page, limit);
        var query = Active(services);
        if (userId is not null)
        {
            if (!Guid.TryParse(userId, out var id))
            {
                return ApiErrors.Validation("userId", "must be a user id");
            }

            query = query.Where(s => s.UserId == id);
        }

        if (!string.IsNullOrWhiteSpace(ipAddress))
        {
            query = query.Where(s => s.IpAddress == ipAddress.Trim());
        }

        var meta = await BoundedCount.PageMetaAsync(paging, n => query.Take(n).LongCountAsync(cancellationToken));
        var ordered = order.Key == "createdAt" ? order.Apply(query, s => s.CreatedAt) : order.Apply(query, s => s.LastActiveAt);
        var rows = await ordered.ThenBy(s => s.Id).Skip(paging.Skip).Take(paging.Limit).ToListAsync(cancellationToken);
        return Results.Ok(new PagedResponse<SessionResponse>(rows.Select(s => SessionResponse.From(s, services.GeoIp)).ToList(), meta));
    }

    public static async Task<IResult> ListUserSessions(string userId, [AsParameters] SessionServices services, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(userId, out var id))
        {
            return ApiErrors.NotFound("User");
        }

        var rows = await Active(services).Where(s => s.UserId == id).OrderByDescending(s => s.LastActiveAt).Take(PageRequest.MaxLimit).ToListAsync(cancellationToken);
        if (rows.Count == 0 && await UnknownUserAsync(services.Users, services.Tenant.TenantId, id, cancellationToken) is { } refusal)
        {
            return refusal;
        }

        return Results.Ok(new DataResponse<IReadOnlyList<SessionResponse>>(rows.Select(s => SessionResponse.From(s, services.GeoIp)).ToList()));
    }

    public static async Task<IResult> RevokeUserSessions(string userId, [AsParameters] SessionServices services, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(userId, out var id))
        {
            return ApiErrors.NotFound("User");
        }

        var revoked = await services.Revocation.RevokeUserAsync(id, SessionRevocation.Reasons.Admin, cancellationToken);
        if (revoked == 0 && await UnknownUserAsync(services.Users, services.Tenant.TenantId, id, cancellationToken) is { } refusal)
        {
            return refusal;
        }

        return Results.Ok(new DataResponse<RevokedSessionsResponse>(new RevokedSessionsResponse(revoked), "All sessions revoked"));
    }

    public static async Task<IResult> RevokeUserSession(string userId, string sessionId, [AsParameters] SessionServices services, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(userId, out var id) || !await services.Revocation.RevokeSessionAsync(id, sessionId, SessionRevocation.Reasons.Admin, cancellationToken))
        {
            return ApiErrors.NotFound("Session");
        }

        return Results.Ok(new DataResponse<RevokedSessionsResponse>(new RevokedSessionsResponse(1), "Session revoked"));
    }

    /// <summary>
    /// A user with sessions exists; one without may not: 404 for an id the tenant has no user with (another tenant's
    /// included), 503 when admin cannot say. Null when the user exists.
    /// </summary>
    /// <summary>The answer for a user of whom nothing was found: 404 when the tenant has no such user, 503 when admin cannot say; null: the user exists.</summary>
    internal static async Task<IResult?> UnknownUserAsync(UserDirectory users, Guid tenantId, Guid userId, CancellationToken cancellationToken) =>
        await users.ExistsAsync(tenantId, userId, cancellationToken) switch
        {
            true => null,
            false => ApiErrors.NotFound("User"),
            null => ApiErrors.Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable, "The user directory is unavailable; try again."),
        };

    private static IQueryable<BrowserSession> Active(SessionServices services)
    {
        var tenantId = services.Tenant.TenantId;
        var now = services.Time.GetUtcNow();
        return services.Db.Sessions.AsNoTracking().Where(s => s.TenantId == tenantId && s.RevokedAt == null && s.ExpiresAt > now);
    }
}

/// <summary>A coarse reading of a User-Agent header for the sessions list; never used for decisions.</summary>
public static class UserAgents
{
    public static SessionDevice Describe(string? userAgent)
    {
        var ua = userAgent ?? string.Empty;
        var type = ua.Contains("Mobi", StringComparison.OrdinalIgnoreCase) ? "mobile"
            : ua.Contains("Tablet", StringComparison.OrdinalIgnoreCase) || ua.Contains("iPad", StringComparison.Ordinal) ? "tablet"
            : ua.Length == 0 ? "unknown" : "desktop";
        string? os = ua switch
        {
            _ when ua.Contains("Android", StringComparison.Ordinal) => "Android",
            _ when ua.Contains("iPhone", StringComparison.Ordinal) || ua.Contains("iPad", StringComparison.Ordinal) => "iOS",
            _ when ua.Contains("Windows", StringComparison.Ordinal) => "Windows",
            _ when ua.Contains("Mac OS X", StringComparison.Ordinal) => "macOS",
            _ when ua.Contains("Linux", StringComparison.Ordinal) => "Linux",
            _ => null,
        };
        string? browser = ua switch
        {
            _ when ua.Contains("Edg/", StringComparison.Ordinal) => "Edge",
            _ when ua.Contains("Chrome/", StringComparison.Ordinal) => "Chrome",
            _ when ua.Contains("Firefox/", StringComparison.Ordinal) => "Firefox",
            _ when ua.Contains("Safari/", StringComparison.Ordinal) => "Safari",
            _ => null,
        };
        return new SessionDevice(type, os, browser);
    }
}
