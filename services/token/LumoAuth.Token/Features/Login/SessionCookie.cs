using System.Buffers.Text;
using System.Security.Claims;
using System.Security.Cryptography;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Sessions;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Sessions;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using static OpenIddict.Abstractions.OpenIddictConstants;

using LumoAuth.Token.Features.Localization;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// The SSO session cookie of the hosted pages. One cookie per tenant: its path is <c>/t/{slug}</c>, so a
/// browser never sends one tenant's session to another, and it names a server-side session row, so an
/// admin (or a blocked user) can end it at once.
/// </summary>
public static class SessionCookie
{
    public const string Scheme = "LumoSession";
    public const string CookieName = BrowserSessionRequest.CookieName;
    public const string SessionIdClaim = "sid";
    /// <summary>The cookie's ceiling; each sign-in sets the session's own end (the tenant's <c>maxAge</c>).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(365);

    public static string PathFor(string slug) => "/t/" + slug;

    /// <summary>The user of the browser's SSO session on this tenant, or null (account pages send such a browser to sign in).</summary>
    public static async Task<Guid?> SignedInUserAsync(HttpContext http) => (await SignedInAsync(http))?.UserId;

    /// <summary>The user and session id of the browser's SSO session on this tenant, or null.</summary>
    public static async Task<(Guid UserId, string SessionId)?> SignedInAsync(HttpContext http) =>
        await http.AuthenticateAsync(Scheme) is { Succeeded: true, Principal: { } user }
            && Guid.TryParse(user.FindFirst(OpenIddict.Abstractions.OpenIddictConstants.Claims.Subject)?.Value, out var id)
            && user.FindFirst(SessionIdClaim)?.Value is { } sessionId
            ? (id, sessionId)
            : null;

    public static AuthenticationBuilder AddSessionCookie(this AuthenticationBuilder builder)
    {
        builder.Services.AddSingleton<IPostConfigureOptions<CookieAuthenticationOptions>, SecureCookieWhenPublicHttps>();
        return builder.AddCookie(Scheme, o =>
        {
            o.Cookie.Name = CookieName;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.Cookie.IsEssential = true;
            o.ExpireTimeSpan = Lifetime;
            o.SlidingExpiration = false;
            o.Events.OnSigningIn = context => ScopeToTenant(context.HttpContext, context.CookieOptions);
            o.Events.OnSigningOut = context => ScopeToTenant(context.HttpContext, context.CookieOptions);
            o.Events.OnValidatePrincipal = ValidateAsync;
            // The hosted pages decide where to send a browser; the handler never redirects by itself.
            o.Events.OnRedirectToLogin = context =>
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                return Task.CompletedTask;
            };
            o.Events.OnRedirectToAccessDenied = context =>
            {
                context.Response.StatusCode = StatusCodes.Status403Forbidden;
                return Task.CompletedTask;
            };
        });
    }

    private static Task ScopeToTenant(HttpContext http, CookieOptions options)
    {
        options.Path = PathFor(http.RequestServices.GetRequiredService<TenantContext>().Slug);
        return Task.CompletedTask;
    }

    /// <summary>A cookie counts only on its own tenant's paths and while its session row is active.</summary>
    private static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var tenant = context.HttpContext.RequestServices.GetRequiredService<TenantContext>();
        var principal = context.Principal;
        var sid = principal?.FindFirst(SessionIdClaim)?.Value;
        if (!tenant.HasTenant || sid is null || principal!.FindFirst(LumoClaims.TenantId)?.Value != tenant.TenantId.ToString())
        {
            context.RejectPrincipal();
            return;
        }

        var store = context.HttpContext.RequestServices.GetRequiredService<SessionStore>();
        if (!await store.IsActiveAsync(sid, context.HttpContext.RequestAborted))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
        }
    }

    /// <summary>Behind the gateway requests arrive over http; our cookies are Secure whenever the public origin is https.</summary>
    public static CookieSecurePolicy SecurePolicyFor(LumoAuthOptions lumo) =>
        lumo.PublicBaseUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;

    /// <summary>Behind the gateway requests arrive over http; the cookie is Secure whenever the public origin is https.</summary>
    private sealed class SecureCookieWhenPublicHttps(IOptions<LumoAuthOptions> lumo) : IPostConfigureOptions<CookieAuthenticationOptions>
    {
        public void PostConfigure(string? name, CookieAuthenticationOptions options)
        {
            if (name == Scheme)
            {
                options.Cookie.SecurePolicy = SecurePolicyFor(lumo.Value);
            }
        }
    }
}

/// <summary>
/// Server-side SSO sessions: created at login, checked on every use of the cookie and of a refresh token issued under
/// them, revocable. The tenant's session policy (admin's <c>sessionPolicy</c>) applies: a session lasts
/// <c>maxAge</c> from sign-in, the browser is signed out after <c>idleTimeout</c> without use (its grants go on until
/// the session ends), and with <c>singleSession</c> a sign-in ends the user's other sessions.
/// </summary>
public sealed class SessionStore(
    TokenDbContext db, TenantContext tenant, HostedPageSettingsCache settings, SessionRevocation revocation, TimeProvider time,
    IOptions<LumoAuthOptions> lumo)
{
    /// <summary>The longest a use is not recorded: a session's last activity is written at most this often.</summary>
    private static readonly TimeSpan TouchInterval = TimeSpan.FromMinutes(1);

    public async Task<BrowserSession> CreateAsync(
        Guid userId, string authMethod, bool mfaVerified, HttpContext http, CancellationToken cancellationToken, LumoAuth.Contracts.Internal.SamlIdpSession? samlSession = null)
    {
        var policy = await PolicyAsync(cancellationToken);
        var now = time.GetUtcNow();
        var userAgent = http.Request.Headers.UserAgent.ToString();
        var session = new BrowserSession
        {
            Id = "sess_" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(24)),
            TenantId = tenant.TenantId,
            TenantSlug = tenant.Slug,
            Issuer = lumo.Value.IssuerFor(http.Request, tenant.Tenant!),
            UserId = userId,
            IpAddress = http.Connection.RemoteIpAddress?.ToString(),
            UserAgent = userAgent.Length > 512 ? userAgent[..512] : userAgent,
            AuthMethod = authMethod,
            MfaVerified = mfaVerified,
            CreatedAt = now,
            LastActiveAt = now,
            ExpiresAt = now + TimeSpan.FromSeconds(policy.SessionMaxAge),
            SamlSession = samlSession is null ? null : System.Text.Json.JsonSerializer.Serialize(samlSession),
        };
        db.Sessions.Add(session);
        db.AddEvent(new SessionStarted(session.Id, userId, authMethod, mfaVerified) { TenantId = session.TenantId });
        await db.SaveChangesAsync(cancellationToken);

        // The newest sessions are kept up to the limit (the one just opened first); older ones end.
        var limit = policy.SingleSession ? 1 : policy.MaxSessions;
        if (limit > 0)
        {
            var beyond = await db.Sessions.AsNoTracking()
                .Where(s => s.TenantId == session.TenantId && s.UserId == userId && s.Id != session.Id && s.RevokedAt == null && s.ExpiresAt > now)
                .OrderByDescending(s => s.CreatedAt).ThenByDescending(s => s.Id)
                .Skip(limit - 1)
                .Select(s => s.Id).ToListAsync(cancellationToken);
            var reason = policy.SingleSession ? SessionRevocation.Reasons.SingleSession : SessionRevocation.Reasons.SessionLimit;
            foreach (var other in beyond)
            {
                await revocation.RevokeSessionAsync(userId, other, reason, cancellationToken);
            }
        }

        return session;
    }

    /// <summary>Whether the browser's sign-in is live (not revoked, not past its lifetime, used recently enough); records the use.</summary>
    public Task<bool> IsActiveAsync(string sessionId, CancellationToken cancellationToken) =>
        CheckAsync(sessionId, forGrant: false, cancellationToken);

    /// <summary>
    /// Whether a grant issued under the session (refresh token, device or CIBA approval) may still be redeemed: the session
    /// was not ended (logout, revocation, block, session limit) and is within its lifetime. The idle timeout is the
    /// browser's alone: clients refresh when their access token expires, which may be long after the browser was last
    /// used. A redemption within the idle window counts as use, but never wakes a session that has gone idle.
    /// </summary>
    public Task<bool> AllowsGrantsAsync(string sessionId, CancellationToken cancellationToken) =>
        CheckAsync(sessionId, forGrant: true, cancellationToken);

    private async Task<bool> CheckAsync(string sessionId, bool forGrant, CancellationToken cancellationToken)
    {
        var idle = TimeSpan.FromSeconds((await PolicyAsync(cancellationToken)).SessionIdleTimeout);
        var now = time.GetUtcNow();
        var tenantId = tenant.TenantId;
        var lastActive = await db.Sessions.AsNoTracking()
            .Where(s => s.TenantId == tenantId && s.Id == sessionId && s.RevokedAt == null && s.ExpiresAt > now)
            .Select(s => (DateTimeOffset?)s.LastActiveAt).FirstOrDefaultAsync(cancellationToken);
        if (lastActive is not { } last)
        {
            return false;
        }

        if (now - last >= idle)
        {
            return forGrant;
        }

        // Written only now and then (a quarter of the idle timeout at most), not on every page or refresh.
        var touchBefore = now - (idle / 4 < TouchInterval ? idle / 4 : TouchInterval);
        if (last < touchBefore)
        {
            await db.Sessions.Where(s => s.TenantId == tenantId && s.Id == sessionId && s.LastActiveAt < touchBefore)
                .ExecuteUpdateAsync(u => u.SetProperty(s => s.LastActiveAt, now), cancellationToken);
        }

        return true;
    }

    /// <summary>
    /// Signs the browser in to the session: the cookie lasts as long as the session may. The user's own language
    /// (<paramref name="locale"/>), when the tenant offers it, becomes this browser's for the tenant's pages; unless the
    /// person just picked one from a page's list (<see cref="PageLanguage.TakePick"/>), which is saved as theirs instead,
    /// as Keycloak keeps the locale chosen on its login page. A profile that cannot be saved now does not stop the sign-in.
    /// </summary>
    public static async Task SignInAsync(HttpContext http, BrowserSession session, ClaimsPrincipal principal, string? locale)
    {
        if (PageLanguage.TakePick(http) is { } picked)
        {
            if (!string.Equals(picked, locale, StringComparison.OrdinalIgnoreCase))
            {
                await http.RequestServices.GetRequiredService<Features.AccountPages.AccountLinkClient>()
                    .UpdateProfileAsync(session.TenantId, session.UserId, new SelfProfileUpdate(null, null, null, picked), http.RequestAborted);
            }
        }
        else
        {
            PageLanguage.Adopt(http, locale);
        }

        await http.SignInAsync(SessionCookie.Scheme, principal, new AuthenticationProperties { ExpiresUtc = session.ExpiresAt });
    }

    private async Task<HostedPageSettings> PolicyAsync(CancellationToken cancellationToken) =>
        await settings.GetAsync(tenant.TenantId, cancellationToken) ?? HostedPageSettingsCache.Fallback;

    /// <summary>Records that the session signed the user in to a client (for back-channel logout) and that it was used.</summary>
    public async Task TouchAsync(string sessionId, string clientId, CancellationToken cancellationToken)
    {
        var tenantId = tenant.TenantId;
        var session = await db.Sessions.FirstOrDefaultAsync(s => s.TenantId == tenantId && s.Id == sessionId, cancellationToken);
        if (session is null)
        {
            return;
        }

        session.AddClient(clientId);

        session.LastActiveAt = time.GetUtcNow();
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>The cookie's principal: who, which session, when and how they signed in.</summary>
    public static ClaimsPrincipal Principal(BrowserSession session, string? email, string? name, IEnumerable<string> methods)
    {
        var identity = new ClaimsIdentity(SessionCookie.Scheme, Claims.Name, Claims.Role);
        identity.AddClaim(new Claim(Claims.Subject, session.UserId.ToString()));
        identity.AddClaim(new Claim(SessionCookie.SessionIdClaim, session.Id));
        identity.AddClaim(new Claim(LumoClaims.TenantId, session.TenantId.ToString()));
        identity.AddClaim(new Claim(Claims.AuthenticationTime, session.CreatedAt.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)));
        foreach (var method in methods.Distinct(StringComparer.Ordinal))
        {
            identity.AddClaim(new Claim(Claims.AuthenticationMethodReference, method));
        }

        if (!string.IsNullOrEmpty(email))
        {
            identity.AddClaim(new Claim(Claims.Email, email));
        }

        if (!string.IsNullOrEmpty(name))
        {
            identity.AddClaim(new Claim(Claims.Name, name));
        }

        return new ClaimsPrincipal(identity);
    }
}
