namespace LumoAuth.Token.Protocol;

/// <summary>
/// What every answer of the token service gets, whoever wrote it (our hosted pages, or OpenIddict's own HTML such as
/// the <c>form_post</c> page that carries a code): HSTS over HTTPS (RFC 6797 §7.2: never over plain HTTP), and for
/// HTML no framing (clickjacking) and no MIME sniffing. The hosted pages set a stricter policy of their own
/// (<c>HostedPage.ApplySecurityHeaders</c>), which is left as it is.
/// </summary>
public sealed class BrowserSecurityHeaders(RequestDelegate next)
{
    private const string Hsts = "max-age=31536000; includeSubDomains; preload";

    public Task InvokeAsync(HttpContext context)
    {
        context.Response.OnStarting(static state =>
        {
            var http = (HttpContext)state;
            var headers = http.Response.Headers;
            if (http.Request.IsHttps)
            {
                headers.StrictTransportSecurity = Hsts;
            }

            if (http.Response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true)
            {
                if (headers.ContentSecurityPolicy.Count == 0)
                {
                    // Only framing: OpenIddict's form_post page submits itself with an inline script.
                    headers.ContentSecurityPolicy = "frame-ancestors 'none'";
                }

                headers.XFrameOptions = "DENY";
                headers.XContentTypeOptions = "nosniff";
            }

            return Task.CompletedTask;
        }, context);
        return next(context);
    }
}
