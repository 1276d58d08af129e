using System.Collections.Immutable;
using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Directory;
using LumoAuth.Token.Features.AccountPages;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Clients;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Registration;
using LumoAuth.Token.Features.Scopes;
using LumoAuth.Token.Keys;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Authorize;

/// <summary>
/// <c>/t/{slug}/api/v1/oauth/authorize</c>. OpenIddict has validated the request (client, exact redirect URI,
/// response type and mode, PKCE); this handler decides whether the user must sign in (no session, <c>prompt=login</c>,
/// <c>max_age</c> passed), whether consent is needed (remembered per client and scope set, <c>prompt=consent</c>),
/// and answers <c>prompt=none</c> without any page. Requests OpenIddict cannot answer at a trusted redirect URI
/// (an unknown client or redirect URI) never get here: <see cref="AuthorizationErrorPage"/> shows them an error page.
/// </summary>
public static partial class AuthorizeEndpoints
{
    private const string DecisionField = "consent_decision";
    private const string TermsField = "terms_decision";
    private const string TermsVersionField = "terms_version";

    public static IEndpointRouteBuilder MapAuthorizeEndpoints(this IEndpointRouteBuilder app)
    {
        // Anonymous on purpose: the user is identified by the SSO session cookie, the client by OpenIddict.
        app.MapMethods("/t/{tenantSlug}/api/v1/oauth/authorize", [HttpMethods.Get, HttpMethods.Post], Authorize)
            .AllowAnonymous().DisableAntiforgery().ExcludeFromDescription().WithName("OAuthAuthorize");
        return app;
    }

    public sealed record AuthorizeServices(
        TenantContext Tenant,
        TokenApplicationManager Applications,
        IOpenIddictAuthorizationManager Authorizations,
        UserClaims UserClaims,
        SessionStore Sessions,
        TokenDbContext Db,
        HostedPageSettingsCache HostedPages,
        IAntiforgery Antiforgery,
        TimeProvider Time,
        IOptions<LumoAuthOptions> Lumo,
        IDataProtectionProvider DataProtection,
        ClientCache Clients,
        TenantKeyStore Keys,
        UserDirectory Users,
        AccountLinkClient AccountLinks,
        PendingTerms Terms,
        PendingProfile Profile);

    public static async Task<IResult> Authorize(HttpContext http, [AsParameters] AuthorizeServices services)
    {
        var request = http.GetOpenIddictServerRequest();
        var t = PageText.Of(http);
        if (request is null || !services.Tenant.HasTenant)
        {
            return HostedPage.Error(http, Errors.InvalidRequest, t["The authorization request is not valid."]);
        }

        // OIDC Core §3.1.2.1: the pages of this sign-in speak the first of the client's ui_locales that we have.
        PageLanguage.Prefer(http, request.UiLocales);
        t = PageText.Of(http);

        var application = await services.Applications.FindByClientIdAsync(request.ClientId!, http.RequestAborted);
        if (application is null)
        {
            return HostedPage.Error(http, Errors.InvalidClient, t["The application is not known."]);
        }

        var scopes = request.GetScopes();
        var allowed = ClientPermissions.ScopesOf(await services.Applications.GetPermissionsAsync(application, http.RequestAborted));
        if (scopes.IsEmpty)
        {
            // RFC 6749 §3.3: no scope asked for means the tenant's default scopes (isDefault) that this client may have.
            var defaults = await TenantScopes.DefaultsAsync(services.Db, services.Tenant.TenantId, http.RequestAborted);
            scopes = [.. defaults.Where(allowed.Contains).Order(StringComparer.Ordinal)];
        }

        if ((AuthorizationRequestRules.ScopeProblem(scopes, allowed)
             ?? await AuthorizationRequestRules.ChallengeProblemAsync(services.Applications, application, request, http.RequestAborted)) is { } problem)
        {
            return Forbid(problem.Error, problem.Description);
        }

        // OIDC Core §5.5.1.1: an essential acr none of whose values is ours can never be met, whoever signs in.
        var levels = AuthenticationLevels.Of(request);
        if (levels.Unmeetable)
        {
            return Forbid(AuthenticationLevels.UnmetAuthenticationRequirements, $"None of the required acr values is offered here; the levels are {string.Join(", ", AuthenticationLevels.Supported)}.");
        }

        var pushedAt = PushedRequestTime.Of(http);
        var session = await http.AuthenticateAsync(SessionCookie.Scheme);
        var user = session.Succeeded ? session.Principal : null;

        // prompt=create: the registration page whatever the session, then back here without "create" (or, for a
        // pushed request, whose prompt cannot change, signed in since the push).
        if (request.HasPromptValue(RegistrationEndpoints.PromptCreate) && !SignedInSince(user, pushedAt))
        {
            // OIDC Core: "none" with any other value is an error; create needs a page "none" forbids.
            if (request.HasPromptValue(PromptValues.None))
            {
                return Forbid(Errors.InvalidRequest, "The prompt values 'none' and 'create' cannot be combined.");
            }

            var hostedPages = await services.HostedPages.GetAsync(services.Tenant.TenantId, http.RequestAborted);
            if (hostedPages is null)
            {
                return HostedPage.Unavailable(http, t["Registration"]);
            }

            // Prompt Create §4.1: a prompt value the tenant does not support is a 400 invalid_request naming it.
            return hostedPages.RegistrationEnabled
                ? Results.Redirect(ContinuationUrl(services.Tenant.Slug, "register", request, RegistrationEndpoints.PromptCreate, SignedForward(http, services, request)), permanent: false, preserveMethod: false)
                : HostedPage.Error(http, Errors.InvalidRequest, t["The prompt value 'create' is not supported: this organisation does not allow self-registration."]);
        }

        // A decision posted from the consent page goes on with the request that page was shown for: max_age was met when
        // it was shown, and the time the user spends reading it does not count (else max_age=0 could never be answered).
        var form = HttpMethods.IsPost(http.Request.Method) && http.Request.HasFormContentType ? await http.Request.ReadFormAsync(http.RequestAborted) : null;
        var decision = form?[DecisionField].ToString() ?? string.Empty;
        var termsDecision = form?[TermsField].ToString() ?? string.Empty;
        var termsVersion = form?[TermsVersionField].ToString() ?? string.Empty;
        // One of this endpoint's own pages (consent, terms, profile), posted with its CSRF token: nothing else skips a sign-in again.
        var fromAPage = decision.Length > 0 || termsDecision.Length > 0 || form?[ProfileField].ToString() is { Length: > 0 };
        if (fromAPage && user is not null && await ExpiredFormAsync(http, services) is { } expired)
        {
            return expired;
        }

        if (user is null || (!fromAPage && MustSignInAgain(request, levels, user, services.Time, pushedAt)))
        {
            if (request.HasPromptValue(PromptValues.None))
            {
                return Forbid(Errors.LoginRequired, user is null ? "The user is not signed in." : "The user must sign in again for this request.");
            }

            return Results.Redirect(ContinuationUrl(services.Tenant.Slug, "login", request, PromptValues.Login, SignedForward(http, services, request)), permanent: false, preserveMethod: false);
        }

        var userId = Guid.Parse(user.GetClaim(Claims.Subject)!);
        // RFC 9396: checked (shape and the client's types) by AuthorizationDetails.Check before this endpoint runs.
        var details = AuthorizationDetails.Checked(request);
        if (await NamesAnotherUserAsync(http, services, request, userId))
        {
            // Without prompt=none the user may sign in as the user named.
            return request.HasPromptValue(PromptValues.None)
                ? Forbid(Errors.LoginRequired, "The signed-in user is not the user the request names.")
                : Results.Redirect(ContinuationUrl(services.Tenant.Slug, "login", request, PromptValues.Login, SignedForward(http, services, request)), permanent: false, preserveMethod: false);
        }

        // The sign-in for a required level has been tried (the user has no second step, or did not give it).
        if (!levels.MetBy(AuthenticationLevels.LevelOf(user)))
        {
            return Forbid(AuthenticationLevels.UnmetAuthenticationRequirements, "The sign-in did not meet the authentication level the application requires.");
        }

        // The terms and the profile are judged from one read of the user's profile (accepting the terms changes no attribute).
        var profileRead = services.Users.ReadOnce(services.Tenant.TenantId, userId, http.RequestAborted);
        if (await TermsGateAsync(http, services, request, profileRead, termsDecision, termsVersion) is { } termsAnswer)
        {
            return termsAnswer;
        }

        if (await ProfileGateAsync(http, services, request, profileRead, scopes, form) is { } profileAnswer)
        {
            return profileAnswer;
        }

        var applicationId = (await services.Applications.GetIdAsync(application, http.RequestAborted))!;
        var resources = request.GetResources();
        var consent = ConsentFor(scopes, resources);
        var remembered = await FindConsentAsync(services.Authorizations, userId, applicationId, consent, http.RequestAborted);
        if (decision.Length > 0)
        {
            if (decision != "accept")
            {
                return Forbid(Errors.AccessDenied, "The user declined the request.");
            }
        }
        else if (remembered is null || request.HasPromptValue(PromptValues.Consent) || details is not null)
        {
            // Authorization details name one transaction (a payment, a document): the user agrees to each, never by memory.
            if (request.HasPromptValue(PromptValues.None))
            {
                return Forbid(Errors.ConsentRequired, "The user has not consented to this request.");
            }

            var clientName = await services.Applications.GetDisplayNameAsync(application, http.RequestAborted);
            var described = await TenantScopes.DescribeAsync(services.Db, services.Tenant.TenantId, scopes, http.RequestAborted);
            var links = application is TokenApplication row ? ClientMapping.Read(row).Links : null;
            return ConsentPage(http, services, request, clientName, links, described, resources, details);
        }

        var issuer = services.Lumo.Value.IssuerFor(http.Request, services.Tenant.Tenant!);
        var facts = SignInFacts.Of(user, userId) with { EssentialAcr = levels.Kept };
        var (identity, unavailable) = await services.UserClaims.TryBuildAsync(services.Tenant, issuer, facts, scopes, http.RequestAborted);
        if (unavailable)
        {
            // RFC 6749 §4.1.2.1: the client hears of it (prompt=none's silent renew too), and the session stays.
            return Forbid(Errors.TemporarilyUnavailable, "The user directory cannot be reached; try again.");
        }

        if (identity is null)
        {
            await http.SignOutAsync(SessionCookie.Scheme);
            return Forbid(Errors.AccessDenied, "The account cannot sign in.");
        }

        // Consent is remembered as a permanent authorization for this client, these scopes and APIs. The code itself gets an
        // authorization of its own: the code and the refresh tokens rotated from it are one family, so a replay or a
        // revocation (RFC 9700 §4.14, RFC 7009 §2.1) ends this grant and not the user's sessions on other devices.
        if (remembered is null)
        {
            await services.Authorizations.CreateAsync(
                new ClaimsPrincipal(identity), userId.ToString(), applicationId, AuthorizationTypes.Permanent, consent, http.RequestAborted);
        }

        // The consent remembers what the user agreed to (so they are not asked again); the grant holds what was granted,
        // without the privileged scopes a user who does not administer the tenant asked for.
        var grant = await services.Authorizations.CreateAsync(
            new ClaimsPrincipal(identity), userId.ToString(), applicationId, AuthorizationTypes.AdHoc, identity.GetScopes(), http.RequestAborted);
        identity.SetAuthorizationId(await services.Authorizations.GetIdAsync(grant, http.RequestAborted));
        // The APIs named (RFC 8707, checked by ResourceIndicators) travel with the code; its tokens are for them.
        identity.SetResources(resources);
        AuthorizationDetails.Attach(identity, details);
        if (facts.SessionId is not null)
        {
            await services.Sessions.TouchAsync(facts.SessionId, request.ClientId!, http.RequestAborted);
        }

        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>
    /// The tenant's terms of service, where it has them: a user who has not accepted their current version is asked before
    /// any application gets a code (Keycloak's "Terms and Conditions" required action), and declining ends the request
    /// with <c>access_denied</c>. Null: go on.
    /// </summary>
    /// <param name="shownVersion">The version the posted page showed: accepting it accepts that one, never a newer one the page did not show.</param>
    private static async Task<IResult?> TermsGateAsync(
        HttpContext http, AuthorizeServices services, OpenIddictRequest request, UserDirectory.ProfileRead user, string termsDecision, string shownVersion)
    {
        var userId = user.UserId;
        // Admin out: the claims built next cannot be either, and that answers the request.
        if (await services.Terms.UnacceptedAsync(user, http.RequestAborted) is not { } pending)
        {
            return null;
        }

        var (terms, changed) = pending;

        var t = PageText.Of(http);
        if (termsDecision.Length > 0)
        {
            if (termsDecision != "accept")
            {
                return Forbid(Errors.AccessDenied, "The user did not accept the terms of service.");
            }

            // Admin refuses a version that is no longer the tenant's (its copy of the settings is the newest).
            var accepted = shownVersion == terms.Version
                ? await services.AccountLinks.AcceptTermsAsync(services.Tenant.TenantId, userId, shownVersion, http.RequestAborted)
                : null;
            if (accepted?.Outcome == LinkOutcome.Done)
            {
                return null;
            }

            // The terms changed while the page was open: the page below shows the new ones.
            if (accepted?.Outcome == LinkOutcome.Unavailable && await services.Users.ExistsAsync(services.Tenant.TenantId, userId, http.RequestAborted) is null)
            {
                return Forbid(Errors.TemporarilyUnavailable, "The user directory cannot be reached; try again.");
            }
        }

        if (request.HasPromptValue(PromptValues.None))
        {
            return Forbid(Errors.InteractionRequired, "The user must accept the terms of service.");
        }

        return TermsPage(http, services, request, terms, changed);
    }

    // The request's parameters for a page's form to post back: not the decisions and the CSRF token of a page posted before
    // (OpenIddict reads a posted form's fields as parameters), which would go twice.
    private static string FormFields(IEnumerable<KeyValuePair<string, string?>> forwarded, string csrfField) =>
        string.Concat(forwarded.Where(p => p.Key is not (DecisionField or TermsField or TermsVersionField or ProfileField) && p.Key != csrfField
                                           && !p.Key.StartsWith(ProfileAttributeFields.Prefix, StringComparison.Ordinal))
            .Select(p => HostedPage.Field(p.Key, p.Value!)));

    /// <summary>The error page for a consent, terms or profile form without a valid CSRF token; null when the form is ours.</summary>
    private static async Task<IResult?> ExpiredFormAsync(HttpContext http, AuthorizeServices services)
    {
        try
        {
            await services.Antiforgery.ValidateRequestAsync(http);
            return null;
        }
        catch (AntiforgeryValidationException)
        {
            var t = PageText.Of(http);
            return HostedPage.Error(http, Errors.InvalidRequest, t["The consent form expired. Start the sign-in again from the application."]);
        }
    }

    private static IResult TermsPage(HttpContext http, AuthorizeServices services, OpenIddictRequest request, TermsOfService terms, bool changed)
    {
        var t = PageText.Of(http);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        IEnumerable<KeyValuePair<string, string?>> forwarded = SignedForward(http, services, request) ?? Flatten(request);
        var fields = FormFields(forwarded, tokens.FormFieldName);
        var link = t.Link("terms of service", terms.Url, "rel=\"noopener noreferrer\" target=\"_blank\"");
        var body =
            (changed ? $"<p class=\"notice\">{t.Html("The terms have changed since you last accepted them.")}</p>" : string.Empty) +
            $"<p>{t.Html("To go on, read and accept the {0}.", link)}</p>" +
            $"<form method=\"post\" action=\"/t/{HostedPage.Encode(services.Tenant.Slug)}/api/v1/oauth/authorize\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) + HostedPage.Field(TermsVersionField, terms.Version) + fields +
            $"<button type=\"submit\" name=\"{TermsField}\" value=\"accept\">{t.Html("Accept")}</button> " +
            $"<button type=\"submit\" name=\"{TermsField}\" value=\"decline\">{t.Html("Decline")}</button></form>";
        return HostedPage.Render(http, t["Terms of service"], body, continuesTo: request.RedirectUri);
    }

    /// <summary>
    /// Whether the request names a user the client expects who is not the signed-in one: by an <c>id_token_hint</c>
    /// (OIDC Core §3.1.2.1; OpenIddict has checked that it is ours, issued to this client), or by a <c>sub</c> value in the
    /// <c>claims</c> parameter (§5.5.1: no token for anyone else), compared with the subject this client's ID token would
    /// name (pairwise, for a pairwise client).
    /// </summary>
    private static async Task<bool> NamesAnotherUserAsync(HttpContext http, AuthorizeServices services, OpenIddictRequest request, Guid userId)
    {
        if (!string.IsNullOrEmpty(request.IdTokenHint)
            && (await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal?.GetClaim(Claims.Subject) is { } hinted)
        {
            return !string.Equals(hinted, userId.ToString(), StringComparison.Ordinal);
        }

        if (ClaimsRequest.Of(request).Request.Subject is not { } subject)
        {
            return false;
        }

        var client = await services.Clients.SettingsAsync(services.Tenant.Tenant!, request.ClientId, http.RequestAborted);
        var keys = await services.Keys.GetAsync(services.Tenant.TenantId, http.RequestAborted);
        return !string.Equals(subject, PairwiseSubjects.SubjectFor(userId, client, keys), StringComparison.Ordinal);
    }

    private static bool MustSignInAgain(OpenIddictRequest request, AuthenticationLevels.Requested levels, ClaimsPrincipal user, TimeProvider time, DateTimeOffset? pushedAt)
    {
        // acr (step-up): a session of one factor signs in again, with the second step, once for this request.
        if (AuthenticationLevels.StepUpNeeded(request, levels, user) && !SignedInSince(user, pushedAt))
        {
            return true;
        }

        // max_age=0 is prompt=login (OIDC Core errata): whole-second auth_time could not tell a sign-in just now from one
        // earlier in the same second.
        if (request.HasPromptValue(PromptValues.Login) || request.MaxAge == 0)
        {
            return !SignedInSince(user, pushedAt);
        }

        if (request.MaxAge is { } maxAge
            && long.TryParse(user.GetClaim(Claims.AuthenticationTime), NumberStyles.Integer, CultureInfo.InvariantCulture, out var authTime))
        {
            return !SignedInSince(user, pushedAt) && time.GetUtcNow().ToUnixTimeSeconds() - authTime > maxAge;
        }

        return false;
    }

    /// <summary>Whether the session's sign-in happened after the request was pushed (false for a request not pushed).</summary>
    private static bool SignedInSince(ClaimsPrincipal? user, DateTimeOffset? pushedAt) =>
        pushedAt is { } pushed && user is not null
        && long.TryParse(user.GetClaim(Claims.AuthenticationTime), NumberStyles.Integer, CultureInfo.InvariantCulture, out var authTime)
        && authTime >= pushed.ToUnixTimeSeconds();

    /// <summary>What a user consents to: the scopes, and each API named (RFC 8707) as a <c>resource:</c> entry beside them.</summary>
    private static ImmutableArray<string> ConsentFor(ImmutableArray<string> scopes, ImmutableArray<string> resources) =>
        resources.IsDefaultOrEmpty ? scopes : scopes.AddRange(resources.Select(r => ScopeNames.ResourceConsentPrefix + r));

    private static async Task<object?> FindConsentAsync(IOpenIddictAuthorizationManager authorizations, Guid userId, string applicationId,
        ImmutableArray<string> scopes, CancellationToken cancellationToken)
    {
        await foreach (var authorization in authorizations.FindAsync(userId.ToString(), applicationId, Statuses.Valid, AuthorizationTypes.Permanent, scopes, cancellationToken))
        {
            return authorization;
        }

        return null;
    }

    /// <summary>The request's parameters one value at a time: a repeated one (<c>resource</c>, RFC 8707) keeps every value.</summary>
    private static IEnumerable<KeyValuePair<string, string?>> Flatten(OpenIddictRequest request) =>
        request.GetParameters().SelectMany(p => ValuesOf(p.Value).Select(value => new KeyValuePair<string, string?>(p.Key, value)));

    private static IEnumerable<string> ValuesOf(OpenIddictParameter parameter) =>
        ((Microsoft.Extensions.Primitives.StringValues)parameter).OfType<string>();

    /// <summary>
    /// What the hosted pages send back here of a request that came as a signed request object (RFC 9101): the object as
    /// the client signed it (its unpacked parameters are only trusted signed), and when it was first seen, sealed; null
    /// for any other request.
    /// </summary>
    private static KeyValuePair<string, string?>[]? SignedForward(HttpContext http, AuthorizeServices services, OpenIddictRequest request) =>
        SignedRequestObjects.OriginalOf(http) is { } jwt
            ?
            [
                new(Parameters.ClientId, request.ClientId), new(Parameters.Request, jwt),
                new(SignedRequestObjects.SeenParameter, SignedRequestObjects.SealSeen(services.DataProtection, jwt, PushedRequestTime.Of(http) ?? services.Time.GetUtcNow())),
                new(RedirectHintParameter, request.RedirectUri),
            ]
            : null;

    /// <summary>
    /// Beside a request whose parameters stay off the URL (pushed, or signed): the redirect URI it was validated with, for
    /// the hosted pages' <c>form-action</c> only (the chain login → authorize → client is one form navigation, which the
    /// browser checks against the login page's policy). The authorization endpoint itself never reads it.
    /// </summary>
    public const string RedirectHintParameter = "lumo_redirect_hint";

    /// <summary>
    /// A hosted page (login or registration), told to come back here. The prompt value the page satisfies
    /// (<c>login</c>, <c>create</c>) is dropped from the way back (it has happened), and so is <c>max_age</c> on the
    /// way back from login (the fresh <c>auth_time</c> in the ID token shows the client it was met).
    /// </summary>
    private static string ContinuationUrl(string slug, string page, OpenIddictRequest request, string satisfiedPrompt, KeyValuePair<string, string?>[]? signedForward)
    {
        IEnumerable<KeyValuePair<string, string?>> parameters;
        if (signedForward is not null)
        {
            parameters = signedForward;
        }
        else if (!string.IsNullOrEmpty(request.RequestUri))
        {
            // A pushed request (the only request_uri OpenIddict accepts here) comes back as it was sent: its
            // parameters stay off the URL (RFC 9126 §4).
            parameters = [new(Parameters.ClientId, request.ClientId), new(Parameters.RequestUri, request.RequestUri), new(RedirectHintParameter, request.RedirectUri)];
        }
        else
        {
            // max_age is met by the sign-in the login page is for, as prompt=login is: judged again on the way back, it
            // would send a user who lingered on a page in between (backup codes, a reminder) round again.
            parameters = Flatten(request).Where(p => p.Key != Parameters.Prompt && !(page == "login" && p.Key == Parameters.MaxAge));
            var prompts = request.GetPromptValues().Where(p => p != satisfiedPrompt).ToList();
            if (prompts.Count > 0)
            {
                parameters = parameters.Append(new(Parameters.Prompt, string.Join(' ', prompts)));
            }
        }

        if (page == "login" && AuthenticationLevels.Of(request).WantsSecondStep)
        {
            parameters = parameters.Append(new(AuthenticationLevels.SecondStepParameter, "1"));
        }

        var returnUrl = $"/t/{slug}/api/v1/oauth/authorize" + QueryString.Create(parameters);
        var query = new Dictionary<string, string?> { ["returnUrl"] = returnUrl };
        if (page == "login" && !string.IsNullOrEmpty(request.LoginHint))
        {
            query["login_hint"] = request.LoginHint;
        }

        return $"/t/{slug}/{page}" + QueryString.Create(query);
    }

    private static IResult ConsentPage(
        HttpContext http, AuthorizeServices services, OpenIddictRequest request, string? clientName, ClientLinks? links,
        IReadOnlyList<(string Name, string? Description)> scopes, ImmutableArray<string> resources, JsonElement? details)
    {
        var t = PageText.Of(http);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        // A signed request goes back as the client signed it, not as its unpacked parameters.
        IEnumerable<KeyValuePair<string, string?>> forwarded = SignedForward(http, services, request) ?? Flatten(request);
        var fields = FormFields(forwarded, tokens.FormFieldName);
        // The scope's consent text where it has one (built-in, or set by the tenant's admin and worded per language in its
        // localization texts), its name beside it.
        var list = string.Concat(scopes.Select(s => (ScopeNames.ConsentText(t, s.Name) ?? (s.Description is { } own ? t.Own(own) : null)) is { Length: > 0 } text
            ? $"<li>{HostedPage.Encode(text)} <small>({HostedPage.Encode(s.Name)})</small></li>"
            : $"<li>{HostedPage.Encode(s.Name)}</li>"));
        // The APIs its tokens will be for (RFC 8707): the user sees where their access goes, not only what it covers.
        var apis = resources.IsDefaultOrEmpty ? string.Empty
            : $"<p>{t.Html("and to call these services for you:")}</p><ul>" + string.Concat(resources.Select(r => $"<li>{HostedPage.Encode(r)}</li>")) + "</ul>";
        var logo = Shown(links?.LogoUri);
        var name = Shown(links?.ClientUri) is { } home
            ? $"<a href=\"{HostedPage.Encode(home.AbsoluteUri)}\" rel=\"noopener noreferrer\"><strong>{HostedPage.Encode(clientName)}</strong></a>"
            : $"<strong>{HostedPage.Encode(clientName)}</strong>";
        var body =
            (logo is null ? string.Empty : $"<p><img class=\"client-logo\" src=\"{HostedPage.Encode(logo.AbsoluteUri)}\" alt=\"\" height=\"48\"></p>") +
            $"<p>{t.Html("{0} asks to:", new Markup(name))}</p><ul>{list}</ul>" + apis + AuthorizationDetails.Html(t, details) + Terms(t, links) + DescribedBy(t, request) +
            $"<form method=\"post\" action=\"/t/{HostedPage.Encode(services.Tenant.Slug)}/api/v1/oauth/authorize\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) + fields +
            $"<button type=\"submit\" name=\"{DecisionField}\" value=\"accept\">{t.Html("Allow")}</button> " +
            $"<button type=\"submit\" name=\"{DecisionField}\" value=\"deny\">{t.Html("Deny")}</button></form>";
        return HostedPage.Render(http, t["Allow access?"], body, continuesTo: request.RedirectUri, image: logo);
    }

    // The client's privacy policy and terms, where it registered them.
    private static string Terms(PageText t, ClientLinks? links)
    {
        const string Rel = "rel=\"noopener noreferrer\"";
        var items = new[]
            {
                Shown(links?.PolicyUri) is { } policy ? t.Link("Privacy policy", policy.AbsoluteUri, Rel).Html : null,
                Shown(links?.TosUri) is { } terms ? t.Link("Terms of service", terms.AbsoluteUri, Rel).Html : null,
            }
            .OfType<string>()
            .ToList();
        return items.Count == 0 ? string.Empty : $"<p class=\"client-links\">{t.Html("From the application: {0}", new Markup(string.Join(" · ", items)))}</p>";
    }

    // A client's link as the page may use it, checked again whatever was stored: https, or http on loopback.
    private static Uri? Shown(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.UserInfo.Length == 0 && ClientValidation.IsWebScheme(uri)
            ? uri
            : null;

    // A client known only by its metadata document was vetted by nobody here: say whose it is and where it leads (draft §6).
    private static string DescribedBy(PageText t, OpenIddictRequest request)
    {
        if (!ClientMetadataDocuments.IsDocumentUrl(request.ClientId) || !Uri.TryCreate(request.ClientId, UriKind.Absolute, out var site))
        {
            return string.Empty;
        }

        var text = $"<p class=\"notice\">{t.Html("This application describes itself at {0}; this organisation has not reviewed it.", PageText.Strong(site.Host))}";
        if (Uri.TryCreate(request.RedirectUri, UriKind.Absolute, out var target) && !string.Equals(target.Host, site.Host, StringComparison.OrdinalIgnoreCase))
        {
            text += " " + t.Html("It will send you back to {0}.", PageText.Strong(target.Host));
        }

        return text + "</p>";
    }

    private static IResult Forbid(string error, string description) => ProtocolErrors.Forbid(error, description);
}
