using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults.Security;
using LumoAuth.ServiceDefaults.Tenancy;
using LumoAuth.Token.Protocol;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace LumoAuth.Token.Features.Cors;

/// <summary>
/// CORS for browser-based clients (a SPA exchanging its code, refreshing, revoking, reading userinfo). An origin is
/// let in only where a client registered it in <c>allowedOrigins</c>: for a request that names its client
/// (<c>client_id</c> in the form, as public clients send it) that client's origins, otherwise (preflights, which
/// carry no body, and userinfo) those of any active client of the tenant. Credentials (cookies) are never allowed
/// cross-origin. Discovery and the key set are public documents and open to every origin. A request without an
/// <c>Origin</c> header (servers, the direct client-credentials path) passes untouched.
/// </summary>
public sealed class ClientCors(RequestDelegate next, ClientCache clients)
{
    private const int MaxAgeSeconds = 600;
    private static readonly PathString WellKnown = new("/.well-known");
    private static readonly PathString[] PostEndpoints = [new("/oauth/token"), new("/oauth/revoke")];
    private static readonly PathString UserInfo = new("/oauth/userinfo");

    public async Task InvokeAsync(HttpContext http, TenantContext tenantContext)
    {
        var request = http.Request;
        if (tenantContext.Tenant is not { } tenant || request.Headers.Origin is not [{ Length: > 0 } origin])
        {
            await next(http);
            return;
        }

        var preflight = HttpMethods.IsOptions(request.Method) && request.Headers.ContainsKey(HeaderNames.AccessControlRequestMethod);
        string methods;
        bool allowed;
        if (request.Path.StartsWithSegments(WellKnown, StringComparison.Ordinal))
        {
            (methods, allowed, origin) = ("GET", true, "*");
        }
        else if (PostEndpoints.Any(p => request.Path.Equals(p, StringComparison.Ordinal)))
        {
            methods = "POST";
            allowed = preflight ? await IsTenantOriginAsync(http, tenant, origin) : await IsClientOriginAsync(http, tenant, origin);
        }
        else if (request.Path.Equals(UserInfo, StringComparison.Ordinal))
        {
            methods = "GET, POST";
            allowed = await IsTenantOriginAsync(http, tenant, origin);
        }
        else
        {
            await next(http);
            return;
        }

        var headers = http.Response.Headers;
        headers.Append(HeaderNames.Vary, HeaderNames.Origin);
        if (preflight)
        {
            // Answered here: the endpoints behind know no OPTIONS. A refused origin gets no CORS headers, which the
            // browser reads as "no".
            if (allowed)
            {
                headers.AccessControlAllowOrigin = origin;
                headers.AccessControlAllowMethods = methods;
                headers.AccessControlAllowHeaders = $"Authorization, Content-Type, {DPoPProofValidator.HeaderName}";
                headers.AccessControlMaxAge = MaxAgeSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            http.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        if (allowed)
        {
            // Set when the answer starts: also on error answers, whose handlers may clear headers set earlier.
            http.Response.OnStarting(static state =>
            {
                var (response, allowedOrigin) = ((HttpResponse, string))state;
                response.Headers.AccessControlAllowOrigin = allowedOrigin;
                response.Headers.AccessControlExposeHeaders = $"{HeaderNames.WWWAuthenticate}, {DPoPProofValidator.NonceHeaderName}";
                if (!response.Headers.Vary.Contains(HeaderNames.Origin))
                {
                    response.Headers.Append(HeaderNames.Vary, HeaderNames.Origin);
                }

                return Task.CompletedTask;
            }, (http.Response, origin));
        }

        await next(http);
    }

    private async ValueTask<bool> IsTenantOriginAsync(HttpContext http, TenantInfo tenant, string origin) =>
        (await clients.TenantOriginsAsync(tenant, http.RequestAborted)).Contains(origin);

    private async ValueTask<bool> IsClientOriginAsync(HttpContext http, TenantInfo tenant, string origin)
    {
        StringValues clientId = default;
        if (http.Request.HasFormContentType)
        {
            try
            {
                // Buffered in the form feature: the endpoint reads the same form again.
                clientId = (await http.Request.ReadFormAsync(http.RequestAborted))["client_id"];
            }
            catch (Exception e) when (e is InvalidDataException or IOException or BadHttpRequestException)
            {
                return false; // the endpoint answers the malformed request; the browser need not read why
            }
        }

        if (clientId is not [{ Length: > 0 and <= 200 } id])
        {
            return await IsTenantOriginAsync(http, tenant, origin);
        }

        return await clients.GetAsync(tenant, id, http.RequestAborted) is { Application.IsActive: true } client
               && client.AllowedOrigins.Contains(origin);
    }
}
