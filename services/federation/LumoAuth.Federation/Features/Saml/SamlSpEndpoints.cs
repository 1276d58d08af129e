using System.Xml;
using LumoAuth.Contracts.Internal;
using LumoAuth.Federation.Data;
using LumoAuth.Federation.Features.Login;
using LumoAuth.Federation.Features.Providers;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>
/// The tenant as a SAML 2.0 service provider (FED-06…11): users sign in with an outside SAML IdP (Okta, Entra ID, ADFS…)
/// the tenant added at <c>/admin/identity-providers</c>. The hosted login page links to <c>login/{idpId}</c>; the browser
/// goes to the IdP with our AuthnRequest; the IdP posts its response to the ACS, which believes it only after every check
/// (<see cref="SamlResponseReader"/>) and sends the browser on by GET, where the binding cookie proves it is the browser
/// that began; the account is then linked (or made) and handed to the token service like any outside sign-in.
/// </summary>
public static partial class SamlSpEndpoints
{
    public static IEndpointRouteBuilder MapSamlSpEndpoints(this IEndpointRouteBuilder app)
    {
        var sp = app.MapGroup("/t/{tenantSlug}/saml/sp").AllowAnonymous().ExcludeFromDescription().RequireRateLimiting(SocialLoginEndpoints.RateLimitPolicy);
        sp.MapGet("/metadata", MetadataAsync);
        sp.MapGet("/login", LoginAsync);
        sp.MapGet("/login/{idpId:guid}", LoginAsync);
        sp.MapPost("/acs", AcsAsync).DisableAntiforgery();
        sp.MapGet("/complete", CompleteAsync);
        sp.MapMethods("/slo", ["GET", "POST"], SingleLogoutAsync).DisableAntiforgery();
        sp.MapPost("/slo/soap", BackChannelLogoutAsync).DisableAntiforgery();
        sp.MapGet("/logout/{logoutId}", LogoutAtIdpAsync);
        app.MapPost(InternalRoutes.SamlLogouts, StartLogoutAsync).RequireAuthorization(Policies.Internal).WithTags("Internal").WithName("InternalSamlLogout");
        // The enterprise SSO guide's ACS path.
        app.MapPost("/t/{tenantSlug}/saml/acs", AcsAsync).AllowAnonymous().ExcludeFromDescription().DisableAntiforgery()
            .RequireRateLimiting(SocialLoginEndpoints.RateLimitPolicy);
        return app;
    }

    public sealed record SpServices(
        FederationDbContext Db, TenantContext Tenant, SamlSigningKeys Keys, SamlStates SamlStates, LoginStates LoginStates, ExternalUsers Users,
        SamlSubjects Subjects, IOptions<LumoAuthOptions> Options, TimeProvider Time, ILogger<SamlIdpSettings> Logger);

    public static async Task<IResult> MetadataAsync(HttpContext http, [AsParameters] SpServices services)
    {
        var (options, slug) = (services.Options.Value, services.Tenant.Slug);
        var keys = await services.Keys.KeysAsync(services.Db, services.Tenant.TenantId, slug, http.RequestAborted);
        http.Response.Headers.CacheControl = "public, max-age=3600";
        return Results.Content(
            SamlDocuments.SpMetadata(
                SamlNames.SpEntityId(options, slug),
                [SamlNames.SpAcsUrl(options, slug), .. (services.Tenant.Tenant?.Domains ?? []).Select(domain => SamlNames.SpAcsUrl(options, slug, domain))],
                SamlNames.SpUrl(options, slug, "slo"), SamlNames.SpUrl(options, slug, "slo/soap"), keys),
            "application/samlmetadata+xml; charset=utf-8");
    }

    /// <summary>
    /// Sends the browser to the IdP (the one named, or the tenant's first enabled) with an AuthnRequest; where it goes on
    /// afterwards (<c>returnUrl</c>, or the docs' <c>RelayState</c>) must be one of the tenant's own pages.
    /// </summary>
    public static async Task<IResult> LoginAsync(
        HttpContext http, Guid? idpId, string? returnUrl, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "RelayState")] string? relayState, [AsParameters] SpServices services)
    {
        var (options, slug) = (services.Options.Value, services.Tenant.Slug);
        var back = returnUrl ?? relayState;
        if (back is not null && !SignInSteps.IsOwnPage(back, slug))
        {
            back = null;
        }

        var provider = await FindAsync(services.Db, idpId, http.RequestAborted);
        if (provider is not { IsEnabled: true, Saml: { } settings })
        {
            return SignInSteps.Fail(slug, SocialLoginEndpoints.Failures.Disabled, back);
        }

        var requestId = SamlDocuments.NewId();
        var browser = SignInSteps.BindBrowser(http, slug, options);
        var relay = LoginStates.NewSecret();
        await services.SamlStates.SaveSpSignInAsync(relay, new SamlStates.SpSignIn(services.Tenant.TenantId, provider.Id, requestId, back, LoginTicket.HashOf(browser)));
        // Begun on a custom domain, the answer must come back there, where the binding cookie is.
        var acs = SamlNames.SpAcsUrl(options, slug, RequestDomain.Of(http.Request, services.Tenant.Tenant!));
        var request = SamlDocuments.AuthnRequest(
            requestId, SamlNames.SpEntityId(options, slug), acs, settings.SsoUrl, settings.NameIdFormat, services.Time.GetUtcNow());
        var query = $"SAMLRequest={Uri.EscapeDataString(request)}&RelayState={Uri.EscapeDataString(relay)}";
        if (settings.SignAuthnRequests)
        {
            query = SamlSignatures.SignRedirect(query, await services.Keys.CurrentAsync(services.Db, services.Tenant.TenantId, slug, http.RequestAborted));
        }

        return SamlBindings.RedirectWith(http, settings.SsoUrl, query);
    }

    /// <summary>
    /// The IdP's response (HTTP-POST binding). Only an answer to a request of ours (its RelayState, once) is taken:
    /// unsolicited (IdP-initiated) responses are refused, since nothing ties them to the browser that posts them.
    /// </summary>
    public static async Task<IResult> AcsAsync(HttpContext http, [AsParameters] SpServices services)
    {
        var slug = services.Tenant.Slug;
        if (!http.Request.HasFormContentType)
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, "A SAML response comes as a form field SAMLResponse (HTTP-POST binding).");
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var state = form["RelayState"].ToString() is { Length: > 0 } relay ? await services.SamlStates.TakeSpSignInAsync(relay) : null;
        if (state is null || state.TenantId != services.Tenant.TenantId)
        {
            return SignInSteps.Fail(slug, SocialLoginEndpoints.Failures.Expired, null);
        }

        var provider = await FindAsync(services.Db, state.ProviderId, http.RequestAborted);
        if (provider is not { IsEnabled: true, Saml: not null })
        {
            return SignInSteps.Fail(slug, SocialLoginEndpoints.Failures.Disabled, state.ReturnUrl);
        }

        var xml = SamlMessages.FromPost(form["SAMLResponse"].ToString());
        if ((xml is null ? null : SamlMessages.Load(xml)) is not { } document)
        {
            LogRefused(services.Logger, services.Tenant.TenantId, provider.Id, "the SAMLResponse is not base64 of well-formed XML without a DTD");
            return SignInSteps.Fail(slug, SocialLoginEndpoints.Failures.ProviderError, state.ReturnUrl);
        }

        var options = services.Options.Value;
        // The response must be addressed to the ACS it arrived at: on a custom domain, that domain's.
        string[] recipients = RequestDomain.Of(http.Request, services.Tenant.Tenant!) is { } domain
            ? [SamlNames.SpAcsUrl(options, slug, domain), $"{options.OriginFor(domain)}/saml/acs"]
            : [SamlNames.SpAcsUrl(options, slug), $"{options.PublicBaseUrl.TrimEnd('/')}/t/{slug}/saml/acs"];
        var expected = new SamlExpectation(state.RequestId, [SamlNames.SpEntityId(options, slug)], recipients);
        var now = services.Time.GetUtcNow();
        var keys = await services.Keys.KeysAsync(services.Db, services.Tenant.TenantId, slug, http.RequestAborted);
        var (asserted, problem, cancelled) = SamlResponseReader.Read(document, provider, expected, now, keys.Decrypting);
        if (asserted is not null && !await services.SamlStates.FirstAssertionUseAsync(services.Tenant.TenantId, provider.Id, asserted.AssertionId, asserted.ValidUntil - now))
        {
            (asserted, problem) = (null, "the assertion was used already");
        }

        if (asserted is null)
        {
            LogRefused(services.Logger, services.Tenant.TenantId, provider.Id, problem!);
            return SignInSteps.Fail(slug, cancelled ? SocialLoginEndpoints.Failures.Cancelled : SocialLoginEndpoints.Failures.ProviderError, state.ReturnUrl);
        }

        var session = new SamlIdpSession(provider.Id, asserted.Account.Subject, asserted.NameIdFormat, asserted.SessionIndex);
        var accepted = await services.SamlStates.SaveAcceptedAsync(
            new SamlStates.AcceptedSignIn(services.Tenant.TenantId, provider.Id, asserted.Account, state.ReturnUrl, state.BrowserHash, session));
        // 303: the browser comes back by GET, a top-level navigation that carries its SameSite=Lax binding cookie.
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.Location = $"/t/{slug}/saml/sp/complete?result={Uri.EscapeDataString(accepted)}";
        return Results.StatusCode(StatusCodes.Status303SeeOther);
    }

    /// <summary>In the browser that began the sign-in (its binding cookie), the believed account signs in.</summary>
    public static async Task<IResult> CompleteAsync(HttpContext http, string? result, [AsParameters] SpServices services)
    {
        var slug = services.Tenant.Slug;
        var accepted = result is null ? null : await services.SamlStates.TakeAcceptedAsync(result);
        if (accepted is null || accepted.TenantId != services.Tenant.TenantId || !LoginTicket.Matches(accepted.BrowserHash, http.Request.Cookies[LoginTicket.BrowserCookie]))
        {
            return SignInSteps.Fail(slug, SocialLoginEndpoints.Failures.Expired, accepted?.ReturnUrl);
        }

        if (await FindAsync(services.Db, accepted.ProviderId, http.RequestAborted) is not { IsEnabled: true, Saml: not null } provider)
        {
            return SignInSteps.Fail(slug, SocialLoginEndpoints.Failures.Disabled, accepted.ReturnUrl);
        }

        return await SignInSteps.HandOverAsync(
            http, new SignInSteps.Context(services.Db, services.Tenant, services.Users, services.LoginStates), provider, accepted.Account, accepted.ReturnUrl,
            accepted.BrowserHash, accepted.Session);
    }

    /// <summary>
    /// The token service ended a session an outside IdP opened and asks how to end the IdP's too: a one-time page of ours
    /// that sends the LogoutRequest (ten minutes), or nothing when the IdP takes none (no logout URL, disabled, removed).
    /// </summary>
    public static async Task<IResult> StartLogoutAsync(SamlLogoutRequest request, FederationDbContext db, SamlStates states, CancellationToken cancellationToken)
    {
        if (request.TenantId == Guid.Empty || request.Session is not { NameId.Length: > 0 and <= 500 } session || string.IsNullOrEmpty(request.TenantSlug))
        {
            return ApiErrors.Validation("session", "names no IdP session");
        }

        var takesLogouts = await db.IdentityProviders.IgnoreQueryFilters().AsNoTracking().AnyAsync(
            p => p.TenantId == request.TenantId && p.Id == session.ProviderId && p.Type == ProviderTypes.Saml && p.IsEnabled && p.Saml!.SloUrl != null, cancellationToken);
        if (!takesLogouts)
        {
            return TypedResults.Ok(new SamlLogoutStart(null));
        }

        var id = await states.SaveSpLogoutAsync(new SamlStates.SpLogout(request.TenantId, session, request.ReturnUrl));
        return TypedResults.Ok(new SamlLogoutStart($"/t/{request.TenantSlug}/saml/sp/logout/{Uri.EscapeDataString(id)}"));
    }

    /// <summary>
    /// Sends the browser to the IdP's logout URL with our LogoutRequest (HTTP-Redirect, always signed: SAML Profiles
    /// §4.4.3.1 asks the requester to authenticate it) naming the person and the IdP's session; the IdP answers at
    /// <c>slo</c> with the RelayState. Used once. Whatever stands in the way, the browser goes on as if the IdP had answered.
    /// </summary>
    public static async Task<IResult> LogoutAtIdpAsync(string logoutId, HttpContext http, [AsParameters] SpServices services)
    {
        var (tenantId, slug) = (services.Tenant.TenantId, services.Tenant.Slug);
        var logout = await services.SamlStates.TakeSpLogoutAsync(logoutId);
        if (logout is null || logout.TenantId != tenantId)
        {
            return SamlPages.SignedOut(http);
        }

        var provider = await FindAsync(services.Db, logout.Session.ProviderId, http.RequestAborted);
        if (provider is not { IsEnabled: true, Saml.SloUrl: { } sloUrl })
        {
            return AfterLogout(http, logout.ReturnUrl, idpConfirmed: true);
        }

        var (options, now) = (services.Options.Value, services.Time.GetUtcNow());
        var requestId = SamlDocuments.NewId();
        var relay = LoginStates.NewSecret();
        await services.SamlStates.SaveSpLogoutSentAsync(relay, new SamlStates.SpLogoutSent(tenantId, provider.Id, requestId, logout.ReturnUrl));
        var request = SamlDocuments.LogoutRequest(requestId, SamlNames.SpEntityId(options, slug), sloUrl, logout.Session.NameId, logout.Session.NameIdFormat, logout.Session.SessionIndex, now);
        var key = await services.Keys.CurrentAsync(services.Db, tenantId, slug, http.RequestAborted);
        http.Response.Headers.CacheControl = "no-store";
        return Results.Redirect(SamlBindings.SignedRedirectUrl(sloUrl, "SAMLRequest", request, relay, key));
    }

    /// <summary>
    /// The IdP's answer to our LogoutRequest: only one that names our request (by its RelayState and InResponseTo), from
    /// that IdP, and — when signed — signed by it, is believed. Our session ended already; the browser goes on to where the
    /// logout was to end (the client's post-logout URI), or is told the IdP did not confirm.
    /// </summary>
    private static async Task<IResult> LogoutAnsweredAsync(HttpContext http, SpServices services)
    {
        var message = await SamlBindings.ReadAsync(http, "SAMLResponse");
        var sent = message.RelayState is { } relay ? await services.SamlStates.TakeSpLogoutSentAsync(relay) : null;
        if (sent is null || sent.TenantId != services.Tenant.TenantId)
        {
            return SamlPages.SignedOut(http);
        }

        var provider = await FindAsync(services.Db, sent.ProviderId, http.RequestAborted);
        var succeeded = false;
        var problem = message.Problem;
        if (problem is null)
        {
            problem = provider?.Saml is not { } settings
                ? "the identity provider was removed"
                : SamlBindings.CheckSignature(http, message, settings.SigningCertificates(), required: false, "SAMLResponse")
                  ?? SamlMessages.LogoutResponseProblem(message.Document!, sent.RequestId, settings.EntityId, out succeeded);
        }

        if (problem is not null)
        {
            LogRefused(services.Logger, services.Tenant.TenantId, sent.ProviderId, "logout answer: " + problem);
        }

        return AfterLogout(http, sent.ReturnUrl, idpConfirmed: problem is null && succeeded);
    }

    /// <summary>On to the client's post-logout URI, or our page; the IdP's refusal is said, since the person may still be signed in there.</summary>
    private static IResult AfterLogout(HttpContext http, string? returnUrl, bool idpConfirmed) =>
        idpConfirmed && returnUrl is not null
            ? Results.Redirect(returnUrl)
            : idpConfirmed ? SamlPages.SignedOut(http) : SamlPages.SignedOutHereOnly(http, returnUrl);

    /// <summary>
    /// IdP-initiated single logout: a LogoutRequest signed by one of the tenant's SAML IdPs, naming the person the browser
    /// is signed in as, ends the browser's session at the tenant and is answered at the IdP's logout URL. A LogoutResponse (the IdP's answer) shows the signed-out page.
    /// </summary>
    public static async Task<IResult> SingleLogoutAsync(HttpContext http, [AsParameters] SpServices services)
    {
        var isResponse = http.Request.Query.ContainsKey("SAMLResponse") || (http.Request.HasFormContentType && (await http.Request.ReadFormAsync(http.RequestAborted)).ContainsKey("SAMLResponse"));
        if (isResponse)
        {
            return await LogoutAnsweredAsync(http, services);
        }

        var message = await SamlBindings.ReadAsync(http, "SAMLRequest");
        if (message.Problem is { } unreadable)
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, unreadable);
        }

        var now = services.Time.GetUtcNow();
        var (request, problem) = SamlMessages.ReadLogoutRequest(message.Document!, now);
        var providers = request is null ? [] : await services.Db.IdentityProviders.AsNoTracking().Where(p => p.Type == ProviderTypes.Saml && p.IsEnabled).ToListAsync(http.RequestAborted);
        var provider = providers.FirstOrDefault(p => p.Saml!.EntityId == request!.Issuer);
        problem ??= provider is null ? "it comes from no identity provider of this organisation" : null;
        problem ??= SamlBindings.CheckSignature(http, message, provider!.Saml!.SigningCertificates(), required: true, "SAMLRequest");
        if (problem is not null || request is null || provider is null)
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, $"The logout request cannot be used: {problem}.");
        }

        var (tenantId, slug) = (services.Tenant.TenantId, services.Tenant.Slug);
        if (!await services.SamlStates.FirstUseAsync(tenantId, provider.Id, "logout:" + request.Id))
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, "The logout request cannot be used: it was answered already.");
        }

        // Only the session of the person the IdP names (by their link): a signed request for someone else, replayed into
        // this browser, signs nobody out.
        var status = SamlNames.Requester;
        if (await services.Subjects.SessionAsync(tenantId, slug, http.Request, http.RequestAborted) is { } session
            && request.NameId is { Length: > 0 } nameId
            && await services.Db.ExternalIdentities.AsNoTracking().AnyAsync(i => i.ProviderId == provider.Id && i.Subject == nameId && i.UserId == session.UserId, http.RequestAborted))
        {
            await services.Subjects.EndSessionAsync(tenantId, slug, http, http.RequestAborted);
            status = SamlNames.Success;
        }

        if (provider.Saml!.SloUrl is not { } sloUrl)
        {
            return SamlPages.SignedOut(http);
        }

        var key = await services.Keys.CurrentAsync(services.Db, tenantId, slug, http.RequestAborted);
        return SamlBindings.LogoutAnswer(http, SamlNames.SpEntityId(services.Options.Value, slug), sloUrl, request.Id, status, message.RelayState, key, now);
    }

    /// <summary>
    /// IdP-initiated logout over the back channel (SAML Bindings §3.2, SOAP; Profiles §4.4.3.3): the IdP posts a
    /// LogoutRequest, signed in the message, naming the person (and its session indexes), with no browser involved. Every
    /// session of the user that NameID is linked to which that IdP opened with it (of those indexes, when named) ends,
    /// whichever browser holds it. The answer is our LogoutResponse, signed, in a SOAP envelope: Success, or Requester
    /// (unknown sender, bad signature, replay, a NameID linked to nobody), or Responder when the sessions cannot be reached.
    /// A body that is no SOAP envelope holding a LogoutRequest is a SOAP fault (400).
    /// </summary>
    public static async Task<IResult> BackChannelLogoutAsync(HttpContext http, [AsParameters] SpServices services)
    {
        if (await SamlSoap.ReadLogoutRequestAsync(http.Request, http.RequestAborted) is not { } soap)
        {
            return SamlSoap.FaultResult("The body must be a SOAP 1.1 envelope holding one SAML LogoutRequest (at most 64 KB).");
        }

        var (tenantId, slug, now) = (services.Tenant.TenantId, services.Tenant.Slug, services.Time.GetUtcNow());
        var (envelope, element, message) = (soap.Envelope, soap.Element, soap.Message);
        var (request, problem) = SamlMessages.ReadLogoutRequest(message, now);
        var provider = request is null ? null : await services.Db.IdentityProviders.AsNoTracking()
            .Where(p => p.Type == ProviderTypes.Saml && p.IsEnabled).FirstOrDefaultAsync(p => p.Saml!.EntityId == request.Issuer, http.RequestAborted);
        problem ??= provider is null ? "it comes from no identity provider of this organisation" : null;
        // Signed in the message (there is no query to sign on this binding), checked where it stands in the envelope.
        problem ??= SamlSignatures.WithAny(provider!.Saml!.SigningCertificates(), certificate => SamlSignatures.VerifyEnclosed(envelope, element, certificate));
        if (problem is null && !await services.SamlStates.FirstUseAsync(tenantId, provider!.Id, "logout:" + request!.Id))
        {
            problem = "it was answered already";
        }

        var status = SamlNames.Requester;
        if (problem is null && request!.NameId is { Length: > 0 } nameId
            && await services.Db.ExternalIdentities.AsNoTracking().Where(i => i.ProviderId == provider!.Id && i.Subject == nameId)
                .Select(i => (Guid?)i.UserId).FirstOrDefaultAsync(http.RequestAborted) is { } userId)
        {
            try
            {
                await services.Subjects.EndIdpSessionsAsync(new IdpSessionLogoutRequest(tenantId, userId, provider!.Id, nameId, request.SessionIndexes), http.RequestAborted);
                status = SamlNames.Success;
            }
            catch (DependencyUnavailableException)
            {
                status = SamlNames.Responder;
            }
        }
        else
        {
            problem ??= "its NameID is linked to nobody here";
        }

        if (problem is not null)
        {
            LogRefused(services.Logger, tenantId, provider?.Id ?? Guid.Empty, "back-channel logout: " + problem);
        }

        if (request is null)
        {
            return SamlSoap.FaultResult($"The LogoutRequest cannot be used: {problem}.");
        }

        var key = await services.Keys.CurrentAsync(services.Db, tenantId, slug, http.RequestAborted);
        return SamlSoap.LogoutAnswer(http, SamlNames.SpEntityId(services.Options.Value, slug), request.Id, status, key, now);
    }

    /// <summary>A SAML IdP of the tenant by id, or (none named) its first enabled one.</summary>
    private static Task<IdentityProvider?> FindAsync(FederationDbContext db, Guid? id, CancellationToken cancellationToken) =>
        id is { } named
            ? db.IdentityProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == named && p.Type == ProviderTypes.Saml, cancellationToken)
            : db.IdentityProviders.AsNoTracking().Where(p => p.Type == ProviderTypes.Saml && p.IsEnabled).OrderBy(p => p.CreatedAt).FirstOrDefaultAsync(cancellationToken);

    [LoggerMessage(Level = LogLevel.Warning, Message = "SAML response from identity provider {ProviderId} of tenant {TenantId} refused: {Problem}")]
    private static partial void LogRefused(ILogger logger, Guid tenantId, Guid providerId, string problem);
}
