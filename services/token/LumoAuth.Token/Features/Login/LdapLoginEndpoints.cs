using LumoAuth.Contracts.Internal;
using LumoAuth.Token.Features.Localization;
using Microsoft.AspNetCore.Antiforgery;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// Sign-in with an LDAP directory of the tenant (<c>/t/{slug}/login/ldap/{providerId}</c>, the login page's button for it):
/// the person types their directory name and password here, on the tenant's branded page; federation, which keeps the
/// directory's settings, asks the directory and gives the user it is linked to (made or found on the first sign-in). The
/// session then opens as after any outside sign-in: admin's checks and the user's second step. Failures count towards
/// the address's failed sign-ins like the password form's, so the page cannot be used to guess directory passwords.
/// </summary>
public static class LdapLoginEndpoints
{
    public static string PagePath(string slug, Guid providerId) => $"/t/{slug}/login/ldap/{providerId}";

    public static IEndpointRouteBuilder MapLdapLoginEndpoints(this IEndpointRouteBuilder app)
    {
        // Anonymous on purpose: this is where a browser signs in.
        app.MapGet("/t/{tenantSlug}/login/ldap/{providerId:guid}", ShowAsync).AllowAnonymous().ExcludeFromDescription().WithName("LdapLoginPage");
        app.MapPost("/t/{tenantSlug}/login/ldap/{providerId:guid}", SubmitAsync).AllowAnonymous().DisableAntiforgery().ExcludeFromDescription()
            .RequireRateLimiting(LoginEndpoints.RateLimitPolicy).WithName("LdapLoginSubmit");
        return app;
    }

    public static async Task<IResult> ShowAsync(HttpContext http, Guid providerId, string? returnUrl, [AsParameters] ExternalLoginEndpoints.ExternalLoginServices services)
    {
        var t = PageText.Of(http);
        if (returnUrl is not null && !LoginEndpoints.IsAuthorizeContinuation(returnUrl, services.Tenant.Slug))
        {
            return HostedPage.Error(http, "invalid_request", t["The sign-in link is not valid."]);
        }

        return await ProviderAsync(services, providerId, http.RequestAborted) is { } provider
            ? Form(http, services.Antiforgery, services.Tenant.Slug, provider, returnUrl, username: null, error: null)
            : NotOffered(http);
    }

    public static async Task<IResult> SubmitAsync(HttpContext http, Guid providerId, [AsParameters] ExternalLoginEndpoints.ExternalLoginServices services)
    {
        var t = PageText.Of(http);
        try
        {
            await services.Antiforgery.ValidateRequestAsync(http);
        }
        catch (AntiforgeryValidationException)
        {
            return HostedPage.Error(http, "invalid_request", t["The form expired or did not come from this page. Reload it and try again."]);
        }

        var slug = services.Tenant.Slug;
        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var returnUrl = form["returnUrl"].ToString() is { Length: > 0 } given ? given : null;
        if (returnUrl is not null && !LoginEndpoints.IsAuthorizeContinuation(returnUrl, slug))
        {
            return HostedPage.Error(http, "invalid_request", t["The sign-in link is not valid."]);
        }

        if (await ProviderAsync(services, providerId, http.RequestAborted) is not { } provider)
        {
            return NotOffered(http);
        }

        var username = form["username"].ToString().Trim();
        var password = form["password"].ToString();
        IResult Again(string error, int status) => Form(http, services.Antiforgery, slug, provider, returnUrl, username, error, status);
        if (username.Length is 0 or > 256 || password.Length is 0 or > 1024)
        {
            return Again(t["Enter your username and password."], StatusCodes.Status400BadRequest);
        }

        // Failures count against the address (as at the password form) and against the directory account, so guesses spread
        // over many addresses slow down too (and the directory's own lockout is not reached through us).
        var address = http.Connection.RemoteIpAddress?.ToString();
        var account = $"ldap:{providerId:N}:{LoginTicket.HashOf(username.ToLowerInvariant())[..32]}";
        if ((await services.Throttle.WaitAsync(services.Tenant.TenantId, address) ?? await services.Throttle.WaitAsync(services.Tenant.TenantId, account)) is { } wait)
        {
            return Again(t.Format("Too many failed sign-ins. Try again in {0}.", LoginEndpoints.AskToWait(t, http.Response, wait)), StatusCodes.Status429TooManyRequests);
        }

        var (user, refusal) = await services.Federation.LdapSignInAsync(new LdapSignInRequest(services.Tenant.TenantId, slug, providerId, username, password), http.RequestAborted);
        if (user is not null)
        {
            return await ExternalLoginEndpoints.SignInAsync(http, services, new ExternalLoginEndpoints.PendingExternal(user.UserId, user.ProviderName, returnUrl), totp: null);
        }

        switch (refusal)
        {
            case LdapSignInErrors.InvalidCredentials:
                await services.Throttle.RecordFailureAsync(services.Tenant.TenantId, address);
                await services.Throttle.RecordFailureAsync(services.Tenant.TenantId, account);
                return Again(t["The username or password is incorrect."], StatusCodes.Status401Unauthorized);
            case "not_found" or LdapSignInErrors.ProviderDisabled:
                return NotOffered(http);
            case ExternalUserErrors.SignupDisabled or ExternalUserErrors.AccountExists or ExternalUserErrors.EmailRequired or ExternalUserErrors.EmailUnverified:
                // Only someone who knows the directory password gets here.
                return Again(ExternalLoginEndpoints.Reason(t, refusal), refusal == ExternalUserErrors.AccountExists ? StatusCodes.Status409Conflict : StatusCodes.Status403Forbidden);
            default:
                return Again(t["The directory cannot be reached right now. Try again in a moment."], StatusCodes.Status503ServiceUnavailable);
        }
    }

    /// <summary>The tenant's enabled LDAP provider of that id, as the login page lists it.</summary>
    private static async Task<LoginProvider?> ProviderAsync(ExternalLoginEndpoints.ExternalLoginServices services, Guid providerId, CancellationToken cancellationToken) =>
        (await services.Federation.ProvidersAsync(services.Tenant.TenantId, cancellationToken)).FirstOrDefault(p => p.Id == providerId && p.Type == "ldap");

    private static IResult NotOffered(HttpContext http)
    {
        var t = PageText.Of(http);
        return HostedPage.Error(http, "invalid_request", t["This way of signing in is not available."], StatusCodes.Status404NotFound);
    }

    private static IResult Form(
        HttpContext http, IAntiforgery antiforgery, string slug, LoginProvider provider, string? returnUrl, string? username, string? error,
        int status = StatusCodes.Status200OK)
    {
        var t = PageText.Of(http);
        var tokens = antiforgery.GetAndStoreTokens(http);
        var body = new System.Text.StringBuilder();
        if (error is not null)
        {
            body.Append("<p class=\"error\" role=\"alert\">").Append(HostedPage.Encode(error)).Append("</p>");
        }

        var back = $"/t/{slug}/login" + (returnUrl is null ? string.Empty : QueryString.Create("returnUrl", returnUrl).Value);
        body.Append("<form method=\"post\" action=\"").Append(HostedPage.Encode(PagePath(slug, provider.Id))).Append("\">")
            .Append(HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!))
            .Append(returnUrl is null ? string.Empty : HostedPage.Field("returnUrl", returnUrl))
            .Append("<label for=\"username\">").Append(t.Html("Username")).Append("</label><input id=\"username\" name=\"username\" autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" required value=\"")
            .Append(HostedPage.Encode(username)).Append("\">")
            .Append("<label for=\"password\">").Append(t.Html("Password")).Append("</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>")
            .Append("<button type=\"submit\">").Append(t.Html("Sign in")).Append("</button></form>")
            .Append("<p>").Append(t.Link("Other ways to sign in", back).Html).Append("</p>");
        return HostedPage.Render(http, t.Format("Sign in with {0}", provider.Name), body.ToString(), status, LoginEndpoints.ClientRedirectOf(returnUrl));
    }
}
