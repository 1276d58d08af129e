using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Claims;
using System.Text;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Http;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.AAuth;

/// <summary>
/// <c>/t/{slug}/aauth/authorize?request=…</c>, where a person answers an AAuth request an agent made to act for them. The
/// agents service owns the request (what the agent asks, of which resource, until when) and where the answer goes; this
/// page holds the browser session: it signs the person in, shows the request, and passes their answer and the time they
/// signed in to the agents service, then sends the browser on to the agent's redirect URI. A request of the <c>user</c>
/// level needs the person present: a sign-in within <see cref="PresenceMaxAge"/>.
/// </summary>
public static class AAuthConsentEndpoints
{
    private const string RequestField = "request";
    private const string DecisionField = "aauth_decision";
    private const string UserLevel = "user";
    private const int MaxRequestIdLength = 100;

    /// <summary>How long after signing in a person counts as present for a <c>user</c>-level request.</summary>
    public static readonly TimeSpan PresenceMaxAge = TimeSpan.FromMinutes(5);

    public static string PagePath(string slug) => $"/t/{slug}/aauth/authorize";

    public static IEndpointRouteBuilder MapAAuthConsentEndpoints(this IEndpointRouteBuilder app)
    {
        // Anonymous to the endpoint: the page reads the browser session itself and sends a browser without one to the
        // sign-in page, which comes back here. The POST's antiforgery token is checked by the handler (as at CIBA's page).
        app.MapMethods("/t/{tenantSlug}/aauth/authorize", [HttpMethods.Get, HttpMethods.Post], Answer)
            .AllowAnonymous().DisableAntiforgery().ExcludeFromDescription().WithName("AAuthConsent");
        return app;
    }

    public sealed record ConsentServices(TenantContext Tenant, IHttpClientFactory HttpClients, IAntiforgery Antiforgery, TimeProvider Time);

    public static async Task<IResult> Answer(HttpContext http, [AsParameters] ConsentServices services)
    {
        var slug = services.Tenant.Slug;
        var session = await http.AuthenticateAsync(SessionCookie.Scheme);
        if (!session.Succeeded || session.Principal is not { } user || !Guid.TryParse(user.GetClaim(Claims.Subject), out var userId)
            || AuthenticatedAt(user) is not { } authenticatedAt)
        {
            return ToSignIn(slug, PagePath(slug) + http.Request.QueryString);
        }

        if (!HttpMethods.IsPost(http.Request.Method) || !http.Request.HasFormContentType)
        {
            return await ShowAsync(http, services, user, authenticatedAt, http.Request.Query[RequestField].ToString());
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
        return await DecideAsync(http, services, userId, authenticatedAt, form);
    }

    private static async Task<IResult> ShowAsync(HttpContext http, ConsentServices services, ClaimsPrincipal user, DateTimeOffset authenticatedAt, string requestId)
    {
        if (!IsRequestId(requestId))
        {
            return Closed(http);
        }

        var cancellationToken = http.RequestAborted;
        AAuthConsentView? view;
        try
        {
            using var response = await services.HttpClients.CreateClient(InternalClients.Agents)
                .GetAsync($"{InternalRoutes.AAuthRequests}/{requestId}?tenantId={services.Tenant.TenantId}", cancellationToken);
            if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
            {
                return Closed(http);
            }

            if (!response.IsSuccessStatusCode)
            {
                return Unavailable(http);
            }

            view = await response.Content.ReadFromJsonAsync<AAuthConsentView>(cancellationToken);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            return Unavailable(http);
        }

        if (view is null)
        {
            return Unavailable(http);
        }

        var slug = services.Tenant.Slug;
        if (view.AuthLevel == UserLevel && !IsPresent(authenticatedAt, services.Time))
        {
            // The sign-in page never skips a session: the person signs in again, and comes back present.
            return ToSignIn(slug, PagePath(slug) + QueryString.Create(RequestField, requestId));
        }

        var t = PageText.Of(http);
        var tokens = services.Antiforgery.GetAndStoreTokens(http);
        var who = user.GetClaim(Claims.Email) is { Length: > 0 } email ? email
            : user.GetClaim(Claims.Name) is { Length: > 0 } name ? name
            : null;
        var body = new StringBuilder()
            .Append("<p class=\"aauth-request\">").Append(t.Html("{0} wants to access {1}.", view.AgentName, view.ResourceName)).Append("</p>")
            .Append("<dl><dt>").Append(t.Html("Agent")).Append("</dt><dd><code data-agent>").Append(HostedPage.Encode(view.AgentIdentifier)).Append("</code></dd>")
            .Append("<dt>").Append(t.Html("Resource")).Append("</dt><dd><code data-resource>").Append(HostedPage.Encode(view.ResourceIdentifier)).Append("</code></dd></dl>");
        if (view.Scopes is { Count: > 0 } scopes)
        {
            body.Append("<p>").Append(t.Html("It asks to:")).Append("</p><ul data-scopes>");
            foreach (var scope in scopes)
            {
                body.Append("<li>").Append(HostedPage.Encode(scope)).Append("</li>");
            }

            body.Append("</ul>");
        }

        body.Append("<p>").Append(who is null ? t.Html("Acting on behalf of your account.") : t.Html("Acting on behalf of {0}.", who)).Append("</p>")
            .Append("<p>").Append(t.Html("This request expires at {0}.", view.ExpiresAt.UtcDateTime.ToString("HH:mm:ss 'UTC'", CultureInfo.InvariantCulture))).Append("</p>")
            .Append("<form method=\"post\" action=\"").Append(HostedPage.Encode(PagePath(slug))).Append("\">")
            .Append(HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!))
            .Append(HostedPage.Field(RequestField, requestId))
            .Append("<button type=\"submit\" name=\"").Append(DecisionField).Append("\" value=\"accept\">").Append(t.Html("Allow")).Append("</button> ")
            .Append("<button type=\"submit\" name=\"").Append(DecisionField).Append("\" value=\"deny\">").Append(t.Html("Deny")).Append("</button></form>");
        return HostedPage.Render(http, t["Allow access?"], body.ToString(), continuesTo: view.RedirectUri);
    }

    private static async Task<IResult> DecideAsync(HttpContext http, ConsentServices services, Guid userId, DateTimeOffset authenticatedAt, IFormCollection form)
    {
        var requestId = form[RequestField].ToString();
        if (!IsRequestId(requestId))
        {
            return Closed(http);
        }

        bool approve;
        switch (form[DecisionField].ToString())
        {
            case "accept":
                approve = true;
                break;
            case "deny":
                approve = false;
                break;
            default:
                var t = PageText.Of(http);
                return HostedPage.Error(http, Errors.InvalidRequest, t["Choose Allow or Deny."]);
        }

        var cancellationToken = http.RequestAborted;
        AAuthDecisionResult? result;
        try
        {
            using var response = await services.HttpClients.CreateClient(InternalClients.Agents).PostAsJsonAsync(
                $"{InternalRoutes.AAuthRequests}/{requestId}/decision", new AAuthDecision(services.Tenant.TenantId, userId, approve, authenticatedAt), cancellationToken);
            if (response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Gone)
            {
                return Closed(http);
            }

            if (response.StatusCode == HttpStatusCode.Conflict)
            {
                // The request needs the person present, and this session's sign-in is too old for it.
                return SignInAgain(http, services.Tenant.Slug, requestId);
            }

            if (!response.IsSuccessStatusCode)
            {
                return Unavailable(http);
            }

            result = await response.Content.ReadFromJsonAsync<AAuthDecisionResult>(cancellationToken);
        }
        catch (Exception exception) when (exception.IsRemoteFailure(cancellationToken))
        {
            return Unavailable(http);
        }

        // The agents service checked the redirect URI when the agent registered it; this only keeps what becomes the
        // Location header an absolute web address the server can write.
        if (result?.RedirectUri is not { } redirectUri || !IsWebAddress(redirectUri))
        {
            var t = PageText.Of(http);
            return HostedPage.Error(http, Errors.ServerError, t["The application's address is not valid. Your answer was recorded."], StatusCodes.Status502BadGateway);
        }

        return Results.Redirect(redirectUri, permanent: false, preserveMethod: false);
    }

    /// <summary>When the session's sign-in happened: the <c>auth_time</c> of the session principal, which <see cref="AccountPages.RecentSignIn"/> reads too.</summary>
    private static DateTimeOffset? AuthenticatedAt(ClaimsPrincipal user) =>
        long.TryParse(user.GetClaim(Claims.AuthenticationTime), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
        && seconds <= DateTimeOffset.MaxValue.ToUnixTimeSeconds()
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;

    private static bool IsPresent(DateTimeOffset authenticatedAt, TimeProvider time) => time.GetUtcNow() - authenticatedAt <= PresenceMaxAge;

    /// <summary>An AAuth request id as the agents service makes them (<c>aar_</c> and hex); anything else is not worth asking about.</summary>
    private static bool IsRequestId(string? value) =>
        value is { Length: > 0 and <= MaxRequestIdLength } && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');

    /// <summary>An absolute http(s) URL of printable ASCII only (a control or non-ASCII character would make the server refuse the header).</summary>
    private static bool IsWebAddress(string value) =>
        !value.AsSpan().ContainsAnyExceptInRange('\x21', '\x7E')
        && Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);

    private static IResult ToSignIn(string slug, string returnUrl) =>
        Results.Redirect($"/t/{slug}/login" + QueryString.Create("returnUrl", returnUrl), permanent: false, preserveMethod: false);

    private static IResult Closed(HttpContext http)
    {
        var t = PageText.Of(http);
        return HostedPage.Render(http, t["Request closed"], $"<p role=\"status\">{t.Html("This request is no longer waiting for you: it was answered or it has expired.")}</p>");
    }

    private static IResult SignInAgain(HttpContext http, string slug, string requestId)
    {
        var t = PageText.Of(http);
        var signIn = $"/t/{slug}/login" + QueryString.Create("returnUrl", PagePath(slug) + QueryString.Create(RequestField, requestId));
        return HostedPage.Render(http, t["Sign in again"],
            $"<p class=\"error\" role=\"alert\" data-error=\"{HostedPage.Encode(Errors.LoginRequired)}\">{t.Html("This request needs you to have signed in within the last {0} minutes.", PresenceMaxAge.TotalMinutes.ToString("0", CultureInfo.InvariantCulture))}</p>" +
            $"<p>{t.Html("{0} and answer the request once more.", t.Link("Sign in again", signIn))}</p>",
            StatusCodes.Status409Conflict);
    }

    private static IResult Unavailable(HttpContext http)
    {
        var t = PageText.Of(http);
        return HostedPage.Unavailable(http, t["Answering agents' requests"]);
    }
}
