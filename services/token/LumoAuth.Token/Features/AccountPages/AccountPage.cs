using System.Buffers;
using System.Globalization;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Features.Localization;
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
            var t = PageText.Of(http);
            return HostedPage.Error(http, "invalid_request", t["The form expired or did not come from this page. Reload it and try again."]);
        }
    }

    /// <param name="retry">HTML (every value in it already encoded, the words in the page's language): how to get a link that works.</param>
    public static IResult InvalidLink(HttpContext http, string slug, string retry)
    {
        var t = PageText.Of(http);
        return HostedPage.Render(http, t["This link does not work"],
            $"<p class=\"error\" role=\"alert\" data-error=\"invalid_token\">{t.Html("The link is invalid, has expired or was already used.")}</p>" +
            $"<p>{retry}</p>" + SignInLink(t, slug),
            StatusCodes.Status400BadRequest);
    }

    public static IResult Unavailable(HttpContext http)
    {
        var t = PageText.Of(http);
        return HostedPage.Unavailable(http, t["This"]);
    }

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

    public static string SignInLink(PageText t, string slug) => $"<p>{t.Link("Sign in", $"/t/{slug}/login").Html}</p>";

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
    /// <remarks>Every text is plain and already in the page's language.</remarks>
    public sealed record AddressRequest(string Title, string Intro, string Button, string Sent);

    public static IResult AddressForm(HttpContext http, AccountPageServices services, AddressRequest page, string action, string? email, string? error,
        int status = StatusCodes.Status200OK)
    {
        var t = PageText.Of(http);
        var body =
            Errors(error is null ? [] : [error]) +
            $"<p>{HostedPage.Encode(page.Intro)}</p>" +
            FormStart(http, services.Antiforgery, action, token: null) +
            $"<label for=\"email\">{t.Html("Email")}</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required value=\"{HostedPage.Encode(email)}\">" +
            $"<button type=\"submit\">{HostedPage.Encode(page.Button)}</button></form>" +
            SignInLink(t, services.Tenant.Slug);
        return HostedPage.Render(http, page.Title, body, status);
    }

    /// <summary>Reads the address, asks admin through <paramref name="request"/>, and answers with the one "sent" page.</summary>
    public static async Task<IResult> SubmitAddressAsync(
        HttpContext http, AccountPageServices services, AddressRequest page, string action,
        Func<Guid, string, string, CancellationToken, Task<LinkResult>> request)
    {
        if (await RefuseForgedFormAsync(http, services.Antiforgery) is { } refused)
        {
            return refused;
        }

        var t = PageText.Of(http);
        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var email = form["email"].ToString().Trim();
        if (email.Length is 0 or > 320)
        {
            return AddressForm(http, services, page, action, email, t["Enter your email address."], StatusCodes.Status400BadRequest);
        }

        var result = await request(services.Tenant.TenantId, email, t.Language, http.RequestAborted);
        return result.Outcome switch
        {
            LinkOutcome.Done => HostedPage.Render(http, t["Check your email"], $"<p>{HostedPage.Encode(page.Sent)}</p>" + SignInLink(t, services.Tenant.Slug)),
            // Only the address's shape is judged here, never whether it has an account.
            LinkOutcome.Invalid => AddressForm(http, services, page, action, email, t["Enter a valid email address."], StatusCodes.Status400BadRequest),
            _ => Unavailable(http),
        };
    }

    /// <summary>The password to set, twice (<c>password</c> and <c>confirm</c>), so a typo does not lock the person out.</summary>
    /// <param name="label">The first field's label, in the page's language.</param>
    public static string NewPasswordFields(PageText t, string label) =>
        $"<label for=\"password\">{HostedPage.Encode(label)}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>" +
        $"<label for=\"confirm\">{t.Html("Repeat it")}</label><input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required>";

    /// <summary>The page's own checks of the two password fields; admin applies the tenant's policy after.</summary>
    public static string? CheckNewPassword(PageText t, string password, string confirm) =>
        password.Length == 0 ? t["Enter a new password."]
        : password.Length > 256 ? t["The password is too long."]
        : password != confirm ? t["The two passwords are not the same."]
        : null;

    /// <summary>
    /// Admin's validation problems as sentences for the page. Admin writes each as an English predicate for its API
    /// ("must contain a number"); the ones it is known to send are translated here as whole sentences with their field, and
    /// any other shows as admin wrote it (in English), which still says more than a generic message.
    /// </summary>
    public static IEnumerable<string> Describe(PageText t, IReadOnlyList<(string Field, string Problem)> problems) =>
        problems.Count == 0
            ? [t["The details are not valid."]]
            : problems.Select(p => DescribeOne(t, p.Field, p.Problem));

    private static string DescribeOne(PageText t, string field, string problem) => (field, problem) switch
    {
        ("password", "is required") => t["Password is required."],
        ("password", _) when Count(problem, "must be at least ", " characters") is { } n => t.Format("Password must be at least {0} characters.", n),
        ("password", _) when Count(problem, "must be at most ", " characters") is { } n => t.Format("Password must be at most {0} characters.", n),
        ("password", "must contain an uppercase letter") => t["Password must contain an uppercase letter."],
        ("password", "must contain a lowercase letter") => t["Password must contain a lowercase letter."],
        ("password", "must contain a number") => t["Password must contain a number."],
        ("password", "must contain a symbol") => t["Password must contain a symbol."],
        ("password", "has appeared in a data breach; choose another") => t["Password has appeared in a data breach; choose another."],
        ("password", _) when Count(problem, "must differ from the last ", " passwords") is { } n => t.Format("Password must differ from the last {0} passwords.", n),
        ("password", "is kept by your organisation's directory: change it there") => t["Password is kept by your organisation's directory: change it there."],
        ("password", "was refused by your organisation's directory") => t["Password was refused by your organisation's directory."],
        ("password", _) => "Password " + problem + ".",
        ("currentPassword", "is not your current password") => t["Current password is not your current password."],
        ("currentPassword", "cannot be checked while the account is locked") => t["Current password cannot be checked while the account is locked."],
        ("currentPassword", "does not exist: this account has no password; set one with a reset link") =>
            t["Current password does not exist: this account has no password; set one with a reset link."],
        ("currentPassword", _) => "Current password " + problem + ".",
        ("name", _) when Count(problem, "must be at most ", " characters") is { } n => t.Format("Name must be at most {0} characters.", n),
        ("name", _) => "Name " + problem + ".",
        ("acceptedTerms", _) => t["Accept the terms of service to register."],
        ("givenName", _) when Count(problem, "must be at most ", " characters") is { } n => t.Format("Given name must be at most {0} characters.", n),
        ("givenName", _) => "Given name " + problem + ".",
        ("familyName", _) when Count(problem, "must be at most ", " characters") is { } n => t.Format("Family name must be at most {0} characters.", n),
        ("familyName", _) => "Family name " + problem + ".",
        ("email", "is required") => t["Email is required."],
        ("email", "must be a valid email address") => t["Email must be a valid email address."],
        ("email", _) => "Email " + problem + ".",
        // A declared attribute (admin checks again what the page checked), named as it is stored.
        (_, "is required") when field.StartsWith("attributes.", StringComparison.Ordinal) => t.Format("{0} is required.", field["attributes.".Length..]),
        (_, _) when field.StartsWith("attributes.", StringComparison.Ordinal) && Count(problem, "must be at most ", " characters") is { } n =>
            t.Format("{0} may have at most {1} characters.", field["attributes.".Length..], n),
        _ => t["The details are not valid."],
    };

    /// <summary>The number in one of admin's problems with a count ("must be at least 12 characters"), when it is that one.</summary>
    private static int? Count(string problem, string before, string after) =>
        problem.StartsWith(before, StringComparison.Ordinal) && problem.EndsWith(after, StringComparison.Ordinal)
        && problem.Length > before.Length + after.Length
        && int.TryParse(problem.AsSpan(before.Length, problem.Length - before.Length - after.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            ? count
            : null;
}
