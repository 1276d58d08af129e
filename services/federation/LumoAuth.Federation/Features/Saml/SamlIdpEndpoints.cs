using System.Xml;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Sessions;
using LumoAuth.Federation.Data;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>
/// The tenant as a SAML 2.0 identity provider (FED-01…05): its metadata, single sign-on for the SPs it registered
/// (HTTP-Redirect and HTTP-POST requests, responses by HTTP-POST), and single logout. A browser already signed in at the
/// tenant (the token service's session) is answered at once; any other signs in on the hosted login page first and
/// comes back to <c>continue</c>. Requests that cannot be answered to a registered SP at its registered ACS URL end on
/// an error page here, never at an address the request named.
/// </summary>
public static partial class SamlIdpEndpoints
{
    public static IEndpointRouteBuilder MapSamlIdpEndpoints(this IEndpointRouteBuilder app)
    {
        // Both prefixes: the docs' SAML pages put the IdP under /t/{slug}/saml, one guide under /t/{slug}/api/v1/saml.
        foreach (var prefix in new[] { "/t/{tenantSlug}/saml/idp", "/t/{tenantSlug}/api/v1/saml/idp" })
        {
            var idp = app.MapGroup(prefix).AllowAnonymous().ExcludeFromDescription().RequireRateLimiting(Login.SocialLoginEndpoints.RateLimitPolicy);
            idp.MapGet("/metadata", MetadataAsync);
            idp.MapMethods("/sso", ["GET", "POST"], SingleSignOnAsync).DisableAntiforgery();
            idp.MapGet("/continue", ContinueAsync);
            idp.MapGet("/init/{appId:guid}", InitiateAsync);
            idp.MapMethods("/slo", ["GET", "POST"], SingleLogoutAsync).DisableAntiforgery();
            idp.MapPost("/slo/soap", BackChannelLogoutAsync).DisableAntiforgery();
        }

        return app;
    }

    public sealed record SamlServices(
        FederationDbContext Db, TenantContext Tenant, SamlSigningKeys Keys, SamlStates States, SamlSubjects Subjects, IOptions<LumoAuthOptions> Options,
        TimeProvider Time, SamlAppLogout AppLogout, ILogger<SamlServiceProvider> Logger);

    public static async Task<IResult> MetadataAsync(HttpContext http, [AsParameters] SamlServices services)
    {
        var (options, slug) = (services.Options.Value, services.Tenant.Slug);
        var keys = await services.Keys.KeysAsync(services.Db, services.Tenant.TenantId, slug, http.RequestAborted);
        var xml = SamlDocuments.Metadata(
            SamlNames.IdpEntityId(options, slug), SamlNames.IdpUrl(options, slug, "sso"), SamlNames.IdpUrl(options, slug, "slo"), SamlNames.IdpUrl(options, slug, "slo/soap"), keys);
        http.Response.Headers.CacheControl = "public, max-age=3600";
        return Results.Content(xml, "application/samlmetadata+xml; charset=utf-8");
    }

    public static async Task<IResult> SingleSignOnAsync(HttpContext http, [AsParameters] SamlServices services)
    {
        var message = await SamlBindings.ReadAsync(http, "SAMLRequest");
        if (message.Problem is { } unreadable)
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, unreadable);
        }

        var now = services.Time.GetUtcNow();
        var (request, problem) = SamlMessages.ReadAuthnRequest(message.Document!, now);
        if (request is null)
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, $"The SAML request cannot be used: {problem}.");
        }

        var sp = await services.Db.SamlServiceProviders.AsNoTracking().FirstOrDefaultAsync(p => p.EntityId == request.Issuer, http.RequestAborted);
        if (sp is not { IsEnabled: true })
        {
            LogRefused(services.Logger, services.Tenant.TenantId, SamlMessages.ForLog(request.Issuer), "no enabled service provider has this entity ID");
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, "The application that sent you here is not set up for sign-in with this organisation.");
        }

        var refusal = SamlBindings.CheckSignature(http, message, sp.Certificate is null ? [] : [sp.Certificate], sp.RequireSignedRequests, "SAMLRequest")
                      ?? CheckDestination(http, services, request.Destination, "sso")
                      ?? (request.AcsUrl is not null && request.AcsUrl != sp.AcsUrl ? "its AssertionConsumerServiceURL is not the application's registered one" : null)
                      ?? (request.ProtocolBinding is not null && request.ProtocolBinding != SamlNames.PostBinding ? "responses are sent with the HTTP-POST binding only" : null);
        if (refusal is null && !await services.States.FirstUseAsync(services.Tenant.TenantId, sp.Id, request.Id))
        {
            refusal = "this request was answered already";
        }

        if (refusal is not null)
        {
            LogRefused(services.Logger, services.Tenant.TenantId, sp.EntityId, refusal);
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, $"The application's sign-in request cannot be used: {refusal}.");
        }

        var key = await services.Keys.CurrentAsync(services.Db, services.Tenant.TenantId, services.Tenant.Slug, http.RequestAborted);
        var idpEntityId = SamlNames.IdpEntityId(services.Options.Value, services.Tenant.Slug);
        var format = request.NameIdFormat is null or "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" ? sp.NameIdFormat : SamlNames.NameIdFormatName(request.NameIdFormat);
        if (format is null)
        {
            // The SP is known and its ACS registered: it is told in its own terms (SAML Core §3.4.1.1).
            return Refuse(http, idpEntityId, sp, request.Id, message.RelayState, SamlNames.Requester, SamlNames.InvalidNameIdPolicy, key, now);
        }

        var pending = new SamlStates.PendingSignIn(
            services.Tenant.TenantId, sp.Id, request.Id, message.RelayState, format, request.ForceAuthn, request.IsPassive);
        return await AnswerAsync(http, services, pending, pendingId: null);
    }

    /// <summary>
    /// IdP-initiated SSO (SAML Profiles §4.1.5): a link (a portal's tile) signs the browser's user in to an app that
    /// allows it, with an unsolicited response to its registered ACS; <c>RelayState</c> (at most 1024 characters) goes
    /// with it, as the app's own hint of where to land. The browser signs in here first if it has no session.
    /// </summary>
    public static async Task<IResult> InitiateAsync(
        HttpContext http, Guid appId, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "RelayState")] string? relayState, [AsParameters] SamlServices services)
    {
        var sp = await services.Db.SamlServiceProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == appId, http.RequestAborted);
        if (sp is not { IsEnabled: true, AllowIdpInitiated: true })
        {
            return SamlPages.Error(http, StatusCodes.Status404NotFound, "This application cannot be opened from here.");
        }

        if (relayState is { Length: > SamlBindings.MaxRelayStateLength } || (relayState is not null && relayState.AsSpan().ContainsAnyExceptInRange('\x20', '\x7E')))
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, $"The RelayState must be printable ASCII, at most {SamlBindings.MaxRelayStateLength} characters.");
        }

        var pending = new SamlStates.PendingSignIn(services.Tenant.TenantId, sp.Id, RequestId: null, relayState, sp.NameIdFormat, ForceAuthn: false, IsPassive: false);
        return await AnswerAsync(http, services, pending, pendingId: null);
    }

    /// <summary>Back from the login page: the waiting request is answered, now that the browser has a session.</summary>
    public static async Task<IResult> ContinueAsync(HttpContext http, string? request, [AsParameters] SamlServices services)
    {
        if (request is null || await services.States.PeekAsync(request) is not { } pending || pending.TenantId != services.Tenant.TenantId
            || !LoginTicket.Matches(pending.BrowserHash ?? string.Empty, http.Request.Cookies[SamlStates.BrowserCookie]))
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, "This sign-in expired. Go back to the application and sign in again.");
        }

        return await AnswerAsync(http, services, pending, request);
    }

    /// <summary>
    /// Answers a request: with an assertion when the browser's session will do (ForceAuthn: a session begun after the
    /// request, told apart by its id rather than by clocks), else by sending the browser to sign in (or, for IsPassive,
    /// with NoPassive).
    /// </summary>
    private static async Task<IResult> AnswerAsync(HttpContext http, SamlServices services, SamlStates.PendingSignIn pending, string? pendingId)
    {
        var (tenantId, slug) = (services.Tenant.TenantId, services.Tenant.Slug);
        var sp = await services.Db.SamlServiceProviders.AsNoTracking().FirstOrDefaultAsync(p => p.Id == pending.ServiceProviderId, http.RequestAborted);
        // An unsolicited sign-in waiting for the login page goes on only while the app still allows them.
        if (sp is not { IsEnabled: true } || (pending.RequestId is null && !sp.AllowIdpInitiated))
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, "The application that sent you here is not set up for sign-in with this organisation.");
        }

        var now = services.Time.GetUtcNow();
        var key = await services.Keys.CurrentAsync(services.Db, tenantId, slug, http.RequestAborted);
        var idpEntityId = SamlNames.IdpEntityId(services.Options.Value, slug);
        var session = await services.Subjects.SessionAsync(tenantId, services.Tenant.Slug, http.Request, http.RequestAborted);
        if (pending.ForceAuthn && pendingId is null)
        {
            pending = pending with { SessionBefore = session?.SessionId };
        }

        if (session is null || (pending.ForceAuthn && (pendingId is null || session.SessionId == pending.SessionBefore)))
        {
            if (pending.IsPassive)
            {
                return Refuse(http, idpEntityId, sp, pending.RequestId, pending.RelayState, SamlNames.Responder, SamlNames.NoPassive, key, now);
            }

            if (pendingId is null)
            {
                // Bound to this browser: a continue link handed to someone else's browser answers nothing there.
                var browser = Login.SignInSteps.BindBrowser(http, slug, services.Options.Value, SamlStates.BrowserCookie);
                pendingId = await services.States.SaveAsync(pending with { BrowserHash = LoginTicket.HashOf(browser) });
            }

            var continuation = FederationPages.SamlContinuation(slug) + "?request=" + Uri.EscapeDataString(pendingId);
            http.Response.Headers.CacheControl = "no-store";
            return Results.Redirect($"/t/{slug}/login?returnUrl={Uri.EscapeDataString(continuation)}");
        }

        // Answered once: a second tab (or a replayed continue link) finds nothing to answer.
        if (pendingId is not null && await services.States.TakeAsync(pendingId) is null)
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, "This sign-in expired. Go back to the application and sign in again.");
        }

        var user = await services.Subjects.ProfileAsync(tenantId, session.UserId, http.RequestAborted);
        if (user is not { Blocked: false, IsActive: true })
        {
            LogRefused(services.Logger, tenantId, sp.EntityId, "the signed-in user is blocked, inactive or gone");
            return Refuse(http, idpEntityId, sp, pending.RequestId, pending.RelayState, SamlNames.Responder, SamlNames.RequestDenied, key, now);
        }

        var nameId = SamlDocuments.NameIdOf(pending.NameIdFormat, sp, user);
        var response = SamlDocuments.SignIn(idpEntityId, sp, pending.RequestId, pending.NameIdFormat, new SamlSubject(user, session), key, now, nameId);
        // Remembered for the session's logout, which tells this app too (its NameID repeated, as logout requests must).
        await services.States.RememberAppAsync(
            tenantId, session.SessionId, new SamlStates.SessionApp(sp.Id, nameId, SamlNames.NameIdFormats[pending.NameIdFormat], session.SessionId, user.Id));
        // The audit log's (and webhooks') record of the sign-in to the app, through the outbox.
        services.Db.AddEvent(new SamlAssertionIssued(user.Id, sp.Id, sp.EntityId, pending.NameIdFormat)
        {
            Unsolicited = pending.RequestId is null, TenantId = tenantId, Actor = new EventActor(ActorTypes.User, user.Id.ToString(), user.Email),
        });
        await services.Db.SaveChangesAsync(http.RequestAborted);
        LogSignedIn(services.Logger, tenantId, sp.EntityId, user.Id);
        return SamlPages.PostForm(http, sp.AcsUrl, "SAMLResponse", response, pending.RelayState);
    }

    /// <summary>
    /// SP-initiated single logout (SAML Profiles §4.4): the browser's session at the tenant ends when the request is signed
    /// by the SP or names the session (its SessionIndex, which only the SP that got the assertion knows); the SP gets a
    /// signed LogoutResponse at its registered logout URL.
    /// </summary>
    public static async Task<IResult> SingleLogoutAsync(HttpContext http, [AsParameters] SamlServices services)
    {
        // An app's answer to the LogoutRequest we sent it (in the signed-out page's iframe): the session ended already,
        // so there is nothing to do but end the frame quietly.
        if (http.Request.Query.ContainsKey("SAMLResponse") || (http.Request.HasFormContentType && (await http.Request.ReadFormAsync(http.RequestAborted)).ContainsKey("SAMLResponse")))
        {
            return SamlPages.SignedOut(http);
        }

        var message = await SamlBindings.ReadAsync(http, "SAMLRequest");
        if (message.Problem is { } unreadable)
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, unreadable);
        }

        var now = services.Time.GetUtcNow();
        var (request, problem) = SamlMessages.ReadLogoutRequest(message.Document!, now);
        if (request is null)
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, $"The SAML logout request cannot be used: {problem}.");
        }

        var sp = await services.Db.SamlServiceProviders.AsNoTracking().FirstOrDefaultAsync(p => p.EntityId == request.Issuer, http.RequestAborted);
        if (sp is not { IsEnabled: true })
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, "The application that sent you here is not set up with this organisation.");
        }

        if ((SamlBindings.CheckSignature(http, message, sp.Certificate is null ? [] : [sp.Certificate], sp.RequireSignedRequests, "SAMLRequest") ?? CheckDestination(http, services, request.Destination, "slo")) is { } refusal)
        {
            LogRefused(services.Logger, services.Tenant.TenantId, sp.EntityId, refusal);
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, $"The application's logout request cannot be used: {refusal}.");
        }

        var tenantId = services.Tenant.TenantId;
        if (!await services.States.FirstUseAsync(tenantId, sp.Id, "logout:" + request.Id))
        {
            return SamlPages.Error(http, StatusCodes.Status400BadRequest, "The application's logout request cannot be used: it was answered already.");
        }

        var status = SamlNames.Success;
        IReadOnlyList<string> others = [];
        if (await services.Subjects.SessionAsync(tenantId, services.Tenant.Slug, http.Request, http.RequestAborted) is { } session)
        {
            if (await NamesSessionAsync(services, sp, request, session, message.Signed, http.RequestAborted))
            {
                await services.Subjects.EndSessionAsync(tenantId, services.Tenant.Slug, http, http.RequestAborted);
                // The session's other apps are told too, from this browser, before it goes back to the one that asked.
                others = await services.AppLogout.FramesAsync(services.Db, tenantId, services.Tenant.Slug, session.SessionId, sp.Id, http.RequestAborted);
            }
            else
            {
                // A request about another session (or person) is not obeyed: any page could send one, or replay a signed one.
                status = SamlNames.Requester;
            }
        }

        if (sp.SloUrl is null)
        {
            return others.Count > 0 ? SamlPages.SignedOutWithFrames(http, others, null) : SamlPages.SignedOut(http);
        }

        var key = await services.Keys.CurrentAsync(services.Db, tenantId, services.Tenant.Slug, http.RequestAborted);
        var idpEntityId = SamlNames.IdpEntityId(services.Options.Value, services.Tenant.Slug);
        return others.Count > 0
            ? SamlPages.SignedOutWithFrames(http, others, SamlBindings.LogoutAnswerUrl(idpEntityId, sp.SloUrl, request.Id, status, message.RelayState, key, now))
            : SamlBindings.LogoutAnswer(http, idpEntityId, sp.SloUrl, request.Id, status, message.RelayState, key, now);
    }

    /// <summary>
    /// SP-initiated logout over the back channel (SAML Bindings §3.2, SOAP): an app posts a LogoutRequest, signed in the
    /// message with its registered certificate (no browser is there to show whose session it is), naming the person as it
    /// knows them and the session's index from its assertion. That session ends — its other apps are told over their own
    /// back channels — and the app gets our signed LogoutResponse: <c>Success</c>, or <c>Requester</c> for an unknown or
    /// unsigned sender, a replay, or no session of ours by that index for that person at that app (a request without a
    /// session index cannot name one: there is no index of sessions by NameID).
    /// </summary>
    public static async Task<IResult> BackChannelLogoutAsync(HttpContext http, [AsParameters] SamlServices services)
    {
        if (await SamlSoap.ReadLogoutRequestAsync(http.Request, http.RequestAborted) is not { } soap)
        {
            return SamlSoap.FaultResult("The body must be a SOAP 1.1 envelope holding one SAML LogoutRequest (at most 64 KB).");
        }

        var (tenantId, slug, now) = (services.Tenant.TenantId, services.Tenant.Slug, services.Time.GetUtcNow());
        var (request, problem) = SamlMessages.ReadLogoutRequest(soap.Message, now);
        if (request is null)
        {
            return SamlSoap.FaultResult($"The LogoutRequest cannot be used: {problem}.");
        }

        var sp = await services.Db.SamlServiceProviders.AsNoTracking().FirstOrDefaultAsync(p => p.EntityId == request.Issuer && p.IsEnabled, http.RequestAborted);
        problem = sp is null ? "it comes from no application of this organisation"
            : sp.Certificate is null ? "the application has no certificate to check its signature with"
            : SamlSignatures.WithAny([sp.Certificate], certificate => SamlSignatures.VerifyEnclosed(soap.Envelope, soap.Element, certificate));
        if (problem is null && !await services.States.FirstUseAsync(tenantId, sp!.Id, "logout:" + request.Id))
        {
            problem = "it was answered already";
        }

        var status = SamlNames.Requester;
        if (problem is null)
        {
            foreach (var index in request.SessionIndexes)
            {
                if (await services.States.AppOfIndexAsync(tenantId, index, sp!.Id) is { SessionId: { } sessionId, UserId: { } userId } app
                    && string.Equals(app.NameId, request.NameId, StringComparison.Ordinal))
                {
                    // The app asked; the session's others are told (SessionsRevoked reaches their back channels).
                    await services.States.ForgetAppAsync(tenantId, sessionId, sp.Id);
                    await services.Subjects.EndSessionByIdAsync(tenantId, userId, sessionId, http.RequestAborted);
                    status = SamlNames.Success;
                }
            }

            problem = status == SamlNames.Success ? null : "it names no session of ours for that person at this application";
        }

        if (problem is not null)
        {
            LogRefused(services.Logger, tenantId, request.Issuer, "back-channel logout: " + problem);
        }

        var key = await services.Keys.CurrentAsync(services.Db, tenantId, slug, http.RequestAborted);
        return SamlSoap.LogoutAnswer(http, SamlNames.IdpEntityId(services.Options.Value, slug), request.Id, status, key, now);
    }

    /// <summary>Tells a known app, at its registered ACS, why its request gets no assertion (a signed response with the statuses).</summary>
    private static IResult Refuse(
        HttpContext http, string idpEntityId, SamlServiceProvider sp, string? requestId, string? relayState, string status, string detail, SamlKey key, DateTimeOffset now) =>
        SamlPages.PostForm(http, sp.AcsUrl, "SAMLResponse", SamlDocuments.Refusal(idpEntityId, sp.AcsUrl, requestId, status, detail, key, now), relayState);

    /// <summary>
    /// Whether a logout request is about the browser's session: it names the session (its SessionIndex, which only the
    /// app that got the assertion knows), or it is signed and names the session's user as this app knows them.
    /// </summary>
    private static async Task<bool> NamesSessionAsync(
        SamlServices services, SamlServiceProvider sp, LogoutRequestMessage request, BrowserSessionInfo session, bool signed, CancellationToken cancellationToken)
    {
        if (request.SessionIndexes.Contains(SamlDocuments.SessionIndex(session.SessionId)))
        {
            return true;
        }

        if (!signed || request.NameId is not { Length: > 0 } nameId || sp.NameIdFormat == "transient"
            || await services.Subjects.ProfileAsync(services.Tenant.TenantId, session.UserId, cancellationToken) is not { } user)
        {
            return false;
        }

        return string.Equals(nameId, SamlDocuments.NameIdOf(sp.NameIdFormat, sp, user), StringComparison.Ordinal);
    }

    /// <summary>A request naming a Destination must name this endpoint (SAML Bindings §3.4.5.2, §3.5.5.2), on the deployment's host or the tenant's domain.</summary>
    private static string? CheckDestination(HttpContext http, SamlServices services, string? destination, string endpoint)
    {
        if (destination is null)
        {
            return null;
        }

        var options = services.Options.Value;
        var slug = services.Tenant.Slug;
        var ours = new List<string> { SamlNames.IdpUrl(options, slug, endpoint), $"{options.PublicBaseUrl.TrimEnd('/')}/t/{slug}/api/v1/saml/idp/{endpoint}" };
        if (RequestDomain.Of(http.Request, services.Tenant.Tenant!) is { } domain)
        {
            ours.Add($"{options.OriginFor(domain)}/saml/idp/{endpoint}");
            ours.Add($"{options.OriginFor(domain)}/api/v1/saml/idp/{endpoint}");
        }

        return ours.Contains(destination, StringComparer.Ordinal) ? null : "its Destination is not this endpoint";
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "SAML request of tenant {TenantId} from {EntityId} refused: {Problem}")]
    private static partial void LogRefused(ILogger logger, Guid tenantId, string entityId, string problem);

    [LoggerMessage(Level = LogLevel.Information, Message = "SAML assertion of tenant {TenantId} issued to {EntityId} for user {UserId}")]
    private static partial void LogSignedIn(ILogger logger, Guid tenantId, string entityId, Guid userId);
}
