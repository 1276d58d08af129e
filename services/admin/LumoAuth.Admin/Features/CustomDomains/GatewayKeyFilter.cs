using System.Security.Cryptography;
using System.Text;
using LumoAuth.Contracts.Internal;
using LumoAuth.ServiceDefaults;
using LumoAuth.ServiceDefaults.Errors;
using Microsoft.Extensions.Options;

namespace LumoAuth.Admin.Features.CustomDomains;

/// <summary>Lets in the gateway's key (<c>LumoAuth:GatewayKey</c>) or the internal key, compared in constant time.</summary>
public sealed class GatewayKeyFilter(IOptions<LumoAuthOptions> options) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var headers = context.HttpContext.Request.Headers;
        var lumo = options.Value;
        return Matches(headers[InternalRoutes.GatewayKeyHeader].ToString(), lumo.GatewayKey)
               || Matches(headers[InternalRoutes.InternalKeyHeader].ToString(), lumo.InternalKey)
            ? next(context)
            : ValueTask.FromResult<object?>(ApiErrors.Create(StatusCodes.Status401Unauthorized, ErrorCodes.Unauthorized, "Invalid gateway key"));
    }

    private static bool Matches(string presented, string expected) =>
        presented.Length > 0 && expected.Length >= LumoAuthOptions.MinInternalKeyLength
        && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected));
}
