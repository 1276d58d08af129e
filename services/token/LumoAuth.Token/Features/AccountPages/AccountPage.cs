using System.Buffers;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Login;
using Microsoft.AspNetCore.Antiforgery;

namespace LumoAuth.Token.Features.AccountPages;

/// <summary>What every account page handler needs, bound with <c>[AsParameters]</c>.</summary>
public sealed record AccountPageServices(TenantContext Tenant, IAntiforgery Antiforgery, AccountLinkClient Links);

/// <summary>
/// What the pages behind e-mailed links share: the CSRF check, the token's shape, the "bad link" page and the
/// new-password fields. Rendering, branding and security headers are <see cref="HostedPage"/>'s.
/// </summary>
public static class AccountPage
{
    /// <summary>Admin's tokens are base64url; anything longer or odd is refused before admin is asked.</summary>
    public const int MaxTokenLength = 1000;

    private static readonly SearchValues<char> TokenAlphabet =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    public static bool IsWellFormedToken(string? token) =>
        token is { Length: > 0 and <= MaxTokenLength } && !token.AsSpan().ContainsAnyExcept(TokenAlphabet);

    /// <summary>
    /// The posted form of a page behind an e-mailed link and its link token, once both the CSRF token and the
    /// link token's shape check out; otherwise the page to answer with.
    /// </summary>
    public static async Task<(IFormCollection Form, string Token, IResult? Refusal)> ReadLinkFormAsync(
        HttpContext http, IAntiforgery antiforgery, Func<IResult> invalidLink)
    {
        if (await RefuseForgedFormAsync(http, antiforgery) is { } refused)
        {
            return (FormCollection.Empty, string.Empty, refused);
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var token = form["token"].ToString();
        return IsWellFormedToken(token) ? (form, token, null) : (form, string.Empty, invalidLink());
    }

    /// <summary>
    /// A one-button form of a signed-in account page: posts <c>action</c> (and <paramref name="fields"/>) with the CSRF token.
    /// </summary>
    public static string ActionForm(HttpContext http, IAntiforgery antiforgery, string path, string action, string label, params (string Name, string Value)[] fields)
    {
        var tokens = antiforgery.GetAndStoreTokens(http);
        return $"<form method=\"post\" action=\"{HostedPage.Encode(path)}\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) + HostedPage.Field("action", action) +
            string.Concat(fields.Select(f => HostedPage.Field(f.Name, f.Value))) +
            $"<button type=\"submit\">{HostedPage.Encode(label)}</button></form>";
    }

    /// <summary>Null when the form came from our page; otherwise the error page to answer with.</summary>
    public static async Task<IResult?> RefuseForgedFormAsync(HttpContext http, IAntiforgery antiforgery)
    {
        try
        {
            await antiforgery.ValidateRequestAsync(http);
            return null;
        }
        catch (AntiforgeryValidationException)
        {
            return HostedPage.Error(http, "invalid_request", "The form expired or did not come from this page. Reload it and try again.");
        }
    }

    /// <param name="retry">HTML (every value in it already encoded): how to get a link that works.</param>
    public static IResult InvalidLink(HttpContext http, string slug, string retry) =>
        HostedPage.Render(http, "This link does not work",
            "<p class=\"error\" role=\"alert\" data-error=\"invalid_token\">The link is invalid, has expired or was already used.</p>" +
            $"<p>{retry}</p>" + SignInLink(slug),
            StatusCodes.Status400BadRequest);

    public static IResult Unavailable(HttpContext http) =>
        HostedPage.Unavailable(http, "This");

    /// <summary>
    /// What every signed-in account page's form post checks first: the form came from our page, and a session is there.
    /// Either the user, their session and the form, or the answer to give instead (an error page, or to the sign-in page).
    /// </summary>
    public static async Task<(SignedInForm? Form, IResult? Refusal)> ReadSignedInFormAsync(HttpContext http, IAntiforgery antiforgery, string slug, string pagePath)
    {
        if (await RefuseForgedFormAsync(http, antiforgery) is { } forged)
        {
            return (null, forged);
        }

        if (await SessionCookie.SignedInAsync(http) is not var (userId, sessionId))
        {
            return (null, ToSignIn(slug, pagePath));
        }

        return (new SignedInForm(userId, sessionId, await http.Request.ReadFormAsync(http.RequestAborted)), null);
    }

    public sealed record SignedInForm(Guid UserId, string SessionId, IFormCollection Fields);

    /// <summary>A signed-in page asked for without a session: to the sign-in page, which comes back here.</summary>
    public static IResult ToSignIn(string slug, string pagePath) =>
        Results.Redirect($"/t/{slug}/login" + QueryString.Create("returnUrl", pagePath), permanent: false, preserveMethod: false);

    public static string SignInLink(string slug) => $"<p><a href=\"/t/{HostedPage.Encode(slug)}/login\">Sign in</a></p>";

    public static string Errors(IEnumerable<string> errors)
    {
        var items = string.Concat(errors.Select(e => $"<p>{HostedPage.Encode(e)}</p>"));
        return items.Length == 0 ? string.Empty : $"<div class=\"error\" role=\"alert\">{items}</div>";
    }

    /// <summary>Opens a POST form to <paramref name="action"/> with the CSRF field (and the link's token, carried in the body).</summary>
    public static string FormStart(HttpContext http, IAntiforgery antiforgery, string action, string? token)
    {
        var tokens = antiforgery.GetAndStoreTokens(http);
        return $"<form method=\"post\" action=\"{HostedPage.Encode(action)}\">" +
            HostedPage.Field(tokens.FormFieldName, tokens.RequestToken!) +
            (token is null ? string.Empty : HostedPage.Field("token", token));
    }

    /// <summary>
    /// A page asking for an address to mail a link to. Its answer is the same whether or not the address has an
    /// account (admin's is too), so it cannot be used to find out who is registered.
    /// </summary>
    public sealed record AddressRequest(string Title, string Intro, string Button, string Sent);

    public static IResult AddressForm(HttpContext http, AccountPageServices services, AddressRequest page, string action, string? email, string? error,
        int status = StatusCodes.Status200OK)
    {
        var body =
            Errors(error is null ? [] : [error]) +
            $"<p>{HostedPage.Encode(page.Intro)}</p>" +
            FormStart(http, services.Antiforgery, action, token: null) +
            $"<label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required value=\"{HostedPage.Encode(email)}\">" +
            $"<button type=\"submit\">{HostedPage.Encode(page.Button)}</button></form>" +
            SignInLink(services.Tenant.Slug);
        return HostedPage.Render(http, page.Title, body, status);
    }

    /// <summary>Reads the address, asks admin through <paramref name="request"/>, and answers with the one "sent" page.</summary>
    public static async Task<IResult> SubmitAddressAsync(
        HttpContext http, AccountPageServices services, AddressRequest page, string action,
        Func<Guid, string, CancellationToken, Task<LinkResult>> request)
    {
        if (await RefuseForgedFormAsync(http, services.Antiforgery) is { } refused)
        {
            return refused;
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var email = form["email"].ToString().Trim();
        if (email.Length is 0 or > 320)
        {
            return AddressForm(http, services, page, action, email, "Enter your email address.", StatusCodes.Status400BadRequest);
        }

        var result = await request(services.Tenant.TenantId, email, http.RequestAborted);
        return result.Outcome switch
        {
            LinkOutcome.Done => HostedPage.Render(http, "Check your email", $"<p>{HostedPage.Encode(page.Sent)}</p>" + SignInLink(services.Tenant.Slug)),
            // Only the address's shape is judged here, never whether it has an account.
            LinkOutcome.Invalid => AddressForm(http, services, page, action, email, "Enter a valid email address.", StatusCodes.Status400BadRequest),
            _ => Unavailable(http),
        };
    }

    /// <summary>The password to set, twice (<c>password</c> and <c>confirm</c>), so a typo does not lock the person out.</summary>
    public static string NewPasswordFields(string label) =>
        $"<label for=\"password\">{HostedPage.Encode(label)}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>" +
        "<label for=\"confirm\">Repeat it</label><input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required>";

    /// <summary>The page's own checks of the two password fields; admin applies the tenant's policy after.</summary>
    public static string? CheckNewPassword(string password, string confirm) =>
        password.Length == 0 ? "Enter a new password."
        : password.Length > 256 ? "The password is too long."
        : password != confirm ? "The two passwords are not the same."
        : null;

    public static IEnumerable<string> Describe(IReadOnlyList<(string Field, string Problem)> problems) =>
        problems.Count == 0
            ? ["The details are not valid."]
            : problems.Select(p => p.Field switch
            {
                "password" => "Password " + p.Problem + ".",
                "currentPassword" => "Current password " + p.Problem + ".",
                "name" => "Name " + p.Problem + ".",
                "givenName" => "Given name " + p.Problem + ".",
                "familyName" => "Family name " + p.Problem + ".",
                "email" => "Email " + p.Problem + ".",
                _ => "The details are not valid.",
            });
}
