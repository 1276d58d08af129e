using System.Security.Cryptography;
using System.Text;
using LumoAuth.Contracts.Internal;
using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Providers;
using LumoAuth.Messaging.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Federation.Features.Login;

/// <summary>
/// Sign-in with a social or OpenID Connect provider (FED-12/13), the DESIGN's "external login": the hosted login page
/// links here; the browser goes to the provider with <c>state</c>, a nonce and PKCE (S256), bound to this browser by a
/// cookie; back at the callback the provider's answer is checked (<see cref="UpstreamSignIn"/>), the outside account is
/// found among the links or given to a user admin finds or makes, and the browser goes on to the token service with a
/// one-time ticket, where the session opens (after the user's second step, if they have one). Whatever fails ends on the
/// token service's sign-in error page with a fixed reason, never the provider's words.
/// </summary>
public static partial class SocialLoginEndpoints
{
    /// <summary>Per tenant and client address, as the login page's: each start writes a state to Redis for ten minutes.</summary>
    public const string RateLimitPolicy = "social-login";

    public static IServiceCollection AddSocialLoginRateLimit(this IServiceCollection services) =>
        services.AddRateLimiter(o =>
        {
            o.AddPolicy(RateLimitPolicy, http => System.Threading.RateLimiting.RateLimitPartition.GetFixedWindowLimiter(
                $"{http.Request.RouteValues["tenantSlug"]}|{http.Connection.RemoteIpAddress}",
                _ => new System.Threading.RateLimiting.FixedWindowRateLimiterOptions { PermitLimit = 60, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        });

    /// <summary>Why a sign-in with a provider ended without one (the token service's page explains each).</summary>
    public static class Failures
    {
        public const string Cancelled = "cancelled";
        public const string Disabled = "provider_disabled";
        public const string Expired = "expired";
        public const string ProviderError = "provider_error";
        public const string Unavailable = "unavailable";
    }

    public static IEndpointRouteBuilder MapSocialLoginEndpoints(this IEndpointRouteBuilder app)
    {
        // Anonymous on purpose: this is how a browser signs in.
        app.MapGet("/t/{tenantSlug}/auth/social/{provider}", StartAsync).AllowAnonymous().ExcludeFromDescription()
            .RequireRateLimiting(RateLimitPolicy).WithName("SocialLoginStart");
        app.MapGet("/t/{tenantSlug}/auth/social/{provider}/callback", CallbackAsync).AllowAnonymous().ExcludeFromDescription()
            .RequireRateLimiting(RateLimitPolicy).WithName("SocialLoginCallback");
        // The provider's own page posts here (form_post, Apple's): no antiforgery token of ours can come with it; the state does its work.
        app.MapPost("/t/{tenantSlug}/auth/social/{provider}/callback", PostedCallbackAsync).AllowAnonymous().ExcludeFromDescription().DisableAntiforgery()
            .RequireRateLimiting(RateLimitPolicy).WithName("SocialLoginPostedCallback");
        var internalApi = app.MapGroup(string.Empty).RequireAuthorization(Policies.Internal).WithTags("Internal");
        internalApi.MapPost(InternalRoutes.LoginTickets, RedeemAsync).WithName("InternalRedeemLoginTicket");
        internalApi.MapGet(InternalRoutes.LoginProviders, ProvidersAsync).WithName("InternalLoginProviders");
        internalApi.MapPost(InternalRoutes.LinkIntents, LinkIntentAsync).WithName("InternalLinkIntent");
        internalApi.MapGet(InternalRoutes.UserExternalIdentities, LinksOfAsync).WithName("InternalUserExternalIdentities");
        internalApi.MapDelete(InternalRoutes.UserExternalIdentities + "/{linkId:guid}", UnlinkAsync).WithName("InternalUnlinkExternalIdentity");
        return app;
    }

    /// <summary>
    /// The address the provider sends the browser back to, as registered at the provider: on the deployment's host, or on
    /// the tenant's custom domain the sign-in began on (where its binding cookie is, and where the session must open).
    /// </summary>
    public static string CallbackUrl(LumoAuthOptions options, string slug, Guid providerId, string? domain = null) =>
        domain is null
            ? $"{options.PublicBaseUrl.TrimEnd('/')}/t/{slug}/auth/social/{providerId}/callback"
            : $"{options.OriginFor(domain)}/auth/social/{providerId}/callback";

    public sealed record LoginServices(
        FederationDbContext Db, TenantContext Tenant, UpstreamSignIn Upstream, LoginStates States, ExternalUsers Users, Saml.SamlSubjects Subjects,
        IOptions<LumoAuthOptions> Options, ILogger<UpstreamSignIn> Logger);

    /// <summary>The token service's account page, where linking begins and ends.</summary>
    public static string LinkedAccountsPage(string slug) => $"/t/{slug}/account/linked-accounts";

    public static async Task<IResult> StartAsync(string provider, string? returnUrl, string? link, HttpContext http, [AsParameters] LoginServices services)
    {
        var slug = services.Tenant.Slug;
        if (returnUrl is not null && !SignInSteps.IsOwnPage(returnUrl, slug))
        {
            returnUrl = null;
        }

        var found = await FindAsync(services.Db, provider, http.RequestAborted);
        Guid? linkUserId = null;
        if (link is not null)
        {
            // Linking one more account: only for the user the account page asked it for, in a browser signed in as them
            // (else a link made for someone's own user could be carried into another's browser to attach their account).
            var intent = await services.States.TakeLinkIntentAsync(link);
            var session = intent is null ? null : await services.Subjects.SessionAsync(services.Tenant.TenantId, slug, http.Request, http.RequestAborted);
            if (intent is null || intent.TenantId != services.Tenant.TenantId || found?.Id != intent.ProviderId || session?.UserId != intent.UserId)
            {
                return LinkEnded(slug, LinkOutcomes.Expired);
            }

            (linkUserId, returnUrl) = (intent.UserId, null);
        }

        if (found is not { IsEnabled: true })
        {
            return SignInSteps.Fail(slug, Failures.Disabled, returnUrl);
        }

        ProviderEndpoints? endpoints;
        try
        {
            endpoints = await services.Upstream.EndpointsAsync(found, http.RequestAborted);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !http.RequestAborted.IsCancellationRequested)
        {
            endpoints = null;
        }

        if (endpoints is null)
        {
            LogRefused(services.Logger, services.Tenant.TenantId, found.Id, "the provider's endpoints cannot be discovered");
            return SignInSteps.Fail(slug, Failures.Unavailable, returnUrl);
        }

        var (state, nonce, verifier) = (LoginStates.NewSecret(), LoginStates.NewSecret(), LoginStates.NewSecret());
        var browser = SignInSteps.BindBrowser(http, slug, services.Options.Value);
        var callback = CallbackUrl(services.Options.Value, slug, found.Id, RequestDomain.Of(http.Request, services.Tenant.Tenant!));
        await services.States.SaveStateAsync(
            state, new LoginStates.State(services.Tenant.TenantId, found.Id, verifier, nonce, returnUrl, LoginTicket.HashOf(browser), linkUserId) { RedirectUri = callback });

        var query = new Dictionary<string, string?>
        {
            ["response_type"] = "code", ["client_id"] = found.ClientId, ["redirect_uri"] = callback,
            ["scope"] = string.Join(' ', found.Scopes), ["state"] = state,
        };
        if (ProviderTypes.UsesPkce(found.Type))
        {
            query["code_challenge"] = System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
            query["code_challenge_method"] = "S256";
        }

        if (found.Type == ProviderTypes.Apple)
        {
            // Apple answers a request for the name or address only by posting it back.
            query["response_mode"] = "form_post";
        }

        if (endpoints.IsOpenIdConnect)
        {
            query["nonce"] = nonce;
            // Linking: the person picks the account at the provider, rather than whichever one the browser is signed in with there.
            if (linkUserId is not null)
            {
                query["prompt"] = "select_account";
            }
        }

        http.Response.Headers.CacheControl = "no-store";
        return Results.Redirect(Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(endpoints.AuthorizationEndpoint, query));
    }

    /// <summary>
    /// A provider's answer posted cross-site (form_post): the browser's SameSite=Lax binding cookie does not come with it,
    /// so the answer is kept for 60 s and the browser is sent back by GET (303), with the cookie, to finish.
    /// </summary>
    public static async Task<IResult> PostedCallbackAsync(string provider, HttpContext http, LoginStates states, TenantContext tenant)
    {
        var form = http.Request.HasFormContentType ? await http.Request.ReadFormAsync(http.RequestAborted) : null;
        string? Field(string name) => form is not null && form[name] is { Count: 1 } value && value[0] is { Length: > 0 and <= 4000 } text ? text : null;
        var answer = new LoginStates.PostedAnswer(Field("code"), Field("state"), Field("error"), Field("user"));
        if (answer.State is null)
        {
            return SignInSteps.Fail(tenant.Slug, Failures.Expired, null);
        }

        var id = await states.SavePostedAnswerAsync(answer);
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.Location = $"/t/{tenant.Slug}/auth/social/{Uri.EscapeDataString(provider)}/callback?response={Uri.EscapeDataString(id)}";
        return Results.StatusCode(StatusCodes.Status303SeeOther);
    }

    public static async Task<IResult> CallbackAsync(
        string provider, string? code, string? state, string? error, string? response, HttpContext http, [AsParameters] LoginServices services)
    {
        var slug = services.Tenant.Slug;
        string? appleUser = null;
        if (response is not null)
        {
            // Back from PostedCallbackAsync: the posted answer, not the query, is the provider's.
            var posted = await services.States.TakePostedAnswerAsync(response);
            (code, state, error, appleUser) = (posted?.Code, posted?.State, posted?.Error, posted?.User);
        }

        var taken = state is { Length: > 0 and <= 100 } ? await services.States.TakeStateAsync(state) : null;
        var browser = http.Request.Cookies[LoginTicket.BrowserCookie];
        // Only the browser that began the sign-in completes it (no login CSRF), at this tenant, through this provider.
        if (taken is null || taken.TenantId != services.Tenant.TenantId || !LoginTicket.Matches(taken.BrowserHash, browser)
            || await FindAsync(services.Db, provider, http.RequestAborted) is not { IsEnabled: true } found || found.Id != taken.ProviderId)
        {
            return SignInSteps.Fail(slug, Failures.Expired, taken?.ReturnUrl);
        }

        if (error is not null || string.IsNullOrEmpty(code))
        {
            // Apple says user_cancelled_authorize where the others say access_denied.
            return taken.LinkUserId is null
                ? SignInSteps.Fail(slug, error is "access_denied" or "user_cancelled_authorize" ? Failures.Cancelled : Failures.ProviderError, taken.ReturnUrl)
                : LinkEnded(slug, LinkOutcomes.ProviderError);
        }

        var endpoints = await services.Upstream.EndpointsAsync(found, http.RequestAborted);
        if (endpoints is null)
        {
            return taken.LinkUserId is null ? SignInSteps.Fail(slug, Failures.Unavailable, taken.ReturnUrl) : LinkEnded(slug, LinkOutcomes.ProviderError);
        }

        var (account, problem) = await services.Upstream.CompleteAsync(
            found, endpoints, code, taken.RedirectUri ?? CallbackUrl(services.Options.Value, slug, found.Id), taken.CodeVerifier, taken.Nonce, http.RequestAborted);
        if (account is null)
        {
            LogRefused(services.Logger, services.Tenant.TenantId, found.Id, problem!);
            return taken.LinkUserId is null ? SignInSteps.Fail(slug, Failures.ProviderError, taken.ReturnUrl) : LinkEnded(slug, LinkOutcomes.ProviderError);
        }

        if (found.Type == ProviderTypes.Apple)
        {
            account = AppleNames.Fill(account, appleUser);
        }

        if (taken.LinkUserId is { } linkTo)
        {
            // Still signed in as that user: a browser signed out (or over to someone else) at the provider's page meanwhile links nothing.
            var session = await services.Subjects.SessionAsync(services.Tenant.TenantId, slug, http.Request, http.RequestAborted);
            return LinkEnded(slug, session?.UserId != linkTo
                ? LinkOutcomes.Expired
                : await SignInSteps.LinkToAsync(services.Db, services.Tenant.TenantId, found, account, linkTo, http.RequestAborted));
        }

        return await SignInSteps.HandOverAsync(
            http, new SignInSteps.Context(services.Db, services.Tenant, services.Users, services.States), found, account, taken.ReturnUrl, taken.BrowserHash);
    }

    /// <summary>Back to the account page, with how linking ended (null: linked).</summary>
    private static IResult LinkEnded(string slug, string? error)
    {
        var page = LinkedAccountsPage(slug);
        return Results.Redirect(error is null ? page + "?linked=1" : page + "?error=" + error);
    }

    /// <summary>The account page's request to link one more account (to a provider of the tenant that is on and not SAML).</summary>
    public static async Task<IResult> LinkIntentAsync(LinkIntentRequest request, FederationDbContext db, LoginStates states, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || request.UserId == Guid.Empty
            || !await db.IdentityProviders.IgnoreQueryFilters().AnyAsync(
                p => p.TenantId == request.TenantId && p.Id == request.ProviderId && p.IsEnabled && ProviderTypes.All.Contains(p.Type), cancellationToken))
        {
            return ApiErrors.NotFound("Identity provider");
        }

        return TypedResults.Ok(new LinkIntentResponse(await states.SaveLinkIntentAsync(request)));
    }

    /// <summary>The token service redeems the ticket its sign-in page was sent with.</summary>
    public static async Task<IResult> RedeemAsync(LoginTicketRequest request, LoginStates states) =>
        request.TenantId != Guid.Empty && request.Ticket is { } ticket && await states.RedeemTicketAsync(request.TenantId, ticket) is { } redeemed
            ? TypedResults.Ok(redeemed)
            : ApiErrors.NotFound("Login ticket");

    /// <summary>The tenant's enabled providers, for the hosted login page's buttons.</summary>
    public static async Task<IResult> ProvidersAsync(Guid tenantId, FederationDbContext db, CancellationToken cancellationToken) =>
        TypedResults.Ok(await db.IdentityProviders.IgnoreQueryFilters().AsNoTracking()
            .Where(p => p.TenantId == tenantId && p.IsEnabled)
            .OrderBy(p => p.CreatedAt)
            .Select(p => new LoginProvider(p.Id, p.Type, p.Name))
            .ToListAsync(cancellationToken));

    /// <summary>A user's linked outside accounts, for their data export.</summary>
    public static async Task<IResult> LinksOfAsync(Guid userId, Guid tenantId, FederationDbContext db, CancellationToken cancellationToken) =>
        TypedResults.Ok(await db.ExternalIdentities.IgnoreQueryFilters().AsNoTracking()
            .Where(i => i.TenantId == tenantId && i.UserId == userId)
            .Join(db.IdentityProviders.IgnoreQueryFilters(), i => i.ProviderId, p => p.Id, (i, p) => new ExternalIdentityRecord(i.Id, p.Name, p.Type, i.Subject, i.Email, i.CreatedAt, i.LastSignInAt, p.IsEnabled))
            .ToListAsync(cancellationToken));

    /// <summary>
    /// Removes one of the user's links (the token service's account page checked that another way to sign in remains),
    /// recorded for the audit log in the same commit.
    /// </summary>
    public static async Task<IResult> UnlinkAsync(Guid userId, Guid linkId, Guid tenantId, FederationDbContext db, CancellationToken cancellationToken)
    {
        var link = await db.ExternalIdentities.IgnoreQueryFilters().FirstOrDefaultAsync(i => i.TenantId == tenantId && i.UserId == userId && i.Id == linkId, cancellationToken);
        if (link is null)
        {
            return ApiErrors.NotFound("Linked account");
        }

        var provider = await db.IdentityProviders.IgnoreQueryFilters().AsNoTracking().FirstOrDefaultAsync(p => p.Id == link.ProviderId, cancellationToken);
        db.ExternalIdentities.Remove(link);
        db.AddEvent(new LumoAuth.Contracts.Sessions.ExternalAccountUnlinked(userId, link.ProviderId, provider?.Type ?? string.Empty, provider?.Name ?? string.Empty)
        {
            TenantId = tenantId, Actor = new LumoAuth.Contracts.EventActor(LumoAuth.Contracts.ActorTypes.User, userId.ToString(), null),
        });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateConcurrencyException)
        {
            // Removed meanwhile by another request.
            return ApiErrors.NotFound("Linked account");
        }

        return TypedResults.NoContent();
    }

    /// <summary>A provider by id, or by type (the docs' <c>/auth/social/google</c>): the tenant's first enabled one of it.</summary>
    private static Task<IdentityProvider?> FindAsync(FederationDbContext db, string provider, CancellationToken cancellationToken) =>
        Guid.TryParse(provider, out var id)
            ? db.IdentityProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id && ProviderTypes.All.Contains(p.Type), cancellationToken)
            : db.IdentityProviders.AsNoTracking().Where(p => p.Type == provider && ProviderTypes.All.Contains(p.Type) && p.IsEnabled).OrderBy(p => p.CreatedAt).FirstOrDefaultAsync(cancellationToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sign-in through provider {ProviderId} of tenant {TenantId} refused: {Problem}")]
    private static partial void LogRefused(ILogger logger, Guid tenantId, Guid providerId, string problem);
}
