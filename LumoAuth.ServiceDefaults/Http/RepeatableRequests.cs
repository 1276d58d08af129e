using System.Net.Http.Json;
using Microsoft.Extensions.Http.Resilience;
using Polly;

namespace LumoAuth.ServiceDefaults.Http;

/// <summary>
/// Which calls the resilience pipeline may send again after a transient failure. RFC 9110 §9.2.2 allows automatic
/// retries of idempotent methods only: a POST whose first attempt timed out may still have been carried out, and a
/// second one would count one wrong password twice (<c>authenticate</c>), answer "already registered" to the user's own
/// registration, or text a code twice. A POST that only reads (<c>roles-of</c>, <c>api-keys/verify</c>) says so with
/// <see cref="PostJson{T}"/>.
/// </summary>
public static class RepeatableRequests
{
    private static readonly HttpRequestOptionsKey<bool> Repeatable = new("LumoAuth.Repeatable");

    /// <summary>A JSON POST that changes nothing at the receiver, so the pipeline may retry it like a GET.</summary>
    public static HttpRequestMessage PostJson<T>(string uri, T body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(uri, UriKind.RelativeOrAbsolute)) { Content = JsonContent.Create(body) };
        request.Options.Set(Repeatable, true);
        return request;
    }

    public static bool MayRepeat(HttpRequestMessage? request) =>
        request is not null
        && (IsIdempotent(request.Method) || (request.Options.TryGetValue(Repeatable, out var repeatable) && repeatable));

    /// <summary>Limits the standard handler's retries to <see cref="MayRepeat"/>; its other strategies apply to every call.</summary>
    public static void RetryOnlyWhatMayBeRepeated(HttpRetryStrategyOptions retry)
    {
        var isTransient = retry.ShouldHandle;
        retry.ShouldHandle = args => MayRepeat(args.Context.GetRequestMessage()) ? isTransient(args) : PredicateResult.False();
    }

    private static bool IsIdempotent(HttpMethod method) =>
        method == HttpMethod.Get || method == HttpMethod.Head || method == HttpMethod.Options || method == HttpMethod.Trace
        || method == HttpMethod.Put || method == HttpMethod.Delete;
}
