using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LumoAuth.ServiceDefaults.Errors;

/// <summary>
/// Turns every failure that escapes a handler into the envelope: malformed bodies and binding
/// failures become 400, oversized bodies 413, a database deadlock or a row changed since it was read 409, a Redis or dependency outage 503, and anything else a 500 with only
/// a correlation id.
/// </summary>
public sealed partial class EnvelopeExceptionHandler(ILogger<EnvelopeExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (httpContext.Response.HasStarted)
        {
            return false;
        }

        var error = exception switch
        {
            BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } =>
                new ApiError("Request body too large", 413, ErrorCodes.PayloadTooLarge),
            BadHttpRequestException { StatusCode: StatusCodes.Status415UnsupportedMediaType } =>
                new ApiError("Unsupported content type; send application/json", 415, ErrorCodes.UnsupportedMediaType),
            BadHttpRequestException bad => new ApiError(DescribeBadRequest(bad), bad.StatusCode, ErrorCodes.InvalidRequest),
            // A form the framework could not read (a NUL in a value, a bad escape, too many values), a JSON number out of
            // range: the caller's input. The messages describe the input or a limit, nothing internal.
            InvalidDataException invalid => new ApiError($"The request could not be read: {invalid.Message}", 400, ErrorCodes.InvalidRequest),
            _ when UnstorableText(exception) =>
                new ApiError("The request contains text that cannot be stored (a NUL character or invalid UTF-8)", 400, ErrorCodes.InvalidRequest),
            // A deadlock, a serialization failure or a row changed since it was read, where the endpoint did not expect a
            // race: nothing was saved, and the same request again normally goes through.
            _ when DatabaseFailures.IsConcurrentChange(exception) =>
                new ApiError("The request met a concurrent change and was not applied; retry", 409, ErrorCodes.InvalidRequest),
            // A value longer than its column (22001) that validation let through: the caller's input, not our failure.
            _ when DatabaseFailures.SqlStateOf(exception) is "22001" =>
                new ApiError("A value in the request is longer than allowed", 400, ErrorCodes.InvalidRequest),
            // JSON text PostgreSQL will not take as jsonb (22P02: a lone surrogate escape such as "\ud800"), and System.Text.Json
            // refusing to read such a string, or a value of another kind, out of a raw body it had only checked for syntax.
            _ when DatabaseFailures.SqlStateOf(exception) is "22P02" || exception is InvalidOperationException { Source: "System.Text.Json.Rethrowable" } =>
                new ApiError("The request contains JSON text that cannot be read (for example an unpaired surrogate escape)", 400, ErrorCodes.InvalidRequest),
            // A row the write refers to (23503) was deleted meanwhile, or another request created the same unique row first
            // (23505), where the endpoint has no answer of its own.
            _ when DatabaseFailures.SqlStateOf(exception) is "23503" or "23505" =>
                new ApiError("The request met a concurrent change and was not applied; retry", 409, ErrorCodes.InvalidRequest),
            // Redis, or a service of ours, is out: the request could not finish its work, and repeating it later will.
            StackExchange.Redis.RedisException or StackExchange.Redis.RedisTimeoutException or DependencyUnavailableException =>
                new ApiError("A service this request needs is unavailable for the moment; try again", 503, ErrorCodes.ServiceUnavailable),
            OperationCanceledException when httpContext.RequestAborted.IsCancellationRequested =>
                new ApiError("Request cancelled", 499, ErrorCodes.InvalidRequest),
            _ => null,
        };

        // The tenant's log scope ended as the exception left the tenant middleware: these lines are opened in it again.
        using var tenantScope = httpContext.RequestServices?.GetService(typeof(LumoAuth.ServiceDefaults.Tenancy.TenantContext)) is
            LumoAuth.ServiceDefaults.Tenancy.TenantContext { Tenant: { } tenant }
            ? logger.BeginScope(new Dictionary<string, object> { ["TenantId"] = tenant.Id, ["TenantSlug"] = tenant.Slug })
            : null;
        if (error is { Status: 409 } && exception is not BadHttpRequestException)
        {
            // Usually two writers taking the same rows in opposite orders: worth fixing, so it is told.
            LogConcurrencyFailure(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
        }

        if (error is null)
        {
            LogUnhandled(logger, exception, httpContext.Request.Method, httpContext.Request.Path);
            error = new ApiError("An unexpected error occurred", 500, ErrorCodes.ServerError);
        }

        await ErrorWriter.WriteAsync(httpContext, error);
        return true;
    }

    /// <summary>
    /// PostgreSQL refuses NUL characters and invalid UTF-8 in text (SQLSTATE 22021, 22P05), and System.Text.Json refuses
    /// to decode invalid UTF-8 it had passed over unread (a raw <see cref="System.Text.Json.JsonElement"/> body): that is
    /// the caller's input, wherever in the request it was, not a failure of ours.
    /// </summary>
    private static bool UnstorableText(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is System.Data.Common.DbException { SqlState: "22021" or "22P05" } || e is System.Text.DecoderFallbackException)
            {
                return true;
            }
        }

        return false;
    }

    // Framework messages name parameters and types, which helps the caller and reveals nothing internal;
    // inner JSON exceptions carry the path of the bad property.
    private static string DescribeBadRequest(BadHttpRequestException bad) =>
        bad.InnerException is System.Text.Json.JsonException json
            ? $"Malformed JSON{(json.Path is { } path ? $" at {path}" : string.Empty)}"
            : bad.Message;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Concurrent change (deadlock, serialization failure or a row changed since read) for {Method} {Path}; answered 409")]
    private static partial void LogConcurrencyFailure(ILogger logger, Exception exception, string method, PathString path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, PathString path);
}

/// <summary>What a database failure says: its SQLSTATE, and whether another request changed the same rows at the same time.</summary>
public static class DatabaseFailures
{
    /// <summary>
    /// Chosen as a deadlock's victim (40P01), refused as a serialization failure (40001), or a row changed or gone since it
    /// was read (optimistic concurrency): nothing was saved, and the same work again normally goes through.
    /// </summary>
    public static bool IsConcurrentChange(Exception exception) =>
        SqlStateOf(exception) is "40P01" or "40001" || ChangedSinceRead(exception);

    /// <summary>
    /// EF Core's <c>DbUpdateConcurrencyException</c> or OpenIddict's <c>ConcurrencyException</c>, known by name: this
    /// library references neither.
    /// </summary>
    private static bool ChangedSinceRead(Exception exception)
    {
        for (var type = exception.GetType(); type is not null; type = type.BaseType)
        {
            if (type.FullName is "Microsoft.EntityFrameworkCore.DbUpdateConcurrencyException" or "OpenIddict.Abstractions.OpenIddictExceptions+ConcurrencyException")
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The SQLSTATE of the first database error in the chain (EF Core wraps the provider's), if any.</summary>
    public static string? SqlStateOf(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is System.Data.Common.DbException { SqlState: { } state })
            {
                return state;
            }
        }

        return null;
    }
}

/// <summary>Bodies for responses that framework middleware ends without one (404, 405, 415...).</summary>
public static class StatusCodeEnvelope
{
    public static Task WriteAsync(StatusCodeContext context)
    {
        var http = context.HttpContext;
        if (http.Response.HasStarted || http.Response.ContentLength > 0 || http.Response.ContentType is not null)
        {
            return Task.CompletedTask;
        }

        var error = http.Response.StatusCode switch
        {
            404 => new ApiError("No such route", 404, ErrorCodes.RouteNotFound),
            405 => new ApiError("Method not allowed on this route", 405, ErrorCodes.MethodNotAllowed),
            413 => new ApiError("Request body too large", 413, ErrorCodes.PayloadTooLarge),
            415 => new ApiError("Unsupported content type; send application/json", 415, ErrorCodes.UnsupportedMediaType),
            401 => new ApiError("Authentication required", 401, ErrorCodes.Unauthorized),
            403 => new ApiError("Not allowed", 403, ErrorCodes.PermissionDenied),
            429 => new ApiError("Rate limit exceeded", 429, ErrorCodes.RateLimitExceeded),
            var s when s >= 500 => new ApiError("The service failed to answer", s, ErrorCodes.ServerError),
            var s => new ApiError("Invalid request", s, ErrorCodes.InvalidRequest),
        };
        return ErrorWriter.WriteAsync(http, error);
    }
}
