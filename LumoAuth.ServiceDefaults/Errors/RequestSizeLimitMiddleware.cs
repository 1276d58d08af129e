using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace LumoAuth.ServiceDefaults.Errors;

/// <summary>
/// Bounds request bodies (<see cref="LumoAuthOptions.MaxRequestBodyBytes"/>): a declared length over the
/// limit is refused at once with 413; a chunked body is cut off by the server's own limit, which is set here.
/// </summary>
public sealed class RequestSizeLimitMiddleware(RequestDelegate next, IOptions<LumoAuthOptions> options)
{
    public Task InvokeAsync(HttpContext context)
    {
        var limit = options.Value.MaxRequestBodyBytes;
        if (context.Request.ContentLength > limit)
        {
            return ErrorWriter.WriteAsync(context, new ApiError("Request body too large", 413, ErrorCodes.PayloadTooLarge));
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }

        return next(context);
    }
}
