using System.ComponentModel.DataAnnotations;
using System.Security.Cryptography;
using System.Text;
using LumoAuth.ServiceDefaults.Errors;

namespace LumoAuth.Admin.Security;

/// <summary>The platform operator's key for <c>/api/v1/tenants</c> (section <c>LumoAuth</c>).</summary>
public sealed class PlatformOptions
{
    public const string SectionName = "LumoAuth";

    [Required, MinLength(32)]
    public string PlatformKey { get; set; } = string.Empty;
}

/// <summary>Requires <c>X-Platform-Key</c> (or <c>Authorization: Bearer &lt;platform key&gt;</c>), compared in constant time.</summary>
public sealed class PlatformKeyFilter(Microsoft.Extensions.Options.IOptions<PlatformOptions> options) : IEndpointFilter
{
    public const string HeaderName = "X-Platform-Key";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var request = context.HttpContext.Request;
        var presented = request.Headers[HeaderName].ToString();
        if (presented.Length == 0 && request.Headers.Authorization.ToString() is { } auth && auth.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            presented = auth["Bearer ".Length..].Trim();
        }

        if (presented.Length == 0)
        {
            return ApiErrors.Create(401, ErrorCodes.Unauthorized, "Platform key required");
        }

        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(options.Value.PlatformKey)))
        {
            return ApiErrors.Create(401, ErrorCodes.Unauthorized, "Invalid platform key");
        }

        return await next(context);
    }
}
