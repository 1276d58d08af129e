using LumoAuth.Contracts;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Sessions;
using LumoAuth.Federation.Data;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace LumoAuth.Federation.Features.Login;

/// <summary>
/// What every outside sign-in (OpenID Connect, OAuth, SAML) does the same way: bind the sign-in to the browser that began
/// it, find or make the user the outside account is, hand the browser to the token service with a one-time ticket, and
/// land on the token service's page with a fixed reason when it fails.
/// </summary>
public static class SignInSteps
{
    public sealed record Context(FederationDbContext Db, TenantContext Tenant, ExternalUsers Users, LoginStates States);

    /// <summary>Sets the binding cookie (on the tenant's whole path: the token service's landing page checks it too); its value.</summary>
    public static string BindBrowser(HttpContext http, string slug, LumoAuthOptions options, string cookie = LoginTicket.BrowserCookie)
    {
        var browser = LoginStates.NewSecret();
        http.Response.Cookies.Append(cookie, browser, new CookieOptions
        {
            Path = $"/t/{slug}/", HttpOnly = true, SameSite = SameSiteMode.Lax, IsEssential = true, MaxAge = LoginStates.StateLifetime,
            Secure = http.Request.IsHttps || options.PublicBaseUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase),
        });
        return browser;
    }

    /// <summary>Links (or finds, or makes) the account's user and sends the browser to the token service with a ticket; or to its error page.</summary>
    public static async Task<IResult> HandOverAsync(
        HttpContext http, Context services, IdentityProvider provider, UpstreamAccount account, string? returnUrl, string browserHash, SamlIdpSession? samlSession = null)
    {
        var slug = services.Tenant.Slug;
        Guid userId;
        try
        {
            var link = await LinkAsync(services, provider, account, http.RequestAborted);
            if (link.Refusal is { } refusal)
            {
                return Fail(slug, refusal, returnUrl);
            }

            userId = link.UserId;
        }
        catch (DependencyUnavailableException)
        {
            return Fail(slug, SocialLoginEndpoints.Failures.Unavailable, returnUrl);
        }

        var ticket = await services.States.IssueTicketAsync(services.Tenant.TenantId, new LoginTicket(userId, provider.Id, provider.Name, returnUrl, browserHash) { SamlSession = samlSession });
        http.Response.Headers.CacheControl = "no-store";
        return Results.Redirect($"/t/{slug}/login/external?ticket={Uri.EscapeDataString(ticket)}");
    }

    /// <summary>
    /// The user the outside account signs in as: its link, or — the first time — the user admin finds by verified address
    /// or makes, linked now. A concurrent first sign-in of the same account links once; the other finds its link.
    /// </summary>
    public static async Task<LinkOutcome> LinkAsync(
        Context services, IdentityProvider provider, UpstreamAccount account, CancellationToken cancellationToken, string how = ExternalAccountLinked.BySignIn)
    {
        var db = services.Db;
        var now = DateTimeOffset.UtcNow;
        var link = await db.ExternalIdentities.FirstOrDefaultAsync(i => i.ProviderId == provider.Id && i.Subject == account.Subject, cancellationToken);
        if (link is not null)
        {
            (link.LastSignInAt, link.Email) = (now, account.Email ?? link.Email);
            await db.SaveChangesAsync(cancellationToken);
            if (provider.Saml is { UpdateUserOnLogin: true } || provider.Ldap is { UpdateUserOnLogin: true })
            {
                await services.Users.UpdateProfileAsync(services.Tenant.TenantId, link.UserId, account, cancellationToken);
            }

            return new LinkOutcome(link.UserId, null);
        }

        var outcome = await services.Users.FindOrCreateAsync(new ExternalUserRequest(
            services.Tenant.TenantId, $"{provider.Type}:{provider.Name}", account.Email, account.EmailVerified, account.Name, account.GivenName, account.FamilyName,
            account.Picture, provider.AllowSignup, provider.AutoLinkUsers)         {
            Roles = provider.Saml?.DefaultRoles ?? provider.Ldap?.DefaultRoles, PhoneNumber = account.PhoneNumber, Username = account.Username,
            DirectoryId = provider.Ldap is null ? null : provider.Id,
        },
            cancellationToken);
        if (outcome.User is not { } user)
        {
            // A concurrent first sign-in of the same account may have made the user and its link meanwhile.
            var linked = await db.ExternalIdentities.AsNoTracking().FirstOrDefaultAsync(i => i.ProviderId == provider.Id && i.Subject == account.Subject, cancellationToken);
            return linked is not null ? new LinkOutcome(linked.UserId, null) : new LinkOutcome(Guid.Empty, outcome.Refusal ?? SocialLoginEndpoints.Failures.ProviderError);
        }

        if (await AddLinkAsync(db, services.Tenant.TenantId, provider, account, user.UserId, how, cancellationToken))
        {
            return new LinkOutcome(user.UserId, null) { NewLink = true, UserCreated = user.Created };
        }

        var existing = await db.ExternalIdentities.AsNoTracking().FirstAsync(i => i.ProviderId == provider.Id && i.Subject == account.Subject, cancellationToken);
        return new LinkOutcome(existing.UserId, null);
    }

    /// <summary>The user an outside account signs in as, or why there is none; whether this call linked it, and made the user.</summary>
    public sealed record LinkOutcome(Guid UserId, string? Refusal)
    {
        public bool NewLink { get; init; }

        public bool UserCreated { get; init; }
    }

    /// <summary>
    /// Links the outside account to <paramref name="userId"/> (the signed-in user asked for it): null when linked (or linked
    /// to them already), <see cref="LinkOutcomes.LinkedElsewhere"/> when it signs another user in here, which it keeps doing.
    /// </summary>
    public static async Task<string?> LinkToAsync(
        FederationDbContext db, Guid tenantId, IdentityProvider provider, UpstreamAccount account, Guid userId, CancellationToken cancellationToken)
    {
        var existing = await db.ExternalIdentities.AsNoTracking().FirstOrDefaultAsync(i => i.ProviderId == provider.Id && i.Subject == account.Subject, cancellationToken);
        if (existing is not null)
        {
            return existing.UserId == userId ? null : LinkOutcomes.LinkedElsewhere;
        }

        return await AddLinkAsync(db, tenantId, provider, account, userId, ExternalAccountLinked.ByAccountPage, cancellationToken) ? null : LinkOutcomes.LinkedElsewhere;
    }

    /// <summary>
    /// Saves a new link of the account to <paramref name="userId"/>, audited in the same commit; false when a concurrent
    /// request linked the same account first (its link stands).
    /// </summary>
    private static async Task<bool> AddLinkAsync(
        FederationDbContext db, Guid tenantId, IdentityProvider provider, UpstreamAccount account, Guid userId, string how, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        db.ExternalIdentities.Add(new ExternalIdentity
        {
            Id = Guid.CreateVersion7(), TenantId = tenantId, ProviderId = provider.Id, Subject = account.Subject, UserId = userId, Email = account.Email,
            CreatedAt = now, LastSignInAt = now,
        });
        db.AddEvent(new ExternalAccountLinked(userId, provider.Id, provider.Type, provider.Name, how)
        {
            TenantId = tenantId, Actor = new EventActor(ActorTypes.User, userId.ToString(), null),
        });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
            return true;
        }
        catch (DbUpdateException exception) when (exception.IsUniqueViolation())
        {
            db.ChangeTracker.Clear();
            return false;
        }
    }

    /// <summary>
    /// Where a sign-in may go on to: one of the tenant's own pages (the token service checks which before it redirects),
    /// printable ASCII, so it can never leave for another site.
    /// </summary>
    public static bool IsOwnPage(string url, string slug) =>
        url.Length <= 8192 && url.StartsWith($"/t/{slug}/", StringComparison.Ordinal) && !url.AsSpan().ContainsAnyExceptInRange('\x21', '\x7E')
        && !url.Contains('\\', StringComparison.Ordinal) && !url.Contains("//", StringComparison.Ordinal);

    public static IResult Fail(string slug, string reason, string? returnUrl) =>
        Results.Redirect($"/t/{slug}/login/external?error={reason}" + (returnUrl is null ? string.Empty : "&returnUrl=" + Uri.EscapeDataString(returnUrl)));
}
