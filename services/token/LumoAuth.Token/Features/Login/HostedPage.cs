using System.Text;
using LumoAuth.ServiceDefaults.Localization;
using LumoAuth.Token.Features.Branding;
using LumoAuth.Token.Features.Localization;

namespace LumoAuth.Token.Features.Login;

/// <summary>
/// Server-rendered HTML of the hosted pages: one small layout, every value HTML-encoded, and the security
/// headers every page carries (no framing, no sniffing, no caching, no referrer, scripts off), with the tenant's branding.
/// </summary>
public static class HostedPage
{
    private const string Css =
        "body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1b1b1f}" +
        "label{display:block;margin-top:1rem}input{width:100%;padding:.5rem;box-sizing:border-box}" +
        "button{margin-top:1.25rem;padding:.6rem 1.2rem}.error{color:#a4000f}ul{padding-inline-start:1.2rem}" +
        ".brand{text-align:center;margin-bottom:1rem}.brand-name{font-weight:600;margin:.25rem 0}" +
        ".languages{margin-top:2rem;text-align:center;font-size:.9rem}" +
        "fieldset{margin:1rem 0 0;border:1px solid #d4d4dc;border-radius:.25rem}.hint{font-size:.9rem;color:#55555f;margin:.25rem 0}";

    public static string Encode(string? value) => PageText.Encode(value);

    /// <param name="title">The page's heading, already in the page's language (<see cref="PageText"/>).</param>
    /// <param name="continuesTo">
    /// The client redirect URI the page's form may end up at: browsers apply <c>form-action</c> to every redirect
    /// after a form submission, so the client's origin must be allowed next to our own.
    /// </param>
    /// <param name="frameSources">Pages the page embeds (front-channel logout); their origins become its only frame sources.</param>
    /// <param name="scripts">The page loads our own scripts (passkeys), which may call back to us; nothing else ever runs.</param>
    /// <param name="image">An image the body shows besides the tenant's logo (a client's logo, already checked).</param>
    public static IResult Render(
        HttpContext http, string title, string body, int status = StatusCodes.Status200OK, string? continuesTo = null, IReadOnlyList<Uri>? frameSources = null,
        bool scripts = false, Uri? image = null) =>
        new BrandedPage(title, body, status, continuesTo, frameSources, scripts, image);

    /// <summary>Renders when executed, so every page gets its tenant's branding without each caller fetching it.</summary>
    private sealed class BrandedPage(string title, string body, int status, string? continuesTo, IReadOnlyList<Uri>? frameSources, bool scripts, Uri? image)
        : IResult, IStatusCodeHttpResult
    {
        public int? StatusCode => status;

        public async Task ExecuteAsync(HttpContext httpContext)
        {
            var branding = await PageBranding.ForRequestAsync(httpContext);
            var text = PageText.Of(httpContext);
            var language = text.Language;
            httpContext.Response.Headers.ContentLanguage = language;
            var images = image is null ? branding.LogoOrigin
                : branding.LogoOrigin is { } logo && logo != PageBranding.OriginOf(image) ? $"{logo} {PageBranding.OriginOf(image)}" : PageBranding.OriginOf(image);
            ApplySecurityHeaders(httpContext.Response, continuesTo, images, frameSources, scripts);
            var html = new StringBuilder()
                .Append("<!DOCTYPE html><html lang=\"").Append(language).Append('"').Append(LanguageTags.DirectionAttribute(language)).Append("><head><meta charset=\"utf-8\">")
                .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .Append("<title>").Append(Encode(title)).Append("</title><style>").Append(Css).Append(BrandCss(branding)).Append("</style></head><body>")
                .Append(BrandHeader(branding))
                .Append("<main><h1>").Append(Encode(title)).Append("</h1>")
                .Append(body)
                .Append("</main>")
                .Append(LanguageChoiceEndpoint.Links(httpContext, text))
                .Append("</body></html>")
                .ToString();
            await Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, status).ExecuteAsync(httpContext);
        }
    }

    // The colour is a checked hex value, never free text, so it cannot break out of the rule.
    private static string BrandCss(PageBranding branding) =>
        branding.PrimaryColor is { } colour ? $"h1{{color:{colour}}}button{{background:{colour};color:#fff;border:0;border-radius:4px}}" : string.Empty;

    private static string BrandHeader(PageBranding branding)
    {
        if (branding.DisplayName is null && branding.Logo is null)
        {
            return string.Empty;
        }

        var header = new StringBuilder("<header class=\"brand\">");
        if (branding.Logo is { } logo)
        {
            header.Append("<img class=\"logo\" src=\"").Append(Encode(logo.AbsoluteUri)).Append("\" alt=\"\" height=\"48\">");
        }

        if (branding.DisplayName is { } name)
        {
            header.Append("<p class=\"brand-name\">").Append(Encode(name)).Append("</p>");
        }

        return header.Append("</header>").ToString();
    }

    /// <summary>The page shown instead of redirecting when the request cannot be trusted to go back (RFC 9700 §4.1.1).</summary>
    /// <param name="description">What went wrong, already in the page's language.</param>
    public static IResult Error(HttpContext http, string error, string description, int status = StatusCodes.Status400BadRequest)
    {
        var t = PageText.Of(http);
        return Render(http, t["Something went wrong"],
            $"<p class=\"error\" role=\"alert\" data-error=\"{Encode(error)}\">{Encode(description)}</p>" +
            $"<p>{t.Html("Go back to the application and try again.")}</p>",
            status);
    }

    /// <summary>A service the page needs is out for the moment: nothing was changed, and the same step works again later.</summary>
    /// <param name="what">What is out, already in the page's language; sign-in when not said.</param>
    public static IResult Unavailable(HttpContext http, string? what = null)
    {
        var t = PageText.Of(http);
        return Error(http, "temporarily_unavailable", t.Format("{0} is unavailable right now. Try again in a moment.", what ?? t["Sign-in"]), StatusCodes.Status503ServiceUnavailable);
    }

    /// <param name="imageOrigin">The origins (space-separated CSP sources) of the page's only images: the tenant's logo, a client's.</param>
    public static void ApplySecurityHeaders(
        HttpResponse response, string? continuesTo = null, string? imageOrigin = null, IReadOnlyList<Uri>? frameSources = null, bool scripts = false)
    {
        var headers = response.Headers;
        var images = imageOrigin is null ? string.Empty : $"; img-src {imageOrigin}";
        var frames = frameSources is { Count: > 0 }
            ? "; frame-src " + string.Join(' ', frameSources.Select(f => f.GetLeftPart(UriPartial.Authority)).Distinct(StringComparer.Ordinal))
            : string.Empty;
        var ownScripts = scripts ? "; script-src 'self'; connect-src 'self'" : string.Empty;
        headers.ContentSecurityPolicy = $"default-src 'none'; style-src 'unsafe-inline'{images}{frames}{ownScripts}; form-action 'self'{FormTarget(continuesTo)}; frame-ancestors 'none'; base-uri 'none'";
        // X-Frame-Options and nosniff: BrowserSecurityHeaders, for every HTML answer of the service.
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-store";
        headers.Pragma = "no-cache";
    }

    // An origin (http/https) or a private-use scheme (native apps) as a CSP source; nothing for anything odd.
    private static string FormTarget(string? uri)
    {
        if (uri is null || !Uri.TryCreate(uri, UriKind.Absolute, out var parsed) || uri.Contains(';', StringComparison.Ordinal) || uri.Contains('\'', StringComparison.Ordinal))
        {
            return string.Empty;
        }

        return parsed.Scheme is "http" or "https" ? " " + parsed.GetLeftPart(UriPartial.Authority) : " " + parsed.Scheme + ":";
    }

    /// <summary>The second-factor field: a code from the authenticator app, or one of the user's backup codes.</summary>
    public static string SecondFactorInput(PageText t) => SecondFactorField(t["Code from your authenticator app, or a backup code"]);

    /// <summary>The second step's code field (TOTP, mailed code or backup code), under <paramref name="label"/> (already translated).</summary>
    public static string SecondFactorField(string label) =>
        $"<label for=\"totp\">{Encode(label)}</label>" +
        "<input id=\"totp\" name=\"totp\" autocomplete=\"one-time-code\" autocapitalize=\"characters\" spellcheck=\"false\" " +
        "pattern=\"[0-9]{6,8}|[A-Za-z2-7]{4}(-?[A-Za-z2-7]{4}){3}\" required>";

    /// <summary>A new TOTP secret as an enrolment shows it: the key to type and the link authenticator apps open.</summary>
    public static string TotpKey(PageText t, LumoAuth.Contracts.Internal.TotpEnrolmentOffer offer) =>
        $"<p>{t.Html("Key: {0}", new Markup($"<code data-totp-secret>{Encode(offer.Secret)}</code>"))}</p>" +
        $"<p>{t.Link("Open in your authenticator app", offer.OtpauthUri).Html}</p>";

    /// <summary>The first code of an enrolment (digits only: backup codes do not exist yet).</summary>
    public static string TotpCodeInput(PageText t) =>
        $"<label for=\"totp\">{t.Html("Code from your authenticator app")}</label>" +
        "<input id=\"totp\" name=\"totp\" autocomplete=\"one-time-code\" inputmode=\"numeric\" pattern=\"[0-9]{6}\" required>";

    /// <summary>Backup codes, shown once.</summary>
    public static string BackupCodeList(IEnumerable<string> codes) =>
        "<ul data-backup-codes>" + string.Concat(codes.Select(c => $"<li><code>{Encode(c)}</code></li>")) + "</ul>";

    public static string Field(string name, string value) =>
        $"<input type=\"hidden\" name=\"{Encode(name)}\" value=\"{Encode(value)}\">";
}
