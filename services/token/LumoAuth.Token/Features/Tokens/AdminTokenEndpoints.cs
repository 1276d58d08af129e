using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Paging;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.Sessions;
using Microsoft.EntityFrameworkCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Tokens;

/// <summary>A stored token as the Admin API lists it (ADM-51). The token itself is never shown.</summary>
public sealed record TokenResponse(
    Guid Id, string? Type, string? ClientId, string? UserId, Guid? AuthorizationId, DateTimeOffset? CreatedAt, DateTimeOffset? ExpiresAt);

/// <summary>
/// ADM-51 and ADM-52: <c>GET /admin/tokens</c> lists the tenant's live stored tokens (authorization codes, refresh
/// tokens and user access tokens; client-credentials access tokens are stateless and never stored), and
/// <c>DELETE /admin/users/{userId}/tokens</c> revokes everything a user holds and ends their sessions.
/// </summary>
public static class AdminTokenEndpoints
{
    /// <summary>The listed kinds by their public names, with the type identifiers OpenIddict stores them under.</summary>
    private static readonly Dictionary<string, string> ListedTypes = new(StringComparer.Ordinal)
    {
        ["access_token"] = TokenTypeIdentifiers.AccessToken,
        ["refresh_token"] = TokenTypeIdentifiers.RefreshToken,
        ["authorization_code"] = TokenTypeIdentifiers.Private.AuthorizationCode,
    };

    public static IEndpointRouteBuilder MapAdminTokenEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/t/{tenantSlug}/api/v1/admin").RequireAuthorization(Policies.TenantAdmin).WithTags("Tokens");
        admin.MapGet("/tokens", ListTokens).WithName("ListTokens");
        // An administrator's grants and tokens are revoked only by a full administrator (AdministratorGuard).
        admin.MapDelete("/users/{userId}/tokens", RevokeUserTokens).GuardingAdministratorAccounts().WithName("RevokeUserTokens");
        return app;
    }

    public static async Task<IResult> ListTokens(
        string? userId, string? clientId, string? type, int? page, int? limit,
        TokenDbContext db, TenantContext tenant, TimeProvider time, CancellationToken cancellationToken)
    {
        var validation = new RequestValidator().Optional("userId", userId, 200).Optional("clientId", clientId, 200);
        validation.Check(type is null || ListedTypes.ContainsKey(type), "type", $"must be one of {string.Join(", ", ListedTypes.Keys)}");
        if (!validation.IsValid)
        {
            return validation.ToResult();
        }

        var now = time.GetUtcNow().UtcDateTime;
        var tenantId = tenant.TenantId;
        var stored = type is null ? [.. ListedTypes.Values] : new[] { ListedTypes[type] };
        var tokens = db.Set<TokenToken>().AsNoTracking()
            .Where(t => t.TenantId == tenantId && t.Status == Statuses.Valid && t.ExpirationDate > now && stored.Contains(t.Type!));
        if (userId is not null)
        {
            tokens = tokens.Where(t => t.Subject == userId);
        }

        if (clientId is not null)
        {
            tokens = tokens.Where(t => t.Application!.ClientId == clientId);
        }

        var paging = PageRequest.From(page, limit);
        var meta = await BoundedCount.PageMetaAsync(paging, n => tokens.Take(n).LongCountAsync(cancellationToken));
        var rows = await tokens.OrderByDescending(t => t.CreationDate).ThenBy(t => t.Id).Skip(paging.Skip).Take(paging.Limit)
            .Select(t => new { t.Id, t.Type, ClientId = t.Application!.ClientId, t.Subject, AuthorizationId = (Guid?)t.Authorization!.Id, t.CreationDate, t.ExpirationDate })
            .ToListAsync(cancellationToken);
        return TypedResults.Ok(new PagedResponse<TokenResponse>(
            [.. rows.Select(r => new TokenResponse(r.Id, PublicName(r.Type), r.ClientId, r.Subject, r.AuthorizationId, Utc(r.CreationDate), Utc(r.ExpirationDate)))],
            meta));
    }

    /// <summary>Every grant and token of the user, their access tokens on the deny-list, and their sessions: they sign in again.</summary>
    public static async Task<IResult> RevokeUserTokens(string userId, SessionRevocation revocation, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(userId, out var id))
        {
            return ApiErrors.NotFound("User");
        }

        await revocation.RevokeUserAsync(id, SessionRevocation.Reasons.Admin, cancellationToken);
        return TypedResults.NoContent();
    }

    private static string? PublicName(string? stored) => ListedTypes.FirstOrDefault(t => t.Value == stored).Key ?? stored;

    private static DateTimeOffset? Utc(DateTime? value) => value is { } at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null;
}
