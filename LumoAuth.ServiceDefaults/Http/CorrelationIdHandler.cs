using LumoAuth.ServiceDefaults.Correlation;
using Microsoft.AspNetCore.Http;

namespace LumoAuth.ServiceDefaults.Http;

/// <summary>
/// Passes the current request's correlation id on to the service called, so one id follows a request through every
/// internal hop (and the events the callee records carry it, not its own trace id). Only on internal clients: relying
/// parties and webhook receivers are not told our ids. A call made outside a request (a consumer, a job) sends none.
/// </summary>
public sealed class CorrelationIdHandler(IHttpContextAccessor httpContextAccessor) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (!request.Headers.Contains(CorrelationMiddleware.HeaderName)
            && httpContextAccessor.HttpContext is { } context
            && CorrelationMiddleware.GetId(context) is { } id)
        {
            request.Headers.TryAddWithoutValidation(CorrelationMiddleware.HeaderName, id);
        }

        return base.SendAsync(request, cancellationToken);
    }
}
