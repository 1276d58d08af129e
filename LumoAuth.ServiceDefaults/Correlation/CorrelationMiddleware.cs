using System.Buffers;
using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LumoAuth.ServiceDefaults.Correlation;

/// <summary>
/// Takes the caller's <c>X-Correlation-Id</c> (or the trace id) so one id follows a request through the
/// gateway and every service, is echoed back, and is in every log line's scope. A caller's own
/// <c>X-Request-ID</c> is echoed on the response as given (AuthZEN 1.0 §Request Identification).
/// </summary>
public sealed class CorrelationMiddleware(RequestDelegate next, ILogger<CorrelationMiddleware> logger)
{
    public const string HeaderName = "X-Correlation-Id";
    public const string RequestIdHeaderName = "X-Request-ID";
    public const int MaxRequestIdLength = 128;
    private const string ItemKey = "lumoauth.correlation-id";

    public async Task InvokeAsync(HttpContext context)
    {
        var id = Sanitize(context.Request.Headers[HeaderName].ToString())
                 ?? Activity.Current?.TraceId.ToHexString()
                 ?? context.TraceIdentifier;
        context.Items[ItemKey] = id;
        context.Request.Headers[HeaderName] = id;
        var requestId = RequestIdOf(context.Request);
        context.Response.OnStarting(static state =>
        {
            var (response, value, requestId) = ((HttpResponse, string, string?))state;
            response.Headers[HeaderName] = value;
            if (requestId is not null)
            {
                response.Headers[RequestIdHeaderName] = requestId;
            }

            return Task.CompletedTask;
        }, (context.Response, id, requestId));
        Activity.Current?.SetTag("lumoauth.correlation_id", id);

        var scope = new Dictionary<string, object> { ["CorrelationId"] = id };
        if (requestId is not null)
        {
            scope["CallerRequestId"] = requestId;
        }

        using (logger.BeginScope(scope))
        {
            await next(context);
        }
    }

    public static string? GetId(HttpContext context) =>
        context.Items.TryGetValue(ItemKey, out var value) ? value as string : null;

    // A caller-supplied id ends up in logs and headers: accept only short, plain tokens.
    private static readonly SearchValues<char> Plain =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:");

    private static string? Sanitize(string value) =>
        value.Length is > 0 and <= 128 && !value.AsSpan().ContainsAnyExcept(Plain) ? value : null;

    /// <summary>
    /// The caller's <c>X-Request-ID</c> when it is one value of visible ASCII (<c>!</c> to <c>~</c>) of at most 128
    /// characters, else null: the PEP's id is opaque (a UUID, a hash…), and anything else is ignored rather than echoed
    /// or logged, so a caller can neither bend the response's headers nor flood the logs with it.
    /// </summary>
    public static string? RequestIdOf(HttpRequest request) =>
        request.Headers[RequestIdHeaderName] is { Count: 1 } values && values[0] is { Length: > 0 and <= MaxRequestIdLength } value
        && !value.AsSpan().ContainsAnyExceptInRange('!', '~')
            ? value
            : null;
}
