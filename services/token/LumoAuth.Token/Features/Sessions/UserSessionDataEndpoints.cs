using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.Token.Data;
using Microsoft.EntityFrameworkCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Sessions;

/// <summary>
/// <c>GET /internal/v1/users/{userId}/session-data?tenantId=</c>: everything this service keeps about a user — sessions
/// (when, from where, with which browser and applications) and remembered consents — for admin's GDPR export.
/// </summary>
public static class UserSessionDataEndpoints
{
    public static IEndpointRouteBuilder MapUserSessionDataEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet(InternalRoutes.UserSessionData, GetAsync).RequireAuthorization(Policies.Internal).WithName("InternalUserSessionData").WithTags("Internal");
        return app;
    }

    private static async Task<IResult> GetAsync(Guid userId, Guid tenantId, TokenDbContext db, CancellationToken cancellationToken)
    {
        var sessions = await db.Sessions.IgnoreQueryFilters().AsNoTracking()
            .Where(s => s.TenantId == tenantId && s.UserId == userId)
            .OrderBy(s => s.CreatedAt)
            .ToListAsync(cancellationToken);
        var subject = userId.ToString();
        var consents = await db.Set<TokenAuthorization>().IgnoreQueryFilters().AsNoTracking()
            .Where(a => a.TenantId == tenantId && a.Subject == subject && a.Type == AuthorizationTypes.Permanent)
            .OrderBy(a => a.CreationDate)
            .Select(a => new { a.Application!.ClientId, a.Scopes, a.Status, a.CreationDate })
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new UserSessionData(
            [.. sessions.Select(s => new UserSessionRecord(s.Id, s.CreatedAt, s.LastActiveAt, s.ExpiresAt, s.RevokedAt, s.IpAddress, s.UserAgent,
                s.AuthMethod, s.MfaVerified, s.SignedInClientIds()))],
            [.. consents.Select(c => new UserConsentRecord(c.ClientId ?? string.Empty,
                string.IsNullOrEmpty(c.Scopes) ? [] : JsonSerializer.Deserialize<List<string>>(c.Scopes) ?? [], c.Status ?? string.Empty, c.CreationDate))]));
    }
}
