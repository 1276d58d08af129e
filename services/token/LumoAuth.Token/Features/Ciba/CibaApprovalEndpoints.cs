using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using LumoAuth.Contracts;
using LumoAuth.Contracts.Internal;
using LumoAuth.Contracts.Tokens;
using LumoAuth.Messaging.Outbox;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Data;
using LumoAuth.Token.Features.Authorize;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Protocol;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Ciba;

/// <summary>
/// <c>/t/{slug}/ciba</c>, where a user answers the back-channel authentication requests made for them (CIBA Core §8:
/// "the OP authenticates the user and obtains consent"). The user signs in if needed and sees each waiting request —
/// the application, its <c>binding_message</c> (to compare with the screen that started it) and the scopes — then
/// approves or denies. A request the client sent a <c>user_code</c> with is approved only by typing that code; five
/// wrong codes deny it. Only the user a request names ever sees it.
/// </summary>
public static class CibaApprovalEndpoints
{
    private const string RequestField = "request";
    private const string DecisionField = "ciba_decision";
    private const string UserCodeField = "user_code";
    private const int MaxUserCodeAttempts = 5;

    public static string PagePath(string slug) => $"/t/{slug}/ciba";

    /// <summary>
    /// The link a notification carries to one request: on the tenant's primary domain when it has one (where its users
    /// sign in), else on the deployment's host.
    /// </summary>
    public static string ApprovalUrl(LumoAuthOptions options, TenantInfo tenant, Guid requestId) =>
        (tenant.PrimaryDomain is { } domain ? options.OriginFor(domain) + "/ciba" : options.PublicBaseUrl.TrimEnd('/') + PagePath(tenant.Slug))
        + $"?{RequestField}={requestId}";

    public static IEndpointRouteBuilder MapCibaApprovalEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/t/{tenantSlug}/ciba", [HttpMethods.Get, HttpMethods.Post], Answer)
            .AllowAnonymous().DisableAntiforgery().ExcludeFromDescription().WithName("CibaApproval");
        return app;
    }

    public sealed record ApprovalServices(
        TenantContext Tenant,
        TokenDbContext Db,
        TokenApplicationManager Applications,
        IOpenIddictAuthorizationManager Authorizations,
        UserClaims UserClaims,
        SessionStore Sessions,
        IAntiforgery Antiforgery,
        ApprovalSteps Steps,
        IOptions<LumoAuthOptions> Lumo,
        TimeProvider Time);

    public static async Task<IResult> Answer(HttpContext http, [AsParameters] ApprovalServices services)
    {
        var slug = services.Tenant.Slug;
        var session = await http.AuthenticateAsync(SessionCookie.Scheme);
        var signedIn = session.Succeeded ? session.Principal : null;
        if (!HttpMethods.IsPost(http.Request.Method) && await StepUpNeededAsync(http, services, signedIn))
        {
            // Once: the marker on the way back stops a user who has no second step from being sent round again.
            var stepUp = PagePath(slug) + http.Request.QueryString.Add(AuthenticationLevels.SecondStepParameter, "1");
            return Results.Redirect($"/t/{slug}/login" + QueryString.Create("returnUrl", stepUp), permanent: false, preserveMethod: false);
        }

        if (signedIn is not { } user || !Guid.TryParse(user.GetClaim(Claims.Subject), out var userId))
        {
            var returnUrl = PagePath(slug) + http.Request.QueryString;
            return Results.Redirect($"/t/{slug}/login" + QueryString.Create("returnUrl", returnUrl), permanent: false, preserveMethod: false);
        }

        if (!HttpMethods.IsPost(http.Request.Method) || !http.Request.HasFormContentType)
        {
            Guid? only = Guid.TryParse(http.Request.Query[RequestField], out var id) ? id : null;
            return await ListAsync(http, services, userId, only, error: null);
        }

        try
        {
            await services.Antiforgery.ValidateRequestAsync(http);
        }
        catch (AntiforgeryValidationException)
        {
            var t = PageText.Of(http);
            return HostedPage.Error(http, Errors.InvalidRequest, t["The form expired. Open the request again."]);
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        return await DecideAsync(http, services, user, userId, form);
    }

    /// <summary>
    /// Whether the page is opened for one request that prefers a sign-in of two factors (its <c>acr_values</c>, CIBA Core
    /// §7.1) from a browser whose session took fewer, or none, and the second step has not been asked for yet. The request
    /// is looked up by its id alone: what it prefers is all that is learnt, and it is no secret.
    /// </summary>
    private static async Task<bool> StepUpNeededAsync(HttpContext http, ApprovalServices services, ClaimsPrincipal? session)
    {
        if (!Guid.TryParse(http.Request.Query[RequestField], out var id) || http.Request.Query.ContainsKey(AuthenticationLevels.SecondStepParameter)
            || (session is not null && AuthenticationLevels.LevelOf(session) == UserClaims.MultiFactor))
        {
            return false;
        }

        var preferred = await services.Db.BackchannelAuthentications.AsNoTracking()
            .Where(x => x.Id == id && x.Status == CibaDelivery.Statuses.Pending).Select(x => x.PreferredAcr).FirstOrDefaultAsync(http.RequestAborted);
        return preferred == UserClaims.MultiFactor;
    }

    private static async Task<IResult> DecideAsync(HttpContext http, ApprovalServices services, ClaimsPrincipal user, Guid userId, IFormCollection form)
    {
        var t = PageText.Of(http);
        var now = services.Time.GetUtcNow();
        var id = Guid.TryParse(form[RequestField], out var parsed) ? parsed : Guid.Empty;
        IResult Closed() => HostedPage.Render(http, t["Request closed"], $"<p role=\"status\">{t.Html("This request is no longer waiting for you: it was answered or it has expired.")}</p>");
        var seen = await services.Db.BackchannelAuthentications.AsNoTracking().FirstOrDefaultAsync(x => x.Id == id && x.UserId == userId, http.RequestAborted);
        if (seen is null || seen.Status != CibaDelivery.Statuses.Pending || seen.ExpiresAt <= now)
        {
            return Closed();
        }

        // What an approval issues is prepared before the lock (a request's client and scopes never change): it asks admin and
        // the authorization service, and the client's polls of this row must not wait on those calls.
        var approve = form[DecisionField] == "accept";
        var scopes = seen.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var facts = SignInFacts.Of(user, userId);
        System.Security.Claims.ClaimsIdentity? identity = null;
        LumoAuth.Token.Data.TokenApplication? application = null;
        if (approve && await services.Steps.RecordAsync(t, services.Tenant.TenantId, userId,
                await services.Steps.PendingAsync(services.Tenant.TenantId, userId, scopes, http.RequestAborted), form, http.RequestAborted) is { } stepProblem)
        {
            return await ListAsync(http, services, userId, seen.Id, stepProblem, form);
        }

        if (approve)
        {
            bool unavailable;
            (identity, unavailable) = await services.UserClaims.TryBuildAsync(services.Tenant, services.Lumo.Value.IssuerFor(http.Request, services.Tenant.Tenant!), facts, scopes, http.RequestAborted);
            if (unavailable)
            {
                // The request stays pending and the session stays: the user answers again once admin is back.
                return HostedPage.Unavailable(http);
            }

            if (identity is null)
            {
                await http.SignOutAsync(SessionCookie.Scheme);
                return HostedPage.Error(http, Errors.AccessDenied, t["The account cannot sign in."], StatusCodes.Status403Forbidden);
            }

            application = await services.Applications.FindByClientIdAsync(seen.ClientId, http.RequestAborted);
            if (application is null)
            {
                return HostedPage.Error(http, Errors.InvalidClient, t["The application is no longer available."]);
            }
        }

        // The decision, and a wrong code's count, happen under the request's row lock: parallel guesses are judged one
        // at a time, so none slips past the attempt limit, and another page's answer is seen, not overwritten.
        await using var transaction = await services.Db.Database.BeginTransactionAsync(http.RequestAborted);
        await services.Db.Database.ExecuteSqlAsync(
            $"SELECT 1 FROM backchannel_authentications WHERE id = {id} AND tenant_id = {services.Tenant.TenantId} FOR UPDATE", http.RequestAborted);
        var request = await services.Db.BackchannelAuthentications.FirstOrDefaultAsync(x => x.Id == id && x.UserId == userId, http.RequestAborted);
        if (request is null || request.Status != CibaDelivery.Statuses.Pending || request.ExpiresAt <= now)
        {
            return Closed();
        }

        if (approve && request.UserCodeHash is not null && !SameCode(form[UserCodeField].ToString(), request.UserCodeHash))
        {
            request.FailedUserCodeAttempts++;
            if (request.FailedUserCodeAttempts < MaxUserCodeAttempts)
            {
                await services.Db.SaveChangesAsync(http.RequestAborted);
                await transaction.CommitAsync(http.RequestAborted);
                return await ListAsync(http, services, userId, request.Id, t["That is not the code you were given. Check it and try again."]);
            }

            // Someone is guessing: the request ends as if denied.
            approve = false;
        }

        if (approve)
        {
            // One grant per approval, as for a device: its refresh tokens rotate and are revoked as a family.
            var authorization = await services.Authorizations.CreateAsync(new ClaimsPrincipal(identity!), userId.ToString(),
                (await services.Applications.GetIdAsync(application!, http.RequestAborted))!, AuthorizationTypes.AdHoc, [.. scopes], http.RequestAborted);
            request.AuthorizationId = await services.Authorizations.GetIdAsync(authorization, http.RequestAborted);
            request.SessionId = facts.SessionId;
            request.AuthTime = facts.AuthTime;
            request.Methods = string.Join(' ', facts.Methods);
            if (facts.SessionId is not null)
            {
                await services.Sessions.TouchAsync(facts.SessionId, request.ClientId, http.RequestAborted);
            }
        }

        request.Status = approve ? CibaDelivery.Statuses.Approved : CibaDelivery.Statuses.Denied;
        request.DecidedAt = now;
        services.Db.AddEvent(new CibaAuthenticationDecided(request.Id, request.ClientId, userId, approve)
        {
            TenantId = request.TenantId,
            Actor = new EventActor(ActorTypes.User, userId.ToString()),
        });
        await services.Db.SaveChangesAsync(http.RequestAborted);
        await transaction.CommitAsync(http.RequestAborted);

        return approve
            ? HostedPage.Render(http, t["Sign-in approved"], $"<p role=\"status\">{t.Html("You approved the sign-in. You can close this page.")}</p>")
            : HostedPage.Render(http, t["Sign-in denied"], $"<p role=\"status\">{t.Html("You denied the request. Nobody was signed in.")}</p>");
    }

    /// <param name="error">Already in the page's language.</param>
    private static string Alert(string? error) =>
        error is null ? string.Empty : $"<p class=\"error\" role=\"alert\">{HostedPage.Encode(error)}</p>";

    private static bool SameCode(string typed, string storedHash) =>
        CryptographicOperations.FixedTimeEquals(
            Encoding.ASCII.GetBytes(BackchannelAuthenticationEndpoints.HashOf(typed.Trim())),
            Encoding.ASCII.GetBytes(storedHash));

    /// <param name="error">Already in the page's language.</param>
    /// <param name="posted">A form posted with a problem, whose profile values are shown again.</param>
    private static async Task<IResult> ListAsync(HttpContext http, ApprovalServices services, Guid userId, Guid? only, string? error, IFormCollection? posted = null)
    {
        var t = PageText.Of(http);
        var now = services.Time.GetUtcNow();
        var waiting = await services.Db.BackchannelAuthentications.AsNoTracking()
            .Where(x => x.UserId == userId && x.Status == CibaDelivery.Statuses.Pending && x.ExpiresAt > now && (only == null || x.Id == only))
            .OrderBy(x => x.CreatedAt)
            .Take(20)
            .ToListAsync(http.RequestAborted);
        if (waiting.Count == 0)
        {
            // A wrong code's answer still says so when the request closed meanwhile (another guess used the last attempt).
            return HostedPage.Render(http, t["Sign-in requests"], Alert(error) + $"<p role=\"status\">{t.Html("No sign-in request is waiting for you.")}</p>");
        }

        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        var body = new StringBuilder(Alert(error));
        // What each request needs depends on its scopes; the profile is read once for all of them.
        var profile = services.Steps.ReadOnce(services.Tenant.TenantId, userId, http.RequestAborted);
        foreach (var request in waiting)
        {
            var pending = await services.Steps.PendingAsync(profile, request.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries), http.RequestAborted);
            var application = await services.Applications.FindByClientIdAsync(request.ClientId, http.RequestAborted);
            var name = application is null ? request.ClientId : await services.Applications.GetDisplayNameAsync(application, http.RequestAborted) ?? request.ClientId;
            body.Append("<section aria-label=\"").Append(HostedPage.Encode(name)).Append("\">")
                .Append("<p>").Append(t.Html("{0} asks to sign you in and to:", PageText.Strong(name))).Append("</p><ul>");
            foreach (var scope in request.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                body.Append("<li>").Append(HostedPage.Encode(scope)).Append("</li>");
            }

            body.Append("</ul>").Append(AuthorizationDetails.Html(t, AuthorizationDetails.Parse(request.AuthorizationDetails)));
            if (request.BindingMessage is not null)
            {
                body.Append("<p>").Append(t.Html("Only approve if the screen you are using shows: {0}",
                    new Markup($"<strong class=\"binding-message\">{HostedPage.Encode(request.BindingMessage)}</strong>"))).Append("</p>");
            }

            body.Append("<p>").Append(t.Html("This request expires at {0}.", request.ExpiresAt.UtcDateTime.ToString("HH:mm:ss 'UTC'", CultureInfo.InvariantCulture))).Append("</p>")
                .Append("<form method=\"post\" action=\"").Append(HostedPage.Encode(PagePath(services.Tenant.Slug))).Append("\">")
                .Append(HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!))
                .Append(HostedPage.Field(RequestField, request.Id.ToString()));
            if (request.UserCodeHash is not null)
            {
                var field = $"user_code_{request.Id:N}";
                body.Append("<label for=\"").Append(field).Append("\">").Append(t.Html("The code you were given")).Append("</label>")
                    .Append("<input id=\"").Append(field).Append("\" name=\"").Append(UserCodeField).Append("\" autocomplete=\"off\" spellcheck=\"false\" required>");
            }

            body.Append(ApprovalSteps.Fields(t, pending, posted, $"_{request.Id:N}"))
                .Append("<button type=\"submit\" name=\"").Append(DecisionField).Append("\" value=\"accept\">").Append(t.Html("Approve")).Append("</button> ")
                .Append("<button type=\"submit\" name=\"").Append(DecisionField).Append("\" value=\"deny\" formnovalidate>").Append(t.Html("Deny")).Append("</button></form></section>");
        }

        return HostedPage.Render(http, t["Approve the sign-in?"], body.ToString(), error is null ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
    }
}
