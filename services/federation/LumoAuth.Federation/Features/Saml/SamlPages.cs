using System.Net;
using System.Security.Cryptography;

namespace LumoAuth.Federation.Features.Saml;

/// <summary>The few pages the SAML IdP shows a browser: the form that posts a response to the SP, and what went wrong.</summary>
public static class SamlPages
{
    /// <summary>
    /// The HTTP-POST binding (SAML Bindings §3.5.5.2): a form to the SP's ACS URL, submitted by a script (with a button
    /// when scripts are off). The page may post only there.
    /// </summary>
    public static IResult PostForm(HttpContext http, string acsUrl, string field, string value, string? relayState)
    {
        var nonce = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
        var relay = relayState is null ? string.Empty : $"<input type=\"hidden\" name=\"RelayState\" value=\"{WebUtility.HtmlEncode(relayState)}\">";
        var body = $"<form method=\"post\" action=\"{WebUtility.HtmlEncode(acsUrl)}\">"
                   + $"<input type=\"hidden\" name=\"{field}\" value=\"{WebUtility.HtmlEncode(value)}\">{relay}"
                   + "<noscript><p>Scripts are off in this browser: press the button to go on.</p><button type=\"submit\">Continue</button></noscript></form>"
                   + $"<script nonce=\"{nonce}\">document.forms[0].submit();</script>";
        // No form-action: browsers apply it to the redirects after the post, and many ACS URLs redirect to another host.
        // The page carries only encoded values and one script with a nonce.
        return Page(http, StatusCodes.Status200OK, "Signing you in…", body, $"script-src 'nonce-{nonce}'");
    }

    /// <summary>A request that cannot be answered to an SP (unknown SP, bad signature, …): said to the person, never posted anywhere.</summary>
    public static IResult Error(HttpContext http, int status, string message) =>
        Page(http, status, "Sign-in could not continue", $"<p>{WebUtility.HtmlEncode(message)}</p>", null);

    public static IResult SignedOut(HttpContext http) =>
        Page(http, StatusCodes.Status200OK, "You are signed out", "<p>You can close this window.</p>", null);

    /// <summary>
    /// Signed out here, and — one hidden iframe each — at the other apps the session signed in to (each frame carries our
    /// LogoutRequest to the app's logout URL; the page may frame only those origins); then on to <paramref name="continueUrl"/>
    /// after two seconds, or with the link.
    /// </summary>
    public static IResult SignedOutWithFrames(HttpContext http, IReadOnlyList<string> frames, string? continueUrl)
    {
        var body = new System.Text.StringBuilder("<p>You are signed out.</p>");
        foreach (var frame in frames)
        {
            body.Append("<iframe hidden title=\"Signing out\" src=\"").Append(WebUtility.HtmlEncode(frame)).Append("\"></iframe>");
        }

        body.Append(continueUrl is null
            ? "<p>You can close this window.</p>"
            : $"<meta http-equiv=\"refresh\" content=\"2;url={WebUtility.HtmlEncode(continueUrl)}\"><p><a href=\"{WebUtility.HtmlEncode(continueUrl)}\">Continue</a></p>");
        var origins = frames.Select(f => new Uri(f).GetLeftPart(UriPartial.Authority)).Distinct(StringComparer.Ordinal);
        return Page(http, StatusCodes.Status200OK, "You are signed out", body.ToString(), $"form-action 'none'; frame-src {string.Join(' ', origins)}");
    }

    /// <summary>Our session ended, the IdP's may not have: said, with the way on to the application when there is one.</summary>
    public static IResult SignedOutHereOnly(HttpContext http, string? returnUrl) =>
        Page(http, StatusCodes.Status200OK, "You are signed out here",
            "<p>Your identity provider did not confirm that it signed you out too. Close the browser to end its session.</p>"
            + (returnUrl is null ? string.Empty : $"<p><a href=\"{WebUtility.HtmlEncode(returnUrl)}\">Continue</a></p>"), null);

    private static IResult Page(HttpContext http, int status, string title, string body, string? policy)
    {
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.ContentSecurityPolicy =
            $"default-src 'none'; style-src 'unsafe-inline'; {policy ?? "form-action 'none'"}; frame-ancestors 'none'; base-uri 'none'";
        http.Response.Headers["Referrer-Policy"] = "no-referrer";
        var html = $"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{WebUtility.HtmlEncode(title)}</title></head>"
                   + $"<body><h1>{WebUtility.HtmlEncode(title)}</h1>{body}</body></html>";
        return Results.Content(html, "text/html; charset=utf-8", statusCode: status);
    }
}
