namespace LumoAuth.Token.Protocol;

/// <summary>
/// Every redirect the token service sends is a 303 See Other: the browser follows it with a GET whatever the method of
/// the request that led there (a login form, an authorization or logout request sent by POST), so credentials and
/// form fields are never re-posted to a client's redirect URI (RFC 9700 §4.12). OpenIddict and ASP.NET Core write
/// 302; a redirect has no body, so its status can still be changed once the endpoint has run.
/// </summary>
public sealed class SeeOtherRedirects(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        await next(context);
        if (context.Response.StatusCode == StatusCodes.Status302Found && !context.Response.HasStarted)
        {
            context.Response.StatusCode = StatusCodes.Status303SeeOther;
        }
    }
}
