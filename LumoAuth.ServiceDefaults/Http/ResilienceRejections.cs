using Polly;

namespace LumoAuth.ServiceDefaults.Http;

/// <summary>
/// Outermost handler of every <see cref="HttpClient"/>: a call the resilience pipeline refuses (circuit open, attempt or
/// total timeout) surfaces as the <see cref="HttpRequestException"/> an unavailable dependency means everywhere else, so
/// the callers' fallbacks (roles left out, last key set, 503) apply to it too instead of it escaping as a 500.
/// </summary>
public sealed class ResilienceRejections : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await base.SendAsync(request, cancellationToken);
        }
        catch (ExecutionRejectedException rejected)
        {
            throw new HttpRequestException($"{request.RequestUri?.Authority} is unavailable: {rejected.Message}", rejected);
        }
    }
}
