using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;

namespace LumoAuth.ServiceDefaults.Errors;

/// <summary>The documented REST error envelope: <c>{error:true, message, status, code, details?}</c>.</summary>
public sealed record ApiError(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("status")] int Status,
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("details")]
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    object? Details = null)
{
    [JsonPropertyName("error")]
#pragma warning disable CA1822 // part of the wire shape, so an instance member
    public bool Error => true;
#pragma warning restore CA1822

    [JsonPropertyName("correlationId")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? CorrelationId { get; init; }
}

/// <summary>Error codes of the documented catalogue (inventory §8.2) plus the few we add.</summary>
public static class ErrorCodes
{
    public const string ValidationError = "validation_error";
    public const string InvalidRequest = "invalid_request";
    public const string ResourceNotFound = "resource_not_found";
    public const string DuplicateResource = "duplicate_resource";
    public const string TenantNotFound = "tenant_not_found";
    public const string TenantSuspended = "tenant_suspended";
    public const string TenantInOtherRegion = "tenant_in_other_region";
    public const string InvalidToken = "invalid_token";
    public const string Unauthorized = "unauthorized";
    public const string PermissionDenied = "permission_denied";
    public const string InsufficientScope = "insufficient_scope";
    public const string RateLimitExceeded = "rate_limit_exceeded";
    public const string PayloadTooLarge = "payload_too_large";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string MethodNotAllowed = "method_not_allowed";
    public const string RouteNotFound = "route_not_found";
    public const string ServerError = "server_error";
    public const string ServiceUnavailable = "service_unavailable";

    /// <summary>An <c>If-Match</c> precondition did not hold: the resource changed since it was read (412).</summary>
    public const string PreconditionFailed = "precondition_failed";
}

/// <summary>Typed results for the envelope, so handlers declare their error outcomes.</summary>
public static class ApiErrors
{
    public static IResult Create(int status, string code, string message, object? details = null) =>
        new ApiErrorResult(new ApiError(message, status, code, details));

    public static IResult Validation(IDictionary<string, string[]> details, string message = "Validation failed") =>
        Create(StatusCodes.Status400BadRequest, ErrorCodes.ValidationError, message, details);

    public static IResult Validation(string field, string problem) =>
        Validation(new Dictionary<string, string[]> { [field] = [problem] });

    public static IResult NotFound(string what = "Resource") =>
        Create(StatusCodes.Status404NotFound, ErrorCodes.ResourceNotFound, $"{what} not found");

    public static IResult Duplicate(string message) =>
        Create(StatusCodes.Status409Conflict, ErrorCodes.DuplicateResource, message);

    public static IResult BadRequest(string code, string message, object? details = null) =>
        Create(StatusCodes.Status400BadRequest, code, message, details);

    /// <summary>403 <c>insufficient_scope</c>: the change would reach an administrator's powers, so it needs a full admin write scope.</summary>
    /// <summary>Whether a user administers the tenant cannot be told right now (the authorization service is out): 503.</summary>
    public static IResult AdministeringUnknown() => Create(StatusCodes.Status503ServiceUnavailable, ErrorCodes.ServiceUnavailable,
        "The roles involved cannot be read right now; try again shortly");

    public static IResult NeedsFullWrite(string what) =>
        Create(StatusCodes.Status403Forbidden, ErrorCodes.InsufficientScope, $"{what} needs the admin:write scope");
}

/// <summary>Writes an <see cref="ApiError"/> as JSON, stamping the request's correlation id.</summary>
public sealed class ApiErrorResult(ApiError error) : IResult, IStatusCodeHttpResult, IValueHttpResult
{
    public ApiError Error { get; } = error;

    public int? StatusCode => Error.Status;

    public object? Value => Error;

    public Task ExecuteAsync(HttpContext httpContext) => ErrorWriter.WriteAsync(httpContext, Error);
}

public static class ErrorWriter
{
    public static async Task WriteAsync(HttpContext context, ApiError error)
    {
        var stamped = error with { CorrelationId = Correlation.CorrelationMiddleware.GetId(context) };
        context.Response.StatusCode = error.Status;
        context.Response.Headers.CacheControl = "no-store";
        if (IsScimPath(context.Request.Path))
        {
            // RFC 7644 §3.12: a SCIM client reads every error of the protocol in SCIM's own shape, including the
            // ones middleware raises before a SCIM handler runs (authentication, size limit, unknown route).
            var scim = ScimErrorBody.Create(error.Status, error.Status == 400 ? "invalidSyntax" : null, error.Message);
            await WriteBodyAsync(context, scim, "application/scim+json; charset=utf-8", stamped.CorrelationId);
            return;
        }

        if (IsOAuthPath(context.Request.Path))
        {
            // RFC 6749 §5.2 (inventory C-16: OAuth endpoints answer in OAuth's format): an OAuth client reads `error` as a
            // string, also from errors raised before the protocol handler runs (unknown tenant, size limit, rate limit).
            var oauth = new System.Text.Json.Nodes.JsonObject
            {
                ["error"] = OAuthErrorCode(error.Code),
                ["error_description"] = error.Message,
            };
            if (error.Status == StatusCodes.Status429TooManyRequests && int.TryParse(context.Response.Headers.RetryAfter, out var retryAfter))
            {
                oauth["retry_after"] = retryAfter;
            }

            await WriteBodyAsync(context, oauth, "application/json; charset=utf-8", stamped.CorrelationId);
            return;
        }

        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsJsonAsync(stamped, ErrorJson.Options, context.RequestAborted);
    }

    /// <summary>A protocol's own error shape (SCIM, OAuth), with the correlation id the envelope would carry.</summary>
    private static Task WriteBodyAsync(HttpContext context, System.Text.Json.Nodes.JsonObject body, string contentType, string? correlationId)
    {
        if (correlationId is not null)
        {
            body["correlationId"] = correlationId;
        }

        context.Response.ContentType = contentType;
        return context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    /// <summary>The OAuth 2.0 / OIDC protocol endpoints (token, introspection, revocation, PAR, device, CIBA, userinfo, registration) and AAuth's, which answer alike.</summary>
    public static bool IsOAuthPath(PathString path) =>
        path.Value is { } value && (value.Contains("/api/v1/oauth/", StringComparison.Ordinal) || value.Contains("/api/v1/connect/", StringComparison.Ordinal)
                                    || value.Contains("/api/v1/oidc/", StringComparison.Ordinal) || value.Contains("/api/v1/aauth/", StringComparison.Ordinal));

    /// <summary>
    /// The envelope's code as an OAuth error code: request-shape problems are RFC 6749's <c>invalid_request</c>, an
    /// unavailable dependency its <c>temporarily_unavailable</c>; the rest (e.g. <c>tenant_not_found</c>) are kept as
    /// extension codes, which clients treat as a generic failure with that name.
    /// </summary>
    private static string OAuthErrorCode(string code) => code switch
    {
        ErrorCodes.ValidationError or ErrorCodes.PayloadTooLarge or ErrorCodes.UnsupportedMediaType or ErrorCodes.MethodNotAllowed => ErrorCodes.InvalidRequest,
        ErrorCodes.ServiceUnavailable => "temporarily_unavailable",
        _ => code,
    };

    /// <summary>SCIM 2.0's base paths (ADM-70…92 and the <c>/scim2.0</c> mirror).</summary>
    public static bool IsScimPath(PathString path) =>
        path.Value is { } value && (value.Contains("/api/v1/scim/v2", StringComparison.Ordinal) || value.Contains("/api/v1/scim2.0", StringComparison.Ordinal));
}

internal static class ErrorJson
{
    public static readonly System.Text.Json.JsonSerializerOptions Options = new(System.Text.Json.JsonSerializerDefaults.Web);
}
