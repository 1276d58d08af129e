using System.Security.Claims;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Localization;
using LumoAuth.Token.Features.Login;
using LumoAuth.Token.Features.Sessions;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace LumoAuth.Token.Features.Logout;

/// <summary>
/// RP-initiated logout, <c>/t/{slug}/api/v1/oauth/logout</c> (OpenID Connect RP-Initiated Logout 1.0).
/// OpenIddict has checked <c>id_token_hint</c> and that <c>post_logout_redirect_uri</c> is registered for the
/// client. With a valid hint the session ends at once; without one the user confirms first (a logout link
/// alone must not sign anybody out). Then the browser goes back to the client, with <c>state</c>, or sees a
/// signed-out page — by way of the outside SAML IdP the browser's session came from, when that IdP takes logout
/// requests (federation sends one, SAML SP-initiated single logout), so the person is signed out there too.
/// </summary>
public static class LogoutEndpoints
{
    private const string ConfirmField = "logout_confirmed";

    public static IEndpointRouteBuilder MapLogoutEndpoints(this IEndpointRouteBuilder app)
    {
        // Anonymous on purpose: ending one's own session needs no credential beyond the session cookie.
        app.MapMethods("/t/{tenantSlug}/api/v1/oauth/logout", [HttpMethods.Get, HttpMethods.Post], Logout)
            .AllowAnonymous().DisableAntiforgery().ExcludeFromDescription().WithName("OAuthLogout");
        return app;
    }

    public static async Task<IResult> Logout(
        HttpContext http, TenantContext tenant, IAntiforgery antiforgery, SessionRevocation revocation, FrontchannelLogout frontchannel, Data.TokenDbContext db,
        FederatedLogins federation)
    {
        var request = http.GetOpenIddictServerRequest();
        var t = PageText.Of(http);
        if (request is null)
        {
            return HostedPage.Error(http, Errors.InvalidRequest, t["The logout request is not valid."]);
        }

        // RP-Initiated Logout §2: the client may name the languages of the pages it sends the user through.
        PageLanguage.Prefer(http, request.UiLocales);
        t = PageText.Of(http);

        // OpenIddict has validated the hint when there is one; without it there is nobody it names.
        var hint = string.IsNullOrEmpty(request.IdTokenHint)
            ? null
            : (await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal;
        var confirmed = false;
        if (HttpMethods.IsPost(http.Request.Method) && http.Request.HasFormContentType
            && (await http.Request.ReadFormAsync(http.RequestAborted))[ConfirmField] == "yes")
        {
            try
            {
                await antiforgery.ValidateRequestAsync(http);
                confirmed = true;
            }
            catch (AntiforgeryValidationException)
            {
                return HostedPage.Error(http, Errors.InvalidRequest, t["The logout form expired. Try again."]);
            }
        }

        // Without a hint — or with one naming someone other than the signed-in user (someone else's token, sent by a page
        // that wants this browser signed out) — the user is asked (OIDC RP-Initiated Logout §2).
        var session = await http.AuthenticateAsync(SessionCookie.Scheme);
        var hintNamesTheUser = hint is not null && session.Principal?.GetClaim(Claims.Subject) is { } current && hint.GetClaim(Claims.Subject) == current;
        if (!confirmed && !hintNamesTheUser && session.Succeeded)
        {
            return ConfirmPage(http, tenant, antiforgery, request);
        }

        var frames = new List<Uri>();
        foreach (var (userId, sessionId) in SessionsToEnd(session, hint, confirmed || hintNamesTheUser))
        {
            await revocation.RevokeSessionAsync(userId, sessionId, SessionRevocation.Reasons.Logout, http.RequestAborted);
            frames.AddRange(await frontchannel.FramesAsync(sessionId, http.RequestAborted));
            // The SAML apps the session signed in to, told by federation's signed LogoutRequests.
            frames.AddRange(await federation.SamlAppFramesAsync(new LumoAuth.Contracts.Internal.SamlAppLogoutRequest(tenant.TenantId, tenant.Slug, sessionId), http.RequestAborted));
        }

        await http.SignOutAsync(SessionCookie.Scheme);
        var redirect = MayRedirect(request, hint);
        var atIdp = confirmed || hintNamesTheUser ? await SamlLogoutAsync(http, tenant, db, federation, Named(session.Principal), redirect ? ReturnUrl(request) : null) : null;
        if (frames.Count > 0)
        {
            return SignedOutWithFrames(http, frames, atIdp ?? (redirect ? ReturnUrl(request) : null));
        }

        if (atIdp is not null)
        {
            return Results.Redirect(atIdp);
        }

        if (!redirect)
        {
            return HostedPage.Render(http, t["You are signed out"], $"<p>{t.Html("You can close this window.")}</p>");
        }

        // OpenIddict redirects to the validated post_logout_redirect_uri and echoes state.
        return Results.SignOut(new AuthenticationProperties(), [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
    }

    /// <summary>
    /// When the browser's own session came from an outside SAML IdP: federation's page that ends the IdP's session too
    /// and then goes on to <paramref name="returnUrl"/>; else null.
    /// </summary>
    private static async Task<string?> SamlLogoutAsync(
        HttpContext http, TenantContext tenant, Data.TokenDbContext db, FederatedLogins federation, (Guid UserId, string SessionId)? own, string? returnUrl)
    {
        if (own is not { } ended)
        {
            return null;
        }

        var stored = await db.Sessions.AsNoTracking().Where(s => s.Id == ended.SessionId).Select(s => s.SamlSession).FirstOrDefaultAsync(http.RequestAborted);
        return stored is null || System.Text.Json.JsonSerializer.Deserialize<LumoAuth.Contracts.Internal.SamlIdpSession>(stored) is not { } idpSession
            ? null
            : await federation.SamlLogoutAsync(new LumoAuth.Contracts.Internal.SamlLogoutRequest(tenant.TenantId, tenant.Slug, idpSession, returnUrl), http.RequestAborted);
    }

    /// <summary>
    /// The browser's session, once the user confirmed or the hint named them; and the session the ID token hint names,
    /// when the browser is not signed in (idle, or another browser) or is signed in as the same user (perhaps in a newer
    /// session). A session's grants outlive the browser's idle timeout (SessionStore.AllowsGrantsAsync), so the client's
    /// logout must end the session it got its tokens in, not only the browser's current one.
    /// </summary>
    private static IEnumerable<(Guid UserId, string SessionId)> SessionsToEnd(AuthenticateResult session, ClaimsPrincipal? hint, bool userAgreed)
    {
        var browser = userAgreed ? Named(session.Principal) : null;
        if (browser is { } own)
        {
            yield return own;
        }

        if ((session.Principal is null || userAgreed && hint?.GetClaim(Claims.Subject) == session.Principal.GetClaim(Claims.Subject))
            && Named(hint) is { } hinted && hinted.SessionId != browser?.SessionId)
        {
            yield return hinted;
        }
    }

    private static (Guid UserId, string SessionId)? Named(ClaimsPrincipal? principal) =>
        principal is not null && Guid.TryParse(principal.GetClaim(Claims.Subject), out var userId)
        && principal.GetClaim(SessionCookie.SessionIdClaim) is { } sessionId
            ? (userId, sessionId)
            : null;

    /// <summary>
    /// The signed-out page that also signs the browser out of the session's clients (one iframe each), then goes on to
    /// the client's post-logout URI when there is one: the frames must load first, so no plain 302 here.
    /// </summary>
    private static IResult SignedOutWithFrames(HttpContext http, IReadOnlyList<Uri> frames, string? returnUrl)
    {
        var t = PageText.Of(http);
        var body = new System.Text.StringBuilder($"<p>{t.Html("You are signed out.")}</p>");
        foreach (var frame in frames)
        {
            body.Append("<iframe hidden title=\"").Append(t.Html("Signing out")).Append("\" src=\"").Append(HostedPage.Encode(frame.AbsoluteUri)).Append("\"></iframe>");
        }

        if (returnUrl is not null)
        {
            body.Append("<meta http-equiv=\"refresh\" content=\"2;url=").Append(HostedPage.Encode(returnUrl)).Append("\">")
                .Append("<p><a href=\"").Append(HostedPage.Encode(returnUrl)).Append("\">").Append(t.Html("Continue")).Append("</a></p>");
        }
        else
        {
            body.Append("<p>").Append(t.Html("You can close this window.")).Append("</p>");
        }

        return HostedPage.Render(http, t["You are signed out"], body.ToString(), frameSources: frames);
    }

    /// <summary>Where OpenIddict's own redirect would go: the validated post-logout URI with the client's state.</summary>
    private static string ReturnUrl(OpenIddictRequest request) =>
        string.IsNullOrEmpty(request.State)
            ? request.PostLogoutRedirectUri!
            : Microsoft.AspNetCore.WebUtilities.QueryHelpers.AddQueryString(request.PostLogoutRedirectUri!, "state", request.State);

    /// <summary>
    /// RP-Initiated Logout §3: a <c>post_logout_redirect_uri</c> is followed only when the request says which client
    /// it belongs to (an ID token hint or <c>client_id</c>, against whose registered URIs OpenIddict checked it);
    /// otherwise any client's registered URI would do, and the user stays on our page instead.
    /// </summary>
    private static bool MayRedirect(OpenIddictRequest request, ClaimsPrincipal? hint) =>
        !string.IsNullOrEmpty(request.PostLogoutRedirectUri) && (hint is not null || !string.IsNullOrEmpty(request.ClientId));

    private static IResult ConfirmPage(HttpContext http, TenantContext tenant, IAntiforgery antiforgery, OpenIddictRequest request)
    {
        var t = PageText.Of(http);
        var tokens = antiforgery.GetAndStoreTokens(http);
        var fields = string.Concat(request.GetParameters()
            .Where(p => p.Key != ConfirmField && (string?)p.Value is not null)
            .Select(p => HostedPage.Field(p.Key, (string)p.Value!)));
        var body =
            $"<p>{t.Html("Do you want to sign out?")}</p>" +
            $"<form method=\"post\" action=\"/t/{HostedPage.Encode(tenant.Slug)}/api/v1/oauth/logout\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) + fields +
            $"<button type=\"submit\" name=\"{ConfirmField}\" value=\"yes\">{t.Html("Sign out")}</button></form>";
        return HostedPage.Render(http, t["Sign out"], body, continuesTo: MayRedirect(request, null) ? request.PostLogoutRedirectUri : null);
    }
}
