using System.Buffers;
using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LumoAuth.ServiceDefaults.Correlation;

/// <summary>
/// Takes the caller's <c>X-Correlation-Id</c> (or the trace id) so one id follows a request through the
/// gateway and every service, is echoed back, and is in every log line's scope.
/// </summary>
public sealed class CorrelationMiddleware(RequestDelegate next, ILogger<CorrelationMiddleware> logger)
{
    public const string HeaderName = "X-Correlation-Id";
    private const string ItemKey = "lumoauth.correlation-id";

    public async Task InvokeAsync(HttpContext context)
    {
        var id = Sanitize(context.Request.Headers[HeaderName].ToString())
                 ?? Activity.Current?.TraceId.ToHexString()
                 ?? context.TraceIdentifier;
        context.Items[ItemKey] = id;
        context.Request.Headers[HeaderName] = id;
        context.Response.OnStarting(static state =>
        {
            var (response, value) = ((HttpResponse, string))state;
            response.Headers[HeaderName] = value;
            return Task.CompletedTask;
        }, (context.Response, id));
        Activity.Current?.SetTag("lumoauth.correlation_id", id);

        using (logger.BeginScope(new Dictionary<string, object> { ["CorrelationId"] = id }))
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
}
