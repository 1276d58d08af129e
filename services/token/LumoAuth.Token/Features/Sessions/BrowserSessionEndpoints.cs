using System.Globalization;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Login;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Sessions;

/// <summary>
/// The sign-in behind a browser's session cookie, for federation's SAML IdP (DESIGN: "session check at token, cookie
/// forwarded"): the browser sends the cookie with its request to federation, which cannot open it and asks here. The
/// cookie counts only as it does on the hosted pages: this tenant's, unexpired, its session live.
/// </summary>
public static class BrowserSessionEndpoints
{
    public static IEndpointRouteBuilder MapBrowserSessionEndpoints(this IEndpointRouteBuilder app)
    {
        var internalApi = app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal");
        internalApi.MapPost(InternalRoutes.BrowserSession, CurrentAsync).WithName("InternalBrowserSession");
        internalApi.MapPost(InternalRoutes.EndBrowserSession, EndAsync).WithName("InternalEndBrowserSession");
        internalApi.MapPost(InternalRoutes.IdpSessionLogouts, EndIdpSessionsAsync).WithName("InternalEndIdpSessions");
        internalApi.MapPost(InternalRoutes.AppSessionLogouts, EndAppSessionAsync).WithName("InternalEndAppSession");
        return app;
    }

    public sealed record SessionServices(
        TenantDirectory Tenants, TenantContext Tenant, IOptionsMonitor<CookieAuthenticationOptions> Cookies, SessionStore Sessions, SessionRevocation Revocation,
        TokenDbContext Db, TimeProvider Time);

    private static async Task<IResult> CurrentAsync(BrowserSessionRequest request, [AsParameters] SessionServices services, CancellationToken cancellationToken) =>
        await ResolveAsync(request, services, cancellationToken) is { } session ? TypedResults.Ok(session) : TypedResults.NotFound();

    /// <summary>Ends the session (SAML single logout): its tokens and grants go as at any logout.</summary>
    private static async Task<IResult> EndAsync(BrowserSessionRequest request, [AsParameters] SessionServices services, CancellationToken cancellationToken)
    {
        if (await ResolveAsync(request, services, cancellationToken) is not { } session)
        {
            return TypedResults.NotFound();
        }

        await services.Revocation.RevokeSessionAsync(session.UserId, session.SessionId, SessionRevocation.Reasons.Logout, cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>
    /// Ends the user's live sessions that the outside SAML IdP opened with that NameID (and, when named, those session
    /// indexes): its back-channel logout. Their tokens and grants go as at any revocation, and the apps they signed in to
    /// are told over their own back channels.
    /// </summary>
    private static async Task<IResult> EndIdpSessionsAsync(IdpSessionLogoutRequest request, [AsParameters] SessionServices services, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || await services.Tenants.FindByIdAsync(request.TenantId, cancellationToken) is not { } tenant)
        {
            return TypedResults.NotFound();
        }

        services.Tenant.Set(tenant);
        var candidates = await services.Db.Sessions.AsNoTracking()
            .Where(s => s.TenantId == tenant.Id && s.UserId == request.UserId && s.RevokedAt == null && s.SamlSession != null)
            .Select(s => new { s.Id, s.SamlSession })
            .ToListAsync(cancellationToken);
        var ended = 0;
        foreach (var candidate in candidates)
        {
            var opened = System.Text.Json.JsonSerializer.Deserialize<SamlIdpSession>(candidate.SamlSession!);
            if (opened is not null && opened.ProviderId == request.ProviderId && string.Equals(opened.NameId, request.NameId, StringComparison.Ordinal)
                && (request.SessionIndexes is not { Count: > 0 } indexes || (opened.SessionIndex is { } index && indexes.Contains(index, StringComparer.Ordinal)))
                && await services.Revocation.RevokeSessionAsync(request.UserId, candidate.Id, SessionRevocation.Reasons.IdpLogout, cancellationToken))
            {
                ended++;
            }
        }

        return TypedResults.Ok(new IdpSessionLogoutResult(ended));
    }

    /// <summary>Ends one live session of the user that a SAML app's back-channel logout named; 404 when there is none.</summary>
    private static async Task<IResult> EndAppSessionAsync(AppSessionLogoutRequest request, [AsParameters] SessionServices services, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || request.SessionId is not { Length: > 0 and <= 200 }
            || await services.Tenants.FindByIdAsync(request.TenantId, cancellationToken) is not { } tenant)
        {
            return TypedResults.NotFound();
        }

        services.Tenant.Set(tenant);
        return await services.Revocation.RevokeSessionAsync(request.UserId, request.SessionId, SessionRevocation.Reasons.AppLogout, cancellationToken)
            ? TypedResults.NoContent()
            : TypedResults.NotFound();
    }

    private static async Task<BrowserSessionInfo?> ResolveAsync(BrowserSessionRequest request, SessionServices services, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || request.Cookie is not { Length: > 0 and <= 16 * 1024 } header
            || await services.Tenants.FindAsync(request.TenantId, request.TenantSlug, cancellationToken) is not { } tenant)
        {
            return null;
        }

        services.Tenant.Set(tenant);
        var options = services.Cookies.Get(SessionCookie.Scheme);
        if (CookieValue(header, options.Cookie.Name!) is not { } value || options.TicketDataFormat.Unprotect(value) is not { } ticket
            || ticket.Properties.ExpiresUtc is { } expires && expires <= services.Time.GetUtcNow())
        {
            return null;
        }

        var principal = ticket.Principal;
        if (principal.FindFirst(LumoClaims.TenantId)?.Value != tenant.Id.ToString()
            || !Guid.TryParse(principal.FindFirst(Claims.Subject)?.Value, out var userId)
            || principal.FindFirst(SessionCookie.SessionIdClaim)?.Value is not { } sessionId
            || !await services.Sessions.IsActiveAsync(sessionId, cancellationToken))
        {
            return null;
        }

        var session = await services.Db.Sessions.AsNoTracking().FirstOrDefaultAsync(s => s.TenantId == tenant.Id && s.Id == sessionId, cancellationToken);
        return session is null ? null : new BrowserSessionInfo(userId, sessionId, session.CreatedAt, session.AuthMethod, session.MfaVerified);
    }

    /// <summary>The cookie's value from a Cookie header, put back together when the handler split it (<c>chunks-N</c>, then C1…CN).</summary>
    private static string? CookieValue(string header, string name)
    {
        var cookies = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in header.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                cookies.TryAdd(pair[..equals], pair[(equals + 1)..]);
            }
        }

        if (!cookies.TryGetValue(name, out var value))
        {
            return null;
        }

        if (!value.StartsWith("chunks-", StringComparison.Ordinal))
        {
            return value;
        }

        if (!int.TryParse(value.AsSpan(7), NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count is < 1 or > 10)
        {
            return null;
        }

        var whole = new System.Text.StringBuilder();
        for (var i = 1; i <= count; i++)
        {
            if (!cookies.TryGetValue(name + "C" + i.ToString(CultureInfo.InvariantCulture), out var chunk))
            {
                return null;
            }

            whole.Append(chunk);
        }

        return whole.ToString();
    }
}
